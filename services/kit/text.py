"""Text fields that a database can store and a caseworker can read.

PostgreSQL refuses NUL in text and UTF-8 cannot carry a lone surrogate (either was a 500 once it
got that far); control and format characters (direction overrides, zero-width marks, line and
paragraph separators) only hide or reorder what a record says. Names and codes are one line;
notes may span lines. Everything else is kept: CJK names, the middle dot of minority names
(阿依古丽·买买提), ideographic variation selectors, private-use characters of rare-name fonts.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# Cc control, Cf format (U+200E/F marks, U+202A-E embeddings and overrides, U+2066-9 isolates,
# zero-width characters, U+FEFF), Cs surrogate, Zl line separator, Zp paragraph separator.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_LINE_BREAKS = frozenset("\n\r\t")
_NOTHING = frozenset[str]()


def _first_hidden(value: str, allowed: frozenset[str]) -> str | None:
    if value.isprintable():  # the common case; isprintable() is False for every hidden category
        return None
    return next((c for c in value if c not in allowed and unicodedata.category(c) in _HIDDEN_CATEGORIES), None)


def _where(value: str, hidden: str) -> str:
    return f"U+{ord(hidden):04X} at position {value.index(hidden)}"


def single_line(value: str) -> str:
    hidden = _first_hidden(value, _NOTHING)
    if hidden is not None:
        raise ValueError(f"must be one line of text without control or format characters ({_where(value, hidden)})")
    return value


def multi_line(value: str) -> str:
    hidden = _first_hidden(value, _LINE_BREAKS)
    if hidden is not None:
        raise ValueError(
            "must be text without control or format characters; line breaks and tabs are allowed "
            f"({_where(value, hidden)})"
        )
    return value


def shown(value: str) -> str:
    """`value` safe to echo in a problem: every character a reader cannot see (and a lone surrogate,
    which UTF-8 cannot carry) written as its escape."""
    if value.isprintable():
        return value
    return "".join(
        c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in _HIDDEN_CATEGORIES else c
        for c in value
    )


SingleLine = Annotated[str, AfterValidator(single_line)]
MultiLine = Annotated[str, AfterValidator(multi_line)]
