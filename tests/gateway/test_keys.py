"""API keys: random, hashed, recognisable by prefix; bearer header parsing."""

from __future__ import annotations

import hashlib

import pytest

from services.gateway.clients.auth import bearer_key
from services.gateway.clients.keys import hash_api_key, key_prefix, new_api_key


def test_keys_are_long_random_and_distinct() -> None:
    keys = {new_api_key() for _ in range(1000)}
    assert len(keys) == 1000
    for key in keys:
        assert key.startswith("rk_")
        # 32 random bytes, URL-safe base64: 43 characters after the mark.
        assert len(key) == 3 + 43


def test_hash_is_sha256_of_the_key_and_the_prefix_a_small_part_of_it() -> None:
    key = new_api_key()
    assert hash_api_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert key_prefix(key) == key[:11]


def test_a_chosen_key_shows_nothing_of_itself() -> None:
    assert key_prefix("my-operator-chosen-bootstrap-key") == "(chosen)"


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (b"Bearer rk_abc", "rk_abc"),
        (b"bearer rk_abc", "rk_abc"),
        (b"Bearer   rk_abc  ", "rk_abc"),
        (None, None),
        (b"", None),
        (b"Bearer", None),
        (b"Bearer ", None),
        (b"Basic dXNlcjpwYXNz", None),
        (b"rk_abc", None),
        (b"Bearer " + b"k" * 257, None),
    ],
)
def test_bearer_key_is_taken_from_the_authorization_header(header: bytes | None, key: str | None) -> None:
    assert bearer_key(header) == key
