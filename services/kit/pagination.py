"""Cursor pagination for every list: `limit` and an opaque `cursor`, answered with `next_cursor`.

A cursor is only base64 of JSON, so a caller can forge one: a list reads its position through a
`CursorPosition` model whose field types bound every value that reaches SQL (no NUL, no lone
surrogate, no integer beyond its column), and anything else is a 422."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict

from .errors import Unprocessable

ItemT = TypeVar("ItemT")
PositionT = TypeVar("PositionT")

LimitQuery = Annotated[int, Query(ge=1, le=500, description="Page size")]
CursorQuery = Annotated[str | None, Query(description="`next_cursor` of the previous page")]


class CursorPosition(BaseModel):
    """Base of a list's cursor position; read one with `cursor_position(cursor, Model.model_validate)`.
    A position of another list (other fields) is not this list's cursor."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """Decode a cursor from `encode_cursor`; a cursor that was not made by us is a 422."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()), parse_constant=_not_a_number)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Unprocessable("cursor is not one this service issued", slug="invalid-cursor") from None
    if not isinstance(position, dict):
        raise Unprocessable("cursor is not one this service issued", slug="invalid-cursor")
    return position


def cursor_position(cursor: str | None, read: Callable[[dict[str, Any]], PositionT]) -> PositionT | None:
    """Decode a cursor and `read` the position out of it (a `CursorPosition` model's `model_validate`);
    a cursor we did not issue is a 422."""
    position = decode_cursor(cursor)
    if position is None:
        return None
    try:
        return read(position)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError):  # ValidationError is a ValueError
        raise Unprocessable("cursor is not one this service issued", slug="invalid-cursor") from None


def cursor_instant(value: Any) -> datetime:
    """An instant stored in a cursor; a naive or malformed one makes the cursor unreadable."""
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError("cursor instant without a UTC offset")
    return instant
