"""The database pool keeps the connections it opened: bursts of concurrent sessions reuse them
instead of starting a PostgreSQL backend for each burst."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from services.kit.db import Database
from tests.support import PostgresDatabases

pytestmark = pytest.mark.integration


async def test_bursts_of_concurrent_sessions_reuse_the_pools_connections(databases: PostgresDatabases) -> None:
    db = Database(await databases.create("pool"), pool_size=10)
    backends: set[int] = set()

    async def session() -> None:
        async with db.sessionmaker() as s, s.begin():
            backends.add(int(await s.scalar(sa.select(sa.func.pg_backend_pid()))))
            await s.execute(sa.select(sa.func.pg_sleep(0.005)))

    try:
        for _ in range(30):
            # 16 at once, more than the pool: they wait their turn. A pool of 10 with 10 overflow
            # connections (before 2026-12-06) opened 6 more each burst and closed them again.
            await asyncio.gather(*(session() for _ in range(16)))
            await asyncio.gather(*(session() for _ in range(3)))
    finally:
        await db.dispose()
    assert len(backends) <= 10, len(backends)
