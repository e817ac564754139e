"""The daily sweep looks only at the people and households due: each carries the first day the
calendar alone may change it (`categories_due_on`, `due_on`), set whenever it is worked out, so a
day's sweep in a district of 700,000 reads the few whose dates fall on that day. A registry of its own
(the sweep's counts are of the whole table) on a real PostgreSQL and broker, its clock held."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from services.kit.clock import FixedClock
from services.registry.persons.tasks import SweepResult, sweep
from services.registry.tables import Household, Person
from tests.registry.conftest import registry_on
from tests.registry.people import id_number
from tests.registry.test_datasets import PERSONS, categories, push, register
from tests.support import PostgresDatabases, ServiceClient, eventually

pytestmark = pytest.mark.integration
TODAY = date(2026, 12, 3)
NEVER = date.max


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clock() -> FixedClock:
    return FixedClock.on(TODAY)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def registry(
    kafka_bootstrap: str, databases: PostgresDatabases, clock: FixedClock
) -> AsyncIterator[ServiceClient]:
    async with registry_on(TODAY, kafka_bootstrap, databases, clock=clock) as (client, app):
        client.app = app  # type: ignore[attr-defined]
        yield client


async def sweep_on(registry: ServiceClient, clock: FixedClock, day: date) -> SweepResult:
    clock.instant = FixedClock.on(day).instant
    app = registry.app  # type: ignore[attr-defined]
    return await sweep(app.state.db, app.state.persons)


async def due_days(registry: ServiceClient, person_ids: list[str]) -> list[date | None]:
    async with registry.app.state.db.sessionmaker() as session:  # type: ignore[attr-defined]
        rows = dict(
            (
                await session.execute(
                    sa.select(Person.person_id, Person.categories_due_on).where(
                        Person.person_id.in_([uuid.UUID(p) for p in person_ids])  # type: ignore[attr-defined]
                    )
                )
            ).all()
        )
    return [rows[uuid.UUID(p)] for p in person_ids]


async def household_due(registry: ServiceClient, household_no: str) -> date | None:
    async with registry.app.state.db.sessionmaker() as session:  # type: ignore[attr-defined]
        household = await session.get(Household, household_no)
        return household.due_on if household else None


async def test_a_sweep_reads_only_who_is_due_and_publishes_each_change_on_its_day(
    registry: ServiceClient, producer: AIOKafkaProducer, clock: FixedClock
) -> None:
    plain = await register(registry, id_number(date(1990, 1, 1)))
    turning_40 = id_number(date(1986, 12, 8), female=True)  # 40 on 8 December
    woman = await register(registry, turning_40)
    registered = await registry.post(
        f"{PERSONS}/{woman}/unemployment-registrations", json={"registered_on": "2026-11-01"}
    )
    assert registered.status_code == 201
    # Dibao from 1 January: nothing changes today, so nothing is published; the day is kept.
    starting = id_number(date(1980, 5, 5))
    later = await register(registry, starting)
    await push(producer, "civil_affairs/dibao", starting, {"household_no": None, "since": "2027-01-01", "until": None})
    # A household whose son turns 16 on 20 December.
    household = f"HH-{uuid.uuid4().hex[:10]}"
    mother, son = id_number(date(1975, 2, 2), female=True), id_number(date(2010, 12, 20))
    await register(registry, mother)
    await register(registry, son)
    for number in (mother, son):
        await push(
            producer,
            "public_security/identity",
            number,
            {"hukou_type": "urban", "hukou_area_code": "500226", "household_no": household},
        )

    async def settled() -> bool:
        return await due_days(registry, [later]) == [date(2027, 1, 1)] and await household_due(registry, household) == (
            date(2026, 12, 20)
        )

    await eventually(settled)
    # The same household again, with dibao from February: applied alone (it names a household), and
    # changing nothing today either.
    mother_id = (await registry.get(f"{PERSONS}?id_number={mother}")).json()["items"][0]["person_id"]
    await push(
        producer, "civil_affairs/dibao", mother, {"household_no": household, "since": "2027-02-01", "until": None}
    )

    async def kept() -> bool:
        return await due_days(registry, [mother_id]) == [date(2027, 2, 1)]

    await eventually(kept)
    assert await due_days(registry, [plain, woman]) == [NEVER, date(2026, 12, 8)]

    try:
        await _sweeps(registry, clock, woman=woman, later=later, household=household)
    finally:
        clock.instant = FixedClock.on(TODAY).instant


async def _sweeps(registry: ServiceClient, clock: FixedClock, *, woman: str, later: str, household: str) -> None:
    first = await sweep_on(registry, clock, TODAY)
    assert (first.persons_checked, first.persons_published, first.households_checked) == (0, 0, 0)

    on_her_birthday = await sweep_on(registry, clock, date(2026, 12, 8))
    assert (on_her_birthday.persons_checked, on_her_birthday.persons_published) == (1, 1)
    assert "age_4050" in await categories(registry, woman)
    assert await due_days(registry, [woman]) == [NEVER]
    again = await sweep_on(registry, clock, date(2026, 12, 8))
    assert (again.persons_checked, again.households_checked) == (0, 0)

    on_his_birthday = await sweep_on(registry, clock, date(2026, 12, 20))
    assert (on_his_birthday.persons_checked, on_his_birthday.households_checked) == (0, 1)
    assert await household_due(registry, household) == date(2030, 2, 2)  # the mother's 55th birthday

    # Missed days are caught up: the first sweep after 1 January, on the 3rd.
    caught_up = await sweep_on(registry, clock, date(2027, 1, 3))
    assert (caught_up.persons_checked, caught_up.persons_published) == (1, 1)
    assert "low_income_family" in await categories(registry, later)


async def test_people_not_worked_out_yet_are_looked_at_once(registry: ServiceClient, clock: FixedClock) -> None:
    """Rows from before the due day existed (NULL) are read by the next sweep, which gives them one.
    (Swept on the last day the test above swept on: a clock set back would change categories.)"""
    person_id = await register(registry, id_number(date(1991, 3, 3)))
    async with registry.app.state.db.sessionmaker() as session, session.begin():  # type: ignore[attr-defined]
        await session.execute(sa.update(Person).values(categories_due_on=None))
    count = len((await registry.get(f"{PERSONS}?limit=500")).json()["items"])
    try:
        first = await sweep_on(registry, clock, date(2027, 1, 3))
        assert (first.persons_checked, first.persons_published) == (count, 0)
        assert await due_days(registry, [person_id]) == [NEVER]
        assert (await sweep_on(registry, clock, date(2027, 1, 3))).persons_checked == 0
    finally:
        clock.instant = FixedClock.on(TODAY).instant
