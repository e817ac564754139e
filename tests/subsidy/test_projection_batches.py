"""The subsidy projection applies a poll of person snapshots together (`registry_together`) with the
same result as one by one: people at their newest version, every category ever listed with its
withdrawal, stale versions ignored; and in a constant number of statements. Real PostgreSQL,
handlers called directly (the consumer around them is the kit's, tested there)."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import CloudEvent, new_event
from contracts.facts import BusinessAttributes, DibaoAttributes
from contracts.registry import PERSON_DIFFICULTY_CHANGED
from contracts.sharing import FACT_RECORDED, Fact
from contracts.topics import REGISTRY_PERSON, SHARING_FACT
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
    assert len(statements) <= 5, statements  # versions, categories, two upserts, the applications


@dataclass(frozen=True)
class Traced(Delivered):
    """A delivered event that records the spans opened for it."""

    spans: list[str] = field(default_factory=list)

    def span(self) -> AbstractContextManager[None]:
        self.spans.append(self.topic)
        return super().span()


def fact_events(subject_ref: str, code: str) -> list[CloudEvent]:
    """A poll of sharing facts as a dibao load brings them, with two business facts among them: the
    second corrects the first's founding date."""

    def fact(key: str, attributes: Any, ref: str) -> CloudEvent:
        data = Fact(
            fact_id=uuid.uuid4(),
            agency=attributes.dataset.split("/")[0],
            dataset=attributes.dataset.split("/")[1],
            batch_id=uuid.uuid4(),
            record_index=0,
            subject_ref=ref,
            key=key,
            attributes=attributes,
        )
        return new_event(source="/sharing", type=FACT_RECORDED, subject=ref, data=data)

    dibao = [fact(f"d{n}", DibaoAttributes(since=date(2024, 1, 1)), f"ref-{n}") for n in range(60)]
    business = [
        fact(code, BusinessAttributes(credit_code=code, name="荣昌夏布坊", established_on=day), subject_ref)
        for day in (date(2017, 6, 1), date(2018, 3, 15))
    ]
    return [*dibao[:30], business[0], *dibao[30:], business[1]]


async def businesses(db: Database) -> list[tuple[Any, ...]]:
    async with db.engine.connect() as c:
        rows = await c.execute(
            sa.text(
                "SELECT credit_code, name, legal_rep_subject_ref, established_on, deregistered_on, fact_id "
                "FROM subsidy_business ORDER BY credit_code"
            )
        )
        return [tuple(r) for r in rows]


async def test_a_poll_of_sharing_facts_applies_the_businesses_alone(databases: PostgresDatabases) -> None:
    """`sharing_together` leaves what `sharing` one by one leaves, and the dibao facts around the
    business facts cost no statement."""
    founder = eligible_hire().person
    code = "91500153MA5UDCFX2K"
    events = fact_events(founder.subject_ref, code)
    together = Database(await databases.migrated("subsidy"))
    apart = Database(await databases.migrated("subsidy"))
    alone = Database(await databases.migrated("subsidy"))
    try:
        delivered = [Traced(e, SHARING_FACT, []) for e in events]
        with counted(together) as statements:
            async with together.sessionmaker() as session, session.begin():
                await projections().sharing_together(session, list(delivered))
        for event in events:
            async with apart.sessionmaker() as session, session.begin():
                await projections().sharing(session, event, SHARING_FACT)
        business_only = [e for e in events if e.data["dataset"] == "business"]
        with counted(alone) as alone_statements:
            async with alone.sessionmaker() as session, session.begin():
                await projections().sharing_together(session, [Delivered(e, SHARING_FACT, []) for e in business_only])
        kept_together, kept_apart = await businesses(together), await businesses(apart)
    finally:
        for db in (together, apart, alone):
            await db.dispose()
    assert kept_together == kept_apart
    assert len(kept_together) == 1 and date(2018, 3, 15) in kept_together[0]
    assert len(statements) == len(alone_statements), (statements, alone_statements)
    # A span for each business fact applied, none for the facts skipped.
    assert [d.event.data["dataset"] for d in delivered if d.spans] == ["business", "business"]
