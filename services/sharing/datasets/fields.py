"""Field types agency records share, each failing with a message an agency can act on.

Messages never echo the value: they are stored and shown to readers who must not see more of an
id number than its masked form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, PlainValidator, StringConstraints, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from services.kit.identifiers import InvalidIdentifier, normalize_id_number
from services.kit.text import single_line

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_AREA_CODE = re.compile(r"^\d{6}$")


def _id_number(value: object) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("id_number", "a resident id number is a string of 18 characters")
    try:
        return normalize_id_number(value)
    except InvalidIdentifier as exc:
        raise PydanticCustomError("id_number", str(exc)) from None


def _iso_date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        raise PydanticCustomError("iso_date", "must be an ISO 8601 date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise PydanticCustomError("calendar_date", "is not a calendar date") from None


def _month(value: object) -> str:
    if not isinstance(value, str) or not _MONTH.match(value.strip()):
        raise PydanticCustomError("month", "must be a month written YYYY-MM")
    return value.strip()


def _area_code(value: object) -> str:
    if not isinstance(value, str) or not _AREA_CODE.match(value.strip()):
        raise PydanticCustomError("area_code", "must be a 6-digit administrative area code")
    return value.strip()


IdNumber = Annotated[
    str,
    PlainValidator(_id_number),
    WithJsonSchema({"type": "string", "minLength": 18, "maxLength": 18, "description": "GB 11643 id number"}),
]
IsoDate = Annotated[date, PlainValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})]
Month = Annotated[str, PlainValidator(_month), WithJsonSchema({"type": "string", "pattern": r"^\d{4}-\d{2}$"})]
AreaCode = Annotated[str, PlainValidator(_area_code), WithJsonSchema({"type": "string", "pattern": r"^\d{6}$"})]
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
