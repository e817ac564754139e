"""API keys: generated with 256 bits of randomness, shown once, stored only as a hash.

SHA-256, unsalted, is the right hash here and a slow password hash (bcrypt, Argon2) is not: those
exist to make guessing a low-entropy password expensive, but a key of 256 random bits cannot be
guessed whatever the hash costs. A fast, deterministic hash lets the gateway find a client by a
unique index on the hash and costs about a microsecond on every request instead of tens of
milliseconds. The one key a person chooses, BOOTSTRAP_ADMIN_KEY, is checked for length at start-up.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_MARK = "rk_"
# "rk_" and 8 characters of the random part: enough to tell keys apart in a listing.
KEY_PREFIX_LENGTH = len(KEY_MARK) + 8
# Operator-chosen bootstrap keys shorter than this are accepted with a warning.
RECOMMENDED_MIN_KEY_LENGTH = 32
# Longer bearer tokens are refused without a lookup.
MAX_KEY_LENGTH = 256


def new_api_key() -> str:
    return KEY_MARK + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def key_prefix(api_key: str) -> str:
    """What a listing shows of a key. Of a key a person chose (the bootstrap key), nothing: its
    first characters could be a large part of its secret."""
    return api_key[:KEY_PREFIX_LENGTH] if api_key.startswith(KEY_MARK) else "(chosen)"
