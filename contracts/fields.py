"""Field types the payloads share. Pure pydantic: contracts import nothing of ours, and the kit's
typed fields (`services.kit.fields`) reuse these rather than repeat them."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
# ASCII digits and fullmatch: `\d` takes any script's digits and `$` also matches before a final newline.
_MONTH = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])")


def month(value: object) -> str:
    """A calendar month written `YYYY-MM` with ASCII digits, nothing before or after."""
    if isinstance(value, str) and _MONTH.fullmatch(value):
        return value
    raise PydanticCustomError("month", "must be a month written YYYY-MM")


Month = Annotated[
    str,
    PlainValidator(month),
    WithJsonSchema({"type": "string", "pattern": MONTH_PATTERN, "description": "A month, `YYYY-MM`"}),
]
