"""Sharing's projection applies a poll of person snapshots together (`project_registry_together`)
with the same result as one by one: each person at their newest version with the lists it names,
stale versions ignored; in a constant number of statements. Real PostgreSQL, handlers called
directly (the consumer around them is the kit's, tested there)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from contracts.topics import REGISTRY_PERSON
from services.kit.db import Database
from services.kit.inbox import Delivered
from services.sharing.projection.handlers import project_registry, project_registry_together
from tests.subsidy.scenario import changing_snapshots
from tests.support import PostgresDatabases, counted

pytestmark = pytest.mark.integration


async def outcome(db: Database) -> dict[str, Any]:
    async with db.engine.connect() as c:
        return {
            table: sorted(tuple(str(v) for v in row) for row in await c.execute(sa.text(f"SELECT * FROM {table}")))
            for table in (
                "sharing_person",
                "sharing_person_registration",
                "sharing_person_category",
                "sharing_person_training",
            )
        }


async def test_a_batch_of_snapshots_leaves_what_one_by_one_leaves(databases: PostgresDatabases) -> None:
    events = changing_snapshots(3)
    together = Database(await databases.migrated("sharing"))
    apart = Database(await databases.migrated("sharing"))
    try:
        async with together.sessionmaker() as session, session.begin():
            await project_registry_together(session, [Delivered(e, REGISTRY_PERSON, []) for e in events])
        for event in events:
            async with apart.sessionmaker() as session, session.begin():
                await project_registry(session, event, REGISTRY_PERSON)
        left_together, left_apart = await outcome(together), await outcome(apart)
    finally:
        await together.dispose()
        await apart.dispose()
    assert left_together == left_apart
    first = str(events[0].subject)
    assert [row[1] for row in left_together["sharing_person_category"] if row[0] == first] == ["disabled"]
    assert len(left_together["sharing_person"]) == 3


async def test_snapshots_cost_a_few_statements_whatever_their_number(databases: PostgresDatabases) -> None:
    db = Database(await databases.migrated("sharing"))
    events = changing_snapshots(200)
    try:
        with counted(db) as statements:
            async with db.sessionmaker() as session, session.begin():
                await project_registry_together(session, [Delivered(e, REGISTRY_PERSON, []) for e in events])
        async with db.engine.connect() as c:
            kept = await c.scalar(sa.text("SELECT count(*) FROM sharing_person"))
    finally:
        await db.dispose()
    assert kept == 200
    assert len(statements) <= 12, statements
