"""Cursor pagination: a cursor comes back as the position it was made from, and a cursor the
service did not issue is a 422 problem, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.kit.errors import Unprocessable
from services.kit.pagination import Page, decode_cursor, encode_cursor


@pytest.mark.parametrize(
    "position",
    [
        {"after": "6f1c1d7e-5d0e-4f61-9a57-1b8e3b0f9d11"},
        {"created_at": "2018-04-01T00:00:00+00:00", "id": 42},
        {"town": "昌元街道", "after": 7},
        {},
    ],
)
def test_a_cursor_decodes_to_the_position_it_was_made_from(position: dict[str, Any]) -> None:
    cursor = encode_cursor(position)
    assert decode_cursor(cursor) == position


def test_a_cursor_is_url_safe_and_unpadded() -> None:
    cursor = encode_cursor({"after": "6f1c1d7e-5d0e-4f61-9a57-1b8e3b0f9d11", "town": "昌元街道"})
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_no_cursor_means_the_first_page() -> None:
    assert decode_cursor(None) is None


json_scalars = st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False, allow_infinity=False)
positions = st.dictionaries(
    st.text(), st.recursive(json_scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner))
)


@given(positions)
def test_any_position_survives_the_round_trip(position: dict[str, Any]) -> None:
    assert decode_cursor(encode_cursor(position)) == position


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor!",
        "%%%%",
        "eyJhZnRlciI6",  # a truncated cursor
        _b64(b"not json"),
        _b64(json.dumps([1, 2]).encode()),
        _b64(json.dumps("after").encode()),
        _b64(json.dumps(42).encode()),
        _b64(json.dumps(None).encode()),
        _b64(b"\xff\xfe\x00garbage"),
        "昌元街道",
    ],
)
def test_a_forged_cursor_is_unprocessable(cursor: str) -> None:
    with pytest.raises(Unprocessable) as raised:
        decode_cursor(cursor)
    assert raised.value.status == 422
    assert raised.value.slug == "invalid-cursor"


@given(st.text(max_size=200))
def test_any_string_either_decodes_to_a_position_or_is_unprocessable(cursor: str) -> None:
    try:
        position = decode_cursor(cursor)
    except Unprocessable:
        return
    assert isinstance(position, dict)


def test_a_deeply_nested_forged_cursor_is_unprocessable() -> None:
    with pytest.raises(Unprocessable):
        decode_cursor(_b64(b"[" * 100_000))


def test_a_page_carries_its_items_and_the_next_cursor() -> None:
    page = Page[int](items=[1, 2], next_cursor=encode_cursor({"after": 2}))
    assert page.model_dump() == {"items": [1, 2], "next_cursor": encode_cursor({"after": 2})}
    assert Page[int](items=[]).next_cursor is None


def test_cursor_position_reads_a_position_and_refuses_one_it_cannot_read() -> None:
    import uuid as _uuid

    from services.kit.pagination import cursor_position

    after = _uuid.uuid4()
    assert cursor_position(encode_cursor({"after": str(after)}), lambda p: _uuid.UUID(p["after"])) == after
    assert cursor_position(None, lambda p: _uuid.UUID(p["after"])) is None
    for forged in ({"before": "x"}, {"after": "not-a-uuid"}, {"after": 7}):
        with pytest.raises(Unprocessable):
            cursor_position(encode_cursor(forged), lambda p: _uuid.UUID(p["after"]))


def test_a_cursor_instant_must_carry_its_offset() -> None:
    from services.kit.pagination import cursor_instant, cursor_position

    read = lambda p: cursor_instant(p["created_at"])  # noqa: E731
    assert cursor_position(encode_cursor({"created_at": "2026-01-01T00:00:00+00:00"}), read) is not None
    with pytest.raises(Unprocessable):
        cursor_position(encode_cursor({"created_at": "2026-01-01T00:00:00"}), read)
