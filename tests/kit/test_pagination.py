"""Cursor pagination: a cursor comes back as the position it was made from, and a cursor the
service did not issue (or one forged to carry NUL, surrogates, huge integers) is a 422 problem,
never a 500."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field, StrictInt

from services.kit.errors import Unprocessable
from services.kit.pagination import CursorPosition, Page, cursor_position, decode_cursor, encode_cursor
from services.kit.text import SingleLine


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
    st.text(max_size=10),
    st.recursive(
        json_scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=10,
    ),
    max_size=4,
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


class ThingsCursor(CursorPosition):
    """A list ordered by a name, then a year, then an id, like the services' lists."""

    name: SingleLine = Field(max_length=40)
    year: StrictInt = Field(ge=2000, le=2100)
    after: uuid.UUID


def read_things(cursor: str | None) -> ThingsCursor | None:
    return cursor_position(cursor, ThingsCursor.model_validate)


GOOD = {"name": "hiring_key_groups", "year": 2025, "after": "6f1c1d7e-5d0e-4f61-9a57-1b8e3b0f9d11"}


def test_cursor_position_reads_a_position_through_its_model() -> None:
    position = read_things(encode_cursor(GOOD))
    assert position == ThingsCursor(name="hiring_key_groups", year=2025, after=uuid.UUID(GOOD["after"]))
    assert read_things(None) is None


@pytest.mark.parametrize(
    "forged",
    [
        {**GOOD, "name": "hiring\x00key"},  # NUL: PostgreSQL refuses it in text
        {**GOOD, "name": "hiring\ud800"},  # a lone surrogate: not UTF-8
        {**GOOD, "name": "hiring\u202ekey"},
        {**GOOD, "name": "x" * 41},
        {**GOOD, "year": 2**63},  # beyond BIGINT
        {**GOOD, "year": 10**400},
        {**GOOD, "year": 2**31},  # beyond INTEGER
        {**GOOD, "year": True},  # a boolean is not a year
        {**GOOD, "year": 2025.0},
        {**GOOD, "year": "2025"},
        {**GOOD, "after": "not-a-uuid"},
        {**GOOD, "after": "6f1c1d7e-5d0e-4f61-9a57-1b8e3b0f9d1\x00"},
        {**GOOD, "after": 7},
        {**GOOD, "page": 2},  # a position of another list
        {"name": "x", "year": 2025},
        {},
    ],
)
def test_cursor_position_refuses_a_position_its_model_does_not_hold(forged: dict[str, Any]) -> None:
    with pytest.raises(Unprocessable) as raised:
        read_things(encode_cursor(forged))
    assert raised.value.slug == "invalid-cursor"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_cursor_holding_nan_or_infinity_is_unprocessable(constant: str) -> None:
    with pytest.raises(Unprocessable):
        decode_cursor(_b64(f'{{"name": "x", "year": {constant}}}'.encode()))


json_junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**30])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters() | st.characters(categories=["Cs"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@given(st.dictionaries(st.sampled_from(["name", "year", "after", "other"]), json_junk))
def test_any_forged_position_is_read_or_unprocessable_never_an_error(position: dict[str, Any]) -> None:
    try:
        read = read_things(encode_cursor(position))
    except Unprocessable:
        return
    assert read is not None and read.name.encode() and 2000 <= read.year <= 2100


def test_a_cursor_instant_must_carry_its_offset() -> None:
    from services.kit.pagination import cursor_instant

    read = lambda p: cursor_instant(p["created_at"])  # noqa: E731
    assert cursor_position(encode_cursor({"created_at": "2026-01-01T00:00:00+00:00"}), read) is not None
    with pytest.raises(Unprocessable):
        cursor_position(encode_cursor({"created_at": "2026-01-01T00:00:00"}), read)
