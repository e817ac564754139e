"""`rows_as_json`: a row's dependent rows in the same statement, read back with their types, on
PostgreSQL (in a session time zone other than UTC too) and on SQLite alike."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.db import Database, UTCDateTime, json_rows_reader, rows_as_json
from tests.support import PostgresDatabases

METADATA = sa.MetaData()
PARENTS = sa.Table("parents", METADATA, sa.Column("id", sa.Integer, primary_key=True))
CHILDREN = sa.Table(
    "children",
    METADATA,
    sa.Column("child_id", sa.Uuid, primary_key=True),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("parents.id"), nullable=False),
    sa.Column("label", sa.String(20), nullable=False),
    sa.Column("born_on", sa.Date, nullable=False),
    sa.Column("left_on", sa.Date, nullable=True),
    sa.Column("noted_at", UTCDateTime, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Child:
    child_id: uuid.UUID
    label: str
    born_on: date
    left_on: date | None
    noted_at: datetime
    details: dict[str, object]


CHILD = [CHILDREN.c[name] for name in Child.__dataclass_fields__]
KIDS = [
    Child(uuid.uuid4(), "毛毛", date(2020, 2, 29), None, datetime(2026, 12, 6, 1, 2, 3, 456789, UTC), {"a": [1, "二"]}),
    # Noted in another zone: the same instant comes back in UTC.
    Child(
        uuid.uuid4(),
        "b",
        date(1999, 12, 31),
        date(2026, 1, 1),
        datetime(2026, 12, 5, 23, 59, tzinfo=timezone(timedelta(hours=8))),
        {},
    ),
]


async def read_back(db: Database) -> dict[int, list[Child]]:
    async with db.engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
        await connection.execute(sa.insert(PARENTS), [{"id": 1}, {"id": 2}])
        await connection.execute(
            sa.insert(CHILDREN), [{"parent_id": 1, **{c.key: getattr(kid, c.key) for c in CHILD}} for kid in KIDS]
        )
    read = json_rows_reader(Child)
    query = sa.select(PARENTS.c.id, rows_as_json(CHILD, CHILDREN.c.parent_id == PARENTS.c.id)).order_by(PARENTS.c.id)
    async with db.engine.connect() as connection:
        if db.is_postgres:  # timestamptz in JSON is written in the session's zone
            await connection.execute(sa.text("SET TIME ZONE 'Asia/Shanghai'"))
        return {parent: read(children) for parent, children in await connection.execute(query)}


def assert_the_same(found: dict[int, list[Child]]) -> None:
    assert found[2] == []  # no rows: an empty list (NULL on PostgreSQL, [] on SQLite)
    kids = sorted(found[1], key=lambda kid: kid.born_on)
    assert kids == sorted(KIDS, key=lambda kid: kid.born_on)
    assert all(kid.noted_at.tzinfo is UTC for kid in kids)
    assert all(type(kid.child_id) is uuid.UUID and type(kid.born_on) is date for kid in kids)


def test_a_field_json_would_not_bring_back_as_it_was_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Flagged:
        child_id: uuid.UUID
        flag: bool  # SQLite's JSON has 0 or 1

    with pytest.raises(TypeError, match="bool"):
        json_rows_reader(Flagged)


@pytest.mark.integration
async def test_on_postgresql(databases: PostgresDatabases) -> None:
    db = Database(await databases.create("rows_as_json"))
    try:
        assert_the_same(await read_back(db))
    finally:
        await db.dispose()


async def test_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'rows.db'}")
    try:
        assert_the_same(await read_back(db))
    finally:
        await db.dispose()
