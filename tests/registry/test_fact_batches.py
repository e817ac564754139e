"""A poll's facts applied together (`fact_batch_handler`) leave the registry as applying them one by
one does: the same facts kept, categories, households and the last snapshot of each person; and the
facts that only give categories cost the same few statements whether there are 20 or 200. On real
PostgreSQL, handlers called directly (the consumer around them is the kit's, tested there)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import CloudEvent, new_event
from contracts.sharing import FACT_RECORDED, Fact
from contracts.topics import SHARING_FACT
from services.kit.clock import FixedClock
from services.kit.db import Database
from services.kit.identifiers import subject_ref
from services.kit.inbox import Delivered
from services.kit.outbox import OUTBOX
from services.kit.settings import DEV_SUBJECT_KEY
from services.registry.facts.handlers import fact_batch_handler, fact_handler
from services.registry.persons.schemas import PersonCreate
from services.registry.persons.service import person_services
from services.registry.settings import RegistrySettings
from tests.registry.people import credit_code, id_number
from tests.support import PostgresDatabases, counted

pytestmark = pytest.mark.integration
TODAY = date(2026, 12, 3)
PERSONS = person_services(RegistrySettings(), FixedClock.on(TODAY))


def fact(dataset: str, number: str | None, attributes: dict[str, Any], *, key: str | None = None) -> CloudEvent:
    agency, name = dataset.split("/")
    subject = subject_ref(DEV_SUBJECT_KEY.encode(), number) if number else None
    payload = Fact.model_validate(
        {
            "fact_id": uuid.uuid4(),
            "agency": agency,
            "dataset": name,
            "batch_id": uuid.uuid4(),
            "record_index": 0,
            "subject_ref": subject,
            "key": key or subject,
            "attributes": {"dataset": dataset, **attributes},
        }
    )
    return new_event(source="/sharing", type=FACT_RECORDED, subject=subject or key, data=payload)


def dibao(number: str, since: str = "2024-01-01", until: str | None = None, household: str | None = None) -> CloudEvent:
    return fact("civil_affairs/dibao", number, {"since": since, "until": until, "household_no": household})


def identity(number: str, household: str) -> CloudEvent:
    return fact(
        "public_security/identity",
        number,
        {"hukou_type": "urban", "hukou_area_code": "500226", "household_no": household},
    )


async def registered(databases: PostgresDatabases, numbers: list[str]) -> Database:
    db = Database(await databases.migrated("registry"))
    async with db.sessionmaker() as session, session.begin():
        for n, number in enumerate(numbers):
            await PERSONS(session).register(PersonCreate(id_number=number, name=f"刘晓{n}", hukou_type="urban"))
    return db


async def outcome(db: Database) -> dict[str, Any]:
    """What the facts left: facts kept, people, households, and each person's last snapshot
    (without its version, which counts snapshots)."""
    async with db.engine.connect() as c:
        facts = sorted(
            (r.subject_ref, r.agency, r.dataset, json.dumps(r.attributes, sort_keys=True), r.valid_from, r.valid_until)
            for r in await c.execute(sa.text("SELECT * FROM registry_person_fact"))
        )
        rows = list(await c.execute(sa.text("SELECT * FROM registry_person")))
        people = sorted((r.subject_ref, r.household_no, r.published_categories, r.deceased_on) for r in rows)
        ref_of = {str(r.person_id): r.subject_ref for r in rows}  # person ids differ between databases
        households = sorted(
            (r.household_no, r.kind, sorted(ref_of[m] for m in r.published_members.split(",")))
            for r in await c.execute(sa.text("SELECT * FROM registry_household"))
        )
        businesses = sorted(r.credit_code for r in await c.execute(sa.text("SELECT * FROM registry_business")))
        snapshots: dict[str, dict[str, Any]] = {}
        for row in await c.execute(
            sa.select(OUTBOX.c.key, OUTBOX.c.payload)
            .where(OUTBOX.c.topic == "registry.person.v1")
            .order_by(OUTBOX.c.id)
        ):
            data = CloudEvent.from_bytes(row.payload).data
            assert isinstance(data, dict)
            snapshots[ref_of[row.key]] = {k: v for k, v in data.items() if k not in ("version", "person_id")}
    return {
        "facts": facts,
        "people": people,
        "households": households,
        "businesses": businesses,
        "snapshots": snapshots,
    }


async def test_a_batch_leaves_what_one_by_one_leaves(databases: PostgresDatabases) -> None:
    numbers = [id_number() for _ in range(6)]
    stranger = id_number()  # not registered: the fact is kept for later
    p0, p1, p2, p3, p4, p5 = numbers
    events = [
        dibao(p0),
        identity(p1, "HH-7"),  # a new household: applied alone, with every other fact about p1
        dibao(p1, household="HH-7"),
        identity(p2, "HH-7"),
        fact(
            "disabled_federation/disability_certificate",
            p3,
            {"kind": "visual", "grade": 2, "valid_until": "2030-01-01"},
        ),
        fact("civil_affairs/veteran", p3, {"discharged_on": "2001-12-01"}),
        dibao(p4),
        dibao(p4, until="2025-06-30"),  # ended later in the same batch
        dibao(stranger),
        fact(
            "market_supervision/business",
            p5,
            {"credit_code": (code := credit_code()), "name": "荣昌夏布坊", "established_on": "2020-03-01"},
            key=code,
        ),
        dibao(p5, household="HH-9"),  # changes p5's household: alone
    ]
    together = await registered(databases, numbers)
    apart = await registered(databases, numbers)
    try:
        async with together.sessionmaker() as session, session.begin():
            await fact_batch_handler(PERSONS)(session, [Delivered(e, SHARING_FACT, []) for e in events])
        handle = fact_handler(PERSONS)
        for event in events:
            async with apart.sessionmaker() as session, session.begin():
                await handle(session, event, SHARING_FACT)
        left_together, left_apart = await outcome(together), await outcome(apart)
    finally:
        await together.dispose()
        await apart.dispose()
    assert left_together == left_apart
    # Not vacuous: the facts did change people, households and businesses.
    categories = {
        s["subject_ref"]: sorted(c["category"] for c in s["difficulty_categories"])
        for s in left_together["snapshots"].values()
    }
    assert categories[subject_ref(DEV_SUBJECT_KEY.encode(), p0)] == ["low_income_family"]
    assert categories[subject_ref(DEV_SUBJECT_KEY.encode(), p3)] == ["disabled", "veteran"]
    assert categories[subject_ref(DEV_SUBJECT_KEY.encode(), p4)] == []
    assert [h[0] for h in left_together["households"]] == ["HH-7", "HH-9"]
    assert left_together["businesses"] == [code]
    assert len(left_together["facts"]) == 9  # 11, less the business (kept apart) and p4's first dibao


@pytest.mark.parametrize("people", [20, 200])
async def test_category_facts_cost_a_few_statements_whatever_their_number(
    databases: PostgresDatabases, people: int
) -> None:
    numbers = [id_number() for _ in range(people)]
    db = await registered(databases, numbers)
    try:
        with counted(db) as statements:
            async with db.sessionmaker() as session, session.begin():
                await fact_batch_handler(PERSONS)(
                    session, [Delivered(dibao(number), SHARING_FACT, []) for number in numbers]
                )
        async with db.engine.connect() as c:
            published = await c.scalar(
                sa.text("SELECT count(*) FROM outbox_message WHERE topic = 'registry.person.v1' AND key IS NOT NULL")
            )
    finally:
        await db.dispose()
    assert published == people * 2  # registered, then low_income_family
    # the locks, the facts upserted, the people, their records (one statement), the outbox insert and
    # the people's update
    assert len(statements) <= 6, statements
