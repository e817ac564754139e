"""`serial_plans`: a background count's transaction runs without parallel workers, and only it."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.db import Database, serial_plans
from tests.support import PostgresDatabases

pytestmark = pytest.mark.integration


async def test_no_parallel_workers_for_the_rest_of_the_transaction_only(databases: PostgresDatabases) -> None:
    db = Database(await databases.migrated("registry"))
    show = sa.text("SHOW max_parallel_workers_per_gather")
    try:
        async with db.sessionmaker() as session:
            default = await session.scalar(show)
            assert default != "0"
            await serial_plans(session)
            assert await session.scalar(show) == "0"
            await session.commit()
            assert await session.scalar(show) == default, "the next transaction plans as before"
    finally:
        await db.dispose()


async def test_nothing_to_do_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    try:
        async with db.sessionmaker() as session:
            await serial_plans(session)
            assert await session.scalar(sa.text("SELECT 1")) == 1
    finally:
        await db.dispose()
