"""Resident id numbers (GB 11643-1999) and unified social credit codes (GB 32100-2015):
validation, derived facts, masking, and the keyed references that stand in for them."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date
from typing import Literal

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")  # used with fullmatch: `$` would allow a final newline

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, S, V, Z
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_SHAPE = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}")


class InvalidIdentifier(ValueError):
    pass


def id_check_character(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def normalize_id_number(raw: str) -> str:
    """Return the canonical id number (upper-case X) or raise InvalidIdentifier saying why."""
    value = raw.strip().upper()
    if len(value) != 18:
        raise InvalidIdentifier(f"a resident id number has 18 characters, not {len(value)}")
    if not _ID_SHAPE.fullmatch(value):
        raise InvalidIdentifier("a resident id number is 17 digits followed by a digit or X")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdentifier("the birth date in the id number is not a calendar date") from None
    if born.year < 1900 or born > date.today():
        raise InvalidIdentifier("the birth date in the id number lies before 1900 or in the future")
    expected = id_check_character(value[:17])
    if value[17] != expected:
        raise InvalidIdentifier("the check character of the id number is wrong")
    return value


def birth_date_of(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def gender_of(id_number: str) -> Literal["male", "female"]:
    return "male" if int(id_number[16]) % 2 == 1 else "female"


def mask_id_number(id_number: str) -> str:
    """`500153********123X`: area code and the last four stay visible."""
    return id_number[:6] + "*" * 8 + id_number[14:]


def subject_ref(key: bytes, id_number: str) -> str:
    """The pseudonym that names a person on Kafka: HMAC-SHA256 under the shared subject key."""
    return hmac.new(key, id_number.encode(), hashlib.sha256).hexdigest()


def identity_name_digest(key: bytes, id_number: str, name: str) -> str:
    """HMAC-SHA256 of an id number and a name (NFC, surrounding space removed): what identity
    verification compares, never reversed; no name is kept."""
    normal = unicodedata.normalize("NFC", name.strip())
    message = b"identity-name\x00" + id_number.encode() + b"\x00" + normal.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def credit_check_character(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def normalize_credit_code(raw: str) -> str:
    value = raw.strip().upper()
    if len(value) != 18:
        raise InvalidIdentifier(f"a unified social credit code has 18 characters, not {len(value)}")
    if not _CREDIT_SHAPE.fullmatch(value):
        raise InvalidIdentifier("a unified social credit code uses digits and upper-case letters except I, O, S, V, Z")
    if value[17] != credit_check_character(value[:17]):
        raise InvalidIdentifier("the check character of the unified social credit code is wrong")
    return value
