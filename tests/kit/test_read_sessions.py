"""Read sessions (`ReadSessionDep`): on PostgreSQL each statement runs on its own, outside a
transaction; a write through one is refused and changes nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kit.db import Database, ReadOnlySession
from tests.support import PostgresDatabases


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(20))


NOTES = Note.__table__


async def refuses_writes(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
        await connection.execute(sa.insert(NOTES), [{"id": 1, "text": "kept"}])
    async with db.read_sessionmaker() as session:
        assert (await session.get(Note, 1)) is not None  # reads, the ORM's included, go through
        assert await session.scalar(sa.select(NOTES.c.text)) == "kept"
        with pytest.raises(ReadOnlySession):
            await session.execute(sa.insert(NOTES).values(id=2, text="lost"))
        with pytest.raises(ReadOnlySession):
            await session.execute(sa.update(NOTES).values(text="changed"))
        session.add(Note(id=3, text="added"))
        with pytest.raises(ReadOnlySession):
            await session.flush()
    async with db.engine.connect() as connection:
        assert (await connection.execute(sa.select(NOTES.c.id, NOTES.c.text))).all() == [(1, "kept")]


@pytest.mark.integration
async def test_on_postgresql_a_read_session_has_no_transaction_and_refuses_writes(
    databases: PostgresDatabases,
) -> None:
    db = Database(await databases.create("read_sessions"))
    try:
        await refuses_writes(db)
        now = sa.select(sa.func.now())
        async with db.read_sessionmaker() as session:
            first: datetime = (await session.execute(now)).scalar_one()
            await session.execute(sa.select(sa.func.pg_sleep(0.01)))
            # now() is the start of the transaction: a statement of its own sees a later one.
            assert (await session.execute(now)).scalar_one() > first
        async with db.sessionmaker() as session, session.begin():
            first = (await session.execute(now)).scalar_one()
            await session.execute(sa.select(sa.func.pg_sleep(0.01)))
            assert (await session.execute(now)).scalar_one() == first  # the usual session: one transaction
    finally:
        await db.dispose()


async def test_on_sqlite_a_read_session_refuses_writes(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'read.db'}")
    try:
        await refuses_writes(db)
    finally:
        await db.dispose()
