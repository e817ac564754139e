"""Text fields that a database can store and a caseworker can read: no NUL, no control characters.

PostgreSQL refuses NUL in text (a 500 if it got that far); other control characters only hide
what a record says. Names and codes are one line; notes may span lines.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must be one line of text without control characters")
    return value


def multi_line(value: str) -> str:
    if _CONTROL_BUT_LINES.search(value):
        raise ValueError("must be text without control characters (line breaks and tabs are allowed)")
    return value


SingleLine = Annotated[str, AfterValidator(single_line)]
MultiLine = Annotated[str, AfterValidator(multi_line)]
