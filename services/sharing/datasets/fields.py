"""Field types agency records share, each failing with a message an agency can act on. The typed
id numbers, credit codes and months are the kit's (`services.kit.fields`), never validated twice.

Messages never echo the value: they are stored and shown to readers who must not see more of an
id number than its masked form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainValidator, StringConstraints, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from services.kit.fields import CreditCode, IdNumber, Month
from services.kit.text import single_line

# ASCII digits and fullmatch throughout: `\d` takes any script's digits and `$` a final newline.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_AREA_CODE = re.compile(r"[0-9]{6}")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,19}")


def _iso_date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise PydanticCustomError("iso_date", "must be an ISO 8601 date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise PydanticCustomError("calendar_date", "is not a calendar date") from None


def _area_code(value: object) -> str:
    if not isinstance(value, str) or not _AREA_CODE.fullmatch(value.strip()):
        raise PydanticCustomError("area_code", "must be a 6-digit administrative area code")
    return value.strip()


def _whole_number(value: object) -> object:
    """A JSON integer, or a CSV cell of digits; never a boolean, a fraction or `1_000`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        return int(value.strip())
    raise PydanticCustomError("whole_number", "must be a whole number")


IsoDate = Annotated[date, PlainValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})]
AreaCode = Annotated[str, PlainValidator(_area_code), WithJsonSchema({"type": "string", "pattern": r"^[0-9]{6}$"})]
# Bounds go with each use: `Annotated[WholeNumber, Field(ge=0, le=...)]`.
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(single_line)
]


def not_before(start_field: str) -> Callable[[Any, date | None, ValidationInfo], date | None]:
    """A field validator: an end date may not precede `start_field` (skipped when that one failed)."""

    def check(cls: Any, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get(start_field)
        if end is not None and isinstance(start, date) and end < start:
            raise PydanticCustomError("date_order", "must not be before {start_field}", {"start_field": start_field})
        return end

    return check


__all__ = ["AreaCode", "CreditCode", "IdNumber", "IsoDate", "Month", "Text", "WholeNumber", "not_before"]
