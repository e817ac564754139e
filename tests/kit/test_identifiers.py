"""Resident id numbers (GB 11643) and unified social credit codes (GB 32100): the standards'
published examples pass, every kind of wrong input is refused, and the checksums catch what
they promise to catch."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.kit.identifiers import (
    CREDIT_ALPHABET,
    ID_CHECK,
    InvalidIdentifier,
    birth_date_of,
    credit_check_character,
    gender_of,
    id_check_character,
    mask_id_number,
    normalize_credit_code,
    normalize_id_number,
    subject_ref,
)

DIGITS = "0123456789"
# GB 11643-1999's worked example: Beijing Chaoyang 110105, born 1949-12-31, sequence 002 (female).
STANDARD_ID = "11010519491231002X"


def with_check(first17: str) -> str:
    return first17 + id_check_character(first17)


# --- GB 11643 resident id numbers -----------------------------------------------------------


def test_the_standards_published_example_is_valid() -> None:
    assert normalize_id_number(STANDARD_ID) == STANDARD_ID


def test_the_standards_other_example_has_a_valid_check_character_but_a_birth_year_out_of_range() -> None:
    # 440524188001010014 is GB 11643's second example (born 1880): its checksum is right, but the
    # registry refuses birth years before 1900 as no living applicant's.
    assert id_check_character("44052418800101001") == "4"
    with pytest.raises(InvalidIdentifier, match="before 1900 or in the future"):
        normalize_id_number("440524188001010014")


def test_the_check_character_follows_iso_7064_mod_11_2() -> None:
    # remainder 0..10 maps to 1 0 X 9 8 7 6 5 4 3 2, weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2.
    assert ID_CHECK == "10X98765432"
    assert id_check_character("11010519491231002") == "X"
    assert id_check_character("00000000000000000") == "1"  # remainder 0


@pytest.mark.parametrize("check", [c for c in ID_CHECK if c != "X"])
def test_a_wrong_check_character_is_refused(check: str) -> None:
    with pytest.raises(InvalidIdentifier, match="check character"):
        normalize_id_number(STANDARD_ID[:17] + check)


@pytest.mark.parametrize(
    "birth",
    [
        "20180230",  # 30 February
        "20190229",  # 29 February outside a leap year
        "20181301",  # month 13
        "20180001",  # month 0
        "20180100",  # day 0
        "20180431",  # 31 April
        "19000229",  # 1900 was not a leap year
    ],
)
def test_an_impossible_birth_date_is_refused_even_with_a_right_check_character(birth: str) -> None:
    with pytest.raises(InvalidIdentifier, match="not a calendar date"):
        normalize_id_number(with_check(f"500153{birth}123"))


def test_the_29th_of_february_of_a_leap_year_is_a_birth_date() -> None:
    assert birth_date_of(normalize_id_number(with_check("50015320000229123"))) == date(2000, 2, 29)


@pytest.mark.parametrize("birth", ["18991231", "29991231"])
def test_a_birth_date_before_1900_or_in_the_future_is_refused(birth: str) -> None:
    with pytest.raises(InvalidIdentifier, match="before 1900 or in the future"):
        normalize_id_number(with_check(f"500153{birth}123"))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "110105491231002",  # the old 15-digit form
        STANDARD_ID[:17],
        STANDARD_ID + "0",
        "1" + STANDARD_ID,
    ],
)
def test_a_wrong_length_is_refused(value: str) -> None:
    with pytest.raises(InvalidIdentifier, match="18 characters"):
        normalize_id_number(value)


@pytest.mark.parametrize(
    "value",
    [
        "1101051949123100XX",  # X only as the check character
        "11010519491231002Y",
        "A1010519491231002X",
        "110105-9491231002X",
        "11010519491231 02X",
    ],
)
def test_characters_other_than_digits_and_a_final_x_are_refused(value: str) -> None:
    with pytest.raises(InvalidIdentifier, match="17 digits"):
        normalize_id_number(value)


def test_a_lower_case_x_and_surrounding_spaces_are_normalized() -> None:
    assert normalize_id_number("11010519491231002x") == STANDARD_ID
    assert normalize_id_number("  11010519491231002x\n") == STANDARD_ID


@pytest.mark.parametrize(
    "value", ["１１０１０５１９４９１２３１００２X", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X"], ids=["full-width", "arabic-indic"]
)
def test_non_ascii_digits_are_refused(value: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalize_id_number(value)


def test_birth_date_and_gender_are_derived() -> None:
    assert birth_date_of(STANDARD_ID) == date(1949, 12, 31)
    assert gender_of(STANDARD_ID) == "female"  # sequence 002: even
    male = normalize_id_number(with_check("50015319800101123"))
    assert gender_of(male) == "male"  # sequence 123: odd
    assert birth_date_of(male) == date(1980, 1, 1)


def test_masking_keeps_the_area_code_and_the_last_four() -> None:
    assert mask_id_number(STANDARD_ID) == "110105********002X"
    assert mask_id_number(with_check("50015319800101123")).startswith("500153********123")


def test_subject_ref_is_a_keyed_hmac_that_hides_the_id_number() -> None:
    ref = subject_ref(b"key-one", STANDARD_ID)
    assert len(ref) == 64 and int(ref, 16) >= 0
    assert ref == subject_ref(b"key-one", STANDARD_ID)
    assert ref != subject_ref(b"key-two", STANDARD_ID)
    assert STANDARD_ID not in ref and STANDARD_ID[6:14] not in ref


area_codes = st.text(alphabet=DIGITS, min_size=6, max_size=6)
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date.today())
sequences = st.text(alphabet=DIGITS, min_size=3, max_size=3)
first17s = st.builds(lambda area, born, seq: f"{area}{born:%Y%m%d}{seq}", area_codes, birth_dates, sequences)


@given(first17s)
def test_any_17_digits_with_a_calendar_date_and_their_check_character_validate(first17: str) -> None:
    id_number = with_check(first17)
    assert normalize_id_number(id_number) == id_number
    assert normalize_id_number(id_number.lower()) == id_number


@given(area_codes, birth_dates, sequences)
def test_birth_date_and_gender_come_from_the_number(area: str, born: date, seq: str) -> None:
    id_number = normalize_id_number(with_check(f"{area}{born:%Y%m%d}{seq}"))
    assert birth_date_of(id_number) == born
    assert gender_of(id_number) == ("male" if int(seq[2]) % 2 else "female")


@given(first17s, st.sampled_from(ID_CHECK))
def test_changing_the_check_character_invalidates(first17: str, check: str) -> None:
    assume(check != id_check_character(first17))
    with pytest.raises(InvalidIdentifier, match="check character"):
        normalize_id_number(first17 + check)


@given(first17s, st.integers(0, 16), st.sampled_from(DIGITS))
def test_every_single_digit_substitution_is_detected(first17: str, position: int, digit: str) -> None:
    assume(first17[position] != digit)
    id_number = with_check(first17)
    altered = first17[:position] + digit + first17[position + 1 :]
    assert id_check_character(altered) != id_check_character(first17)
    with pytest.raises(InvalidIdentifier):
        normalize_id_number(altered + id_number[17])


@given(first17s, st.integers(0, 15))
def test_every_adjacent_transposition_is_detected(first17: str, position: int) -> None:
    assume(first17[position] != first17[position + 1])
    swapped = first17[:position] + first17[position + 1] + first17[position] + first17[position + 2 :]
    assert id_check_character(swapped) != id_check_character(first17)


@given(first17s)
def test_a_masked_number_shows_neither_the_birth_date_nor_the_sequence_in_full(first17: str) -> None:
    id_number = with_check(first17)
    masked = mask_id_number(id_number)
    assert len(masked) == 18
    assert masked == id_number[:6] + "********" + id_number[14:]
    assert id_number not in masked


# --- GB 32100 unified social credit codes ------------------------------------------------------

STANDARD_CREDIT_CODE = "91350100M000100Y43"  # GB 32100-2015's example
# Codes printed on the business licences of well-known companies; each check character verified by
# computing it from the standard's weights (a code mistyped here would pass by chance once in 31).
PUBLISHED_CREDIT_CODES = [
    "914403001922038216",
    "91330100716105852F",
    "91110000802100433B",
    "91110108551385082Q",
    "9144030071526726XG",
    "91440300708461136T",
]


@pytest.mark.parametrize("code", [STANDARD_CREDIT_CODE, *PUBLISHED_CREDIT_CODES])
def test_published_credit_codes_are_valid(code: str) -> None:
    assert normalize_credit_code(code) == code


def test_the_credit_code_check_character_follows_gb_32100() -> None:
    # Weights 3^i mod 31; check = 31 - (sum mod 31), 31 written as 0.
    assert credit_check_character("91350100M000100Y4") == "3"
    assert credit_check_character("00000000000000000") == "0"
    assert "I" not in CREDIT_ALPHABET and len(CREDIT_ALPHABET) == 31


@pytest.mark.parametrize("check", [c for c in CREDIT_ALPHABET if c != "3"])
def test_a_wrong_credit_code_check_character_is_refused(check: str) -> None:
    with pytest.raises(InvalidIdentifier, match="check character"):
        normalize_credit_code(STANDARD_CREDIT_CODE[:17] + check)


@pytest.mark.parametrize("letter", list("IOSVZ"))
@pytest.mark.parametrize("position", [0, 1, 8, 12, 16, 17])
def test_the_forbidden_letters_i_o_s_v_z_are_refused(letter: str, position: int) -> None:
    code = STANDARD_CREDIT_CODE[:position] + letter + STANDARD_CREDIT_CODE[position + 1 :]
    with pytest.raises(InvalidIdentifier, match="except I, O, S, V, Z"):
        normalize_credit_code(code)


def test_the_administrative_division_code_must_be_digits() -> None:
    first17 = "91AB0100M000100Y4"
    with pytest.raises(InvalidIdentifier, match="except I, O, S, V, Z"):
        normalize_credit_code(first17 + credit_check_character(first17))


@pytest.mark.parametrize("value", ["", STANDARD_CREDIT_CODE[:17], STANDARD_CREDIT_CODE + "0", "350100M00010"])
def test_a_credit_code_of_the_wrong_length_is_refused(value: str) -> None:
    with pytest.raises(InvalidIdentifier, match="18 characters"):
        normalize_credit_code(value)


def test_a_lower_case_credit_code_is_normalized() -> None:
    assert normalize_credit_code(" 91350100m000100y43 ") == STANDARD_CREDIT_CODE


def test_a_credit_code_with_non_ascii_digits_is_refused_as_invalid() -> None:
    with pytest.raises(InvalidIdentifier):
        normalize_credit_code("91３50100M000100Y43")


credit_chars = st.sampled_from(CREDIT_ALPHABET)
credit_first17s = st.builds(
    lambda head, division, body: "".join(head) + "".join(division) + "".join(body),
    st.lists(credit_chars, min_size=2, max_size=2),
    st.lists(st.sampled_from(DIGITS), min_size=6, max_size=6),
    st.lists(credit_chars, min_size=9, max_size=9),
)


@given(credit_first17s)
def test_any_well_shaped_credit_code_with_its_check_character_validates(first17: str) -> None:
    code = first17 + credit_check_character(first17)
    assert normalize_credit_code(code) == code
    assert normalize_credit_code(code.lower()) == code


@given(credit_first17s, credit_chars)
def test_changing_the_credit_code_check_character_invalidates(first17: str, check: str) -> None:
    assume(check != credit_check_character(first17))
    with pytest.raises(InvalidIdentifier, match="check character"):
        normalize_credit_code(first17 + check)


@given(credit_first17s, st.integers(0, 16), st.data())
def test_every_single_character_substitution_in_a_credit_code_is_detected(
    first17: str, position: int, data: st.DataObject
) -> None:
    alphabet = DIGITS if 2 <= position <= 7 else CREDIT_ALPHABET
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != first17[position]]))
    altered = first17[:position] + replacement + first17[position + 1 :]
    assert credit_check_character(altered) != credit_check_character(first17)
    with pytest.raises(InvalidIdentifier, match="check character"):
        normalize_credit_code(altered + credit_check_character(first17))


@given(credit_first17s, st.integers(0, 17), st.sampled_from("IOSVZ"))
def test_a_forbidden_letter_anywhere_is_refused(first17: str, position: int, letter: str) -> None:
    code = first17 + credit_check_character(first17)
    with pytest.raises(InvalidIdentifier):
        normalize_credit_code(code[:position] + letter + code[position + 1 :])
