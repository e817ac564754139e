"""Cursor pagination for every list: `limit` and an opaque `cursor`, answered with `next_cursor`.
Every list pages through `paginate` (keyset: `WHERE (keys) > (cursor's keys) ORDER BY keys`).

A cursor is only base64 of JSON, so a caller can forge one: a list reads its position through a
`CursorPosition` model whose field types bound every value that reaches SQL (no NUL, no lone
surrogate, no integer beyond its column), and anything else is a 422."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Row, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped

from .errors import InvalidCursor

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
        raise InvalidCursor("cursor is not one this service issued") from None
    if not isinstance(position, dict):
        raise InvalidCursor("cursor is not one this service issued")
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
        raise InvalidCursor("cursor is not one this service issued") from None


def cursor_instant(value: Any) -> datetime:
    """An instant stored in a cursor; a naive or malformed one makes the cursor unreadable."""
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError("cursor instant without a UTC offset")
    return instant


async def paginate(
    session: AsyncSession,
    query: Select[Any],
    *,
    keys: Sequence[InstrumentedAttribute[Any] | Mapped[Any] | ColumnElement[Any]],
    position: type[CursorPosition],
    limit: int,
    cursor: str | None,
    row: Callable[[Row[*tuple[Any, ...]]], Any] | None = None,
) -> tuple[list[Any], str | None]:
    """One page of `query` in the order of `keys` (the last one unique), and the cursor of the next.

    `position` is the list's cursor model: its fields are the names of `keys`, in order, so the
    cursor is read back typed and a forged one is a 422. The page reads one row beyond `limit` to
    learn whether there is a next page. The rows are the query's first entity (`scalars()`), or,
    with `row`, what it makes of each result row (a read path on Core columns, without an ORM
    object per row); the entity, or the result row, has the keys as attributes."""
    names = [key.key for key in keys]  # type: ignore[union-attr]
    if list(position.model_fields) != names:
        raise TypeError(f"{position.__name__} must have exactly the fields {names}, in order")
    after = cursor_position(cursor, position.model_validate)
    if after is not None:
        values = [getattr(after, name) for name in names]
        query = query.where(keys[0] > values[0] if len(keys) == 1 else tuple_(*keys) > tuple(values))
    result = await session.execute(query.order_by(*keys).limit(limit + 1))
    # all(): the rows in one fetch, not one driver call per row (about 1.5 ms of a page of 500).
    found: Sequence[Any] = result.scalars().all() if row is None else result.all()
    page = list(found[:limit]) if row is None else [row(r) for r in found[:limit]]
    if len(found) <= limit:
        return page, None
    last = found[limit - 1]
    next_position = position.model_validate({name: getattr(last, name) for name in names})
    return page, encode_cursor(next_position.model_dump(mode="json"))
