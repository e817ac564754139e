"""The subsidy projection applies a poll of person snapshots together (`registry_together`) with the
same result as one by one: people at their newest version, every category ever listed with its
withdrawal, stale versions ignored; and in a constant number of statements. Real PostgreSQL,
handlers called directly (the consumer around them is the kit's, tested there)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import new_event
from contracts.registry import PERSON_DIFFICULTY_CHANGED
from contracts.topics import REGISTRY_PERSON
from services.kit.clock import FixedClock
from services.kit.db import Database
from services.kit.inbox import Delivered
from services.subsidy.applications.consistency import Consistency
from services.subsidy.programmes.registry import Catalogue
from services.subsidy.projections.handlers import Projections
from tests.subsidy.scenario import changing_snapshots, eligible_hire
from tests.support import PostgresDatabases, counted

pytestmark = pytest.mark.integration


def projections() -> Projections:
    return Projections(FixedClock.on(date(2026, 12, 3)), Catalogue(), Consistency([], {}, 0.0))


async def outcome(db: Database) -> dict[str, Any]:
    async with db.engine.connect() as c:
        people = sorted((str(r.person_id), r.version) for r in await c.execute(sa.text("SELECT * FROM subsidy_person")))
        categories = sorted(
            (str(r.person_id), r.category, r.valid_from, r.withdrawn_on is not None, r.last_listed_version)
            for r in await c.execute(sa.text("SELECT * FROM subsidy_person_category"))
        )
    return {"people": people, "categories": categories}


async def test_a_batch_of_snapshots_leaves_what_one_by_one_leaves(databases: PostgresDatabases) -> None:
    events = changing_snapshots(3)
    together = Database(await databases.migrated("subsidy"))
    apart = Database(await databases.migrated("subsidy"))
    try:
        async with together.sessionmaker() as session, session.begin():
            await projections().registry_together(session, [Delivered(e, REGISTRY_PERSON, []) for e in events])
        for event in events:
            async with apart.sessionmaker() as session, session.begin():
                await projections().registry(session, event, REGISTRY_PERSON)
        left_together, left_apart = await outcome(together), await outcome(apart)
    finally:
        await together.dispose()
        await apart.dispose()
    assert left_together == left_apart
    first = str(uuid.UUID(str(events[0].subject)))
    assert (first, 3) in left_together["people"]
    mine = [c for c in left_together["categories"] if c[0] == first]
    assert [(c[1], c[3]) for c in mine] == [("disabled", False), ("low_income_family", True)]


async def test_snapshots_cost_a_few_statements_whatever_their_number(databases: PostgresDatabases) -> None:
    db = Database(await databases.migrated("subsidy"))
    events = [
        new_event(source="/registry", type=PERSON_DIFFICULTY_CHANGED, subject=str(h.person.person_id), data=h.person)
        for h in (eligible_hire() for _ in range(200))
    ]
    try:
        with counted(db) as statements:
            async with db.sessionmaker() as session, session.begin():
                await projections().registry_together(session, [Delivered(e, REGISTRY_PERSON, []) for e in events])
        async with db.engine.connect() as c:
            kept = await c.scalar(sa.text("SELECT count(*) FROM subsidy_person"))
    finally:
        await db.dispose()
    assert kept == 200
    assert len(statements) <= 12, statements
