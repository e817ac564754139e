"""The kit's plan settings for the rest of a transaction: `serial_plans` (a background count
without parallel workers) and `lookup_plans` (a consumer's reads by key keep the index's plan, even
one made while the table was nearly empty); both for that transaction only, and nothing on SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import Database, lookup_plans, serial_plans
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


# A batch's worth of keys: with a hundred values a custom plan costs more than the generic plan's
# guess (ten values), so PostgreSQL keeps the generic one from the sixth execution on.
IDS = "ARRAY[" + ", ".join(f"'{uuid.uuid4()}'" for _ in range(100)) + "]::uuid[]"


async def plan_kept_after_growth(session: AsyncSession, *, lookup: bool) -> str:
    """A read by key (as the projections lock their people) prepared and executed six times on a
    young table of 500 rows, never analysed (PostgreSQL then keeps one plan for all values), the
    table grown to 20,500 rows, and the plan it runs now; each step in a transaction with or
    without `lookup_plans`."""
    name = f"read_{uuid.uuid4().hex[:8]}"
    table = f"t_{uuid.uuid4().hex[:8]}"
    await session.execute(  # no analysis behind the test's back, which would make PostgreSQL plan again
        sa.text(
            f"CREATE TABLE {table} (person_id uuid PRIMARY KEY, version integer, pad text)"
            " WITH (autovacuum_enabled = off)"
        )
    )
    grow = f"INSERT INTO {table} SELECT gen_random_uuid(), 1, repeat('y', 80) FROM generate_series(1, :rows)"
    await session.execute(sa.text(grow), {"rows": 500})
    await session.execute(
        sa.text(
            f"PREPARE {name}(uuid[]) AS SELECT version FROM {table} WHERE person_id = ANY($1)"
            " ORDER BY person_id FOR UPDATE"
        )
    )
    await session.commit()
    for _ in range(6):
        if lookup:
            await lookup_plans(session)
        await session.execute(sa.text(f"EXECUTE {name}({IDS})"))
        await session.commit()
    await session.execute(sa.text(grow), {"rows": 20_000})
    await session.commit()
    if lookup:
        await lookup_plans(session)
    plan = "\n".join((await session.execute(sa.text(f"EXPLAIN EXECUTE {name}({IDS})"))).scalars())
    await session.commit()
    return plan


async def test_the_plan_kept_from_a_young_table_is_the_index_s(databases: PostgresDatabases) -> None:
    db = Database(await databases.migrated("subsidy"))
    try:
        async with db.sessionmaker() as session:
            kept = await plan_kept_after_growth(session, lookup=False)  # what it guards against
            assert "Seq Scan" in kept and "$1" in kept, kept
            plan = await plan_kept_after_growth(session, lookup=True)
            # The generic plan kept ($1, not the values), and it is the index's.
            assert "Seq Scan" not in plan and "_pkey" in plan and "$1" in plan, plan
            await lookup_plans(session)
            assert await session.scalar(sa.text("SHOW jit")) == "off"
            await session.commit()
            assert await session.scalar(sa.text("SHOW enable_seqscan")) == "on", "the next transaction as before"
    finally:
        await db.dispose()


@pytest.mark.parametrize("settings", [serial_plans, lookup_plans])
async def test_nothing_to_do_on_sqlite(tmp_path: Path, settings: Callable[[AsyncSession], Awaitable[None]]) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    try:
        async with db.sessionmaker() as session:
            await settings(session)
            assert await session.scalar(sa.text("SELECT 1")) == 1
    finally:
        await db.dispose()
