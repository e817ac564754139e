"""Test data for the sharing tests: valid resident id numbers and credit codes, and broken variants of them."""

from __future__ import annotations

from services.kit.identifiers import CREDIT_ALPHABET, ID_CHECK, credit_check_character, id_check_character

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


def credit_code(organisation: str = "MA5U3P7X1") -> str:
    """A unified social credit code (GB 32100) of a Rongchang enterprise: `91`, the area code, a
    9-character organisation code and the right check character."""
    first17 = "91" + AREA + organisation
    return first17 + credit_check_character(first17)


def with_wrong_credit_check(valid: str) -> str:
    wrong = next(c for c in CREDIT_ALPHABET if c != valid[17])
    return valid[:17] + wrong
