"""Text fields refuse NUL, control and format characters and lone surrogates; notes may span lines;
a month is `YYYY-MM` and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from contracts.fields import month
from services.kit.fields import Month
from services.kit.text import MultiLine, SingleLine, multi_line, shown, single_line
from tests.kit.hostile import HIDDEN

READABLE = [
    "刘晓梅",
    "荣昌夏布织造有限公司",
    "阿依古丽·买买提",  # the middle dot of minority names
    "次仁・多吉",  # the katakana middle dot some systems use instead
    "王\U000e0100芳",  # an ideographic variation selector (Mn) picks a glyph of a rare name
    "\ue000明",  # a private-use character of a rare-name font
    "Zhang San-Li",
    "张　三",  # an ideographic space
]


class Person(BaseModel):
    name: SingleLine
    note: MultiLine | None = None
    month: Month | None = None


@pytest.mark.parametrize("name", READABLE)
def test_ordinary_names_are_kept(name: str) -> None:
    assert single_line(name) == name
    assert multi_line(name) == name


@pytest.mark.parametrize("hidden", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_control_format_separator_and_surrogate_characters_are_refused(hidden: str) -> None:
    for where in (hidden + "张三", "张" + hidden + "三", "张三" + hidden):
        with pytest.raises(ValueError, match=f"U\\+{ord(hidden):04X}"):
            single_line(where)
        with pytest.raises(ValueError, match=f"U\\+{ord(hidden):04X}"):
            multi_line(where)
        with pytest.raises(ValidationError):
            Person(name=where)


def test_notes_may_span_lines_and_hold_tabs() -> None:
    assert multi_line("line one\nline two\r\n\tend") == "line one\nline two\r\n\tend"
    with pytest.raises(ValueError):
        single_line("two\nlines")
    with pytest.raises(ValueError):
        single_line("a\tb")


@given(st.text(alphabet=st.characters(categories=["L", "M", "N", "P", "S"]), min_size=1))
def test_text_of_letters_marks_numbers_punctuation_and_symbols_is_kept(text: str) -> None:
    assert single_line(text) == text


@given(st.text(), st.sampled_from(HIDDEN), st.text())
def test_a_hidden_character_anywhere_is_refused(before: str, hidden: str, after: str) -> None:
    with pytest.raises(ValueError):
        single_line(before + hidden + after)


@pytest.mark.parametrize("good", ["2025-01", "2018-12", "0001-01", "9999-09"])
def test_a_month_is_four_ascii_digits_a_dash_and_a_month_number(good: str) -> None:
    assert month(good) == good
    assert Person(name="x", month=good).month == good


@pytest.mark.parametrize(
    "bad",
    [
        "2025-01\n",  # Python's `$` matches before a final newline
        "2025-01\r\n",
        " 2025-01",
        "2025-1",
        "2025-13",
        "2025-00",
        "25-01",
        "2025-01-01",
        "２０２５-01",  # full-width digits: `\d` takes them
        "٢٠٢٥-01",  # Arabic-Indic digits
        "2025-01\x00",
        "2025\u201101",  # a non-breaking hyphen
        "",
    ],
)
def test_anything_else_is_not_a_month(bad: str) -> None:
    with pytest.raises(ValueError):
        month(bad)
    with pytest.raises(ValidationError):
        Person(name="x", month=bad)


def test_shown_escapes_what_a_reader_cannot_see_and_utf8_cannot_carry() -> None:
    assert shown("刘晓梅·x") == "刘晓梅·x"
    assert shown("a\x00b\u202ec\ud800") == "a\\x00b\\u202ec\\ud800"
    assert shown("a\ud800").encode("utf-8") == b"a\\ud800"


@given(st.text(alphabet=st.characters() | st.characters(categories=["Cs"])))
def test_shown_is_always_utf8(text: str) -> None:
    shown(text).encode("utf-8")
