"""Typed fields every service validates the same way: resident id numbers (GB 11643), unified
social credit codes (GB 32100), months, instants and dataset codes. A bad value fails with a
message a caller can act on, which never echoes the value (it may be most of somebody's id number)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from contracts.fields import Month

from .identifiers import InvalidIdentifier, normalize_credit_code, normalize_id_number


def _id_number(value: object) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("id_number", "a resident id number is a string of 18 characters")
    try:
        return normalize_id_number(value)
    except InvalidIdentifier as exc:
        raise PydanticCustomError("id_number", str(exc)) from None


def _credit_code(value: object) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("credit_code", "a unified social credit code is a string of 18 characters")
    try:
        return normalize_credit_code(value)
    except InvalidIdentifier as exc:
        raise PydanticCustomError("credit_code", str(exc)) from None


IdNumber = Annotated[
    str,
    PlainValidator(_id_number),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 18,
            "maxLength": 18,
            "description": "Resident id number (GB 11643): 17 digits and a check character",
            "examples": ["500226199003150025"],
        }
    ),
]
CreditCode = Annotated[
    str,
    PlainValidator(_credit_code),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 18,
            "maxLength": 18,
            "description": "Unified social credit code (GB 32100)",
            "examples": ["91500226MA5U3P7X13"],
        }
    ),
]


def _in_utc(value: datetime) -> datetime:
    # An instant at the edge of the calendar (0001-01-01T00:00+14:00) has no UTC form: a 422, not a 500.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the instant lies outside the years 0001-9999 in UTC") from None


Instant = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""An instant with its UTC offset (a naive one is refused), held in UTC."""

DatasetCode = Annotated[str, Field(pattern=r"^[a-z_]{1,64}/[a-z_]{1,64}$", examples=["civil_affairs/dibao"])]
"""`agency/dataset`."""

__all__ = ["CreditCode", "DatasetCode", "IdNumber", "Instant", "Month"]
