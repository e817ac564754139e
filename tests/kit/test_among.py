"""`among`: one array parameter on PostgreSQL, an IN list elsewhere; the same rows either way."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.db import Database, among
from tests.support import PostgresDatabases

METADATA = sa.MetaData()
THINGS = sa.Table(
    "things",
    METADATA,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("label", sa.String(20), nullable=False),
)
IDS = [uuid.UUID(int=n) for n in range(1, 21)]


async def check(db: Database) -> str:
    async with db.engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
        await connection.execute(sa.insert(THINGS), [{"id": i, "label": f"thing {n}"} for n, i in enumerate(IDS)])
    async with db.sessionmaker() as session:
        wanted = IDS[::3]
        condition = among(session, THINGS.c.id, wanted)
        found = set(await session.scalars(sa.select(THINGS.c.id).where(condition)))
        assert found == set(wanted)
        labels = set(
            await session.scalars(sa.select(THINGS.c.label).where(among(session, THINGS.c.label, {"thing 1"})))
        )
        assert labels == {"thing 1"}
        assert not list(await session.scalars(sa.select(THINGS.c.id).where(among(session, THINGS.c.id, []))))
        return str(condition.compile(dialect=session.get_bind().dialect))


@pytest.mark.integration
async def test_on_postgresql_the_values_are_one_array_parameter(databases: PostgresDatabases) -> None:
    db = Database(await databases.create("among"))
    try:
        assert "= ANY (" in await check(db)
    finally:
        await db.dispose()


async def test_on_sqlite_the_values_are_an_in_list(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'among.db'}")
    try:
        assert " IN (" in await check(db)
    finally:
        await db.dispose()
