"""Test data for the sharing tests: valid resident id numbers and broken variants of them."""

from __future__ import annotations

from services.kit.identifiers import ID_CHECK, id_check_character

AREA = "500153"  # 荣昌区


def id_number(birth: str = "19900101", sequence: str = "123", area: str = AREA) -> str:
    first17 = area + birth + sequence
    return first17 + id_check_character(first17)


def with_wrong_check(valid: str) -> str:
    wrong = next(c for c in ID_CHECK if c != valid[17])
    return valid[:17] + wrong


def with_impossible_birth_date(birth: str = "19900230", sequence: str = "321") -> str:
    """An id number whose birth date is not a calendar date but whose check character is right."""
    first17 = AREA + birth + sequence
    return first17 + id_check_character(first17)
