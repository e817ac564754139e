"""The daily sweep at the bureau's midnight: categories that start or end with the calendar (a
future `since`, a passed `until` or `valid_until`, a 40th or 50th birthday, the end of the graduate
window) and households whose members came of or out of working age are published on the day.

Idempotent: a person is published only when today's categories differ from the ones last published
for them (`Person.published_categories`, written in the same transaction as the event), under the
person's row lock, so a sweep run twice, or by two replicas at once, publishes each change once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlmodel import col, or_, select

from contracts.registry import PERSON_DIFFICULTY_CHANGED
from services.kit.clock import Clock, bureau_midnight
from services.kit.db import Database
from services.registry.households.service import HouseholdService
from services.registry.persons.categories import fingerprint
from services.registry.persons.service import PersonServiceFactory, note_due
from services.registry.tables import Household, Person

log = logging.getLogger(__name__)

BATCH = 200
_ONE_DAY = timedelta(days=1)


@dataclass
class SweepResult:
    persons_published: int = 0
    persons_checked: int = 0
    households_checked: int = 0


async def sweep(db: Database, persons: PersonServiceFactory, *, batch: int = BATCH) -> SweepResult:
    """Publish every change the calendar made since the last sweep; one transaction per batch.

    Only the people and households due are read: those whose `categories_due_on` / `due_on` is
    today or earlier (a sweep missed while no replica ran is caught up), or not worked out yet. Each
    one looked at gets its next day, so a day's sweep reads the few whose dates fall on it."""
    result = SweepResult()
    after: uuid.UUID | None = None
    while True:
        async with db.sessionmaker() as session, session.begin():
            service = persons(session)
            query = (
                select(Person)
                .where(_due(col(Person.categories_due_on), service.today()))
                .order_by(col(Person.person_id))
                .limit(batch)
                .with_for_update()
            )
            if after is not None:
                query = query.where(col(Person.person_id) > after)
            people = list((await session.execute(query)).scalars())
            if not people:
                break
            for person, state in zip(people, await service.states(people), strict=True):
                if fingerprint(state) == person.published_categories:
                    note_due(person, state)
                    continue
                # Publishing one member may have republished another of the household already.
                state = await service.state(person)
                if fingerprint(state) != person.published_categories:
                    await service.changed(person, PERSON_DIFFICULTY_CHANGED)
                    result.persons_published += 1
                else:
                    note_due(person, state)
            result.persons_checked += len(people)
            after = people[-1].person_id
    last: str | None = None
    while True:
        async with db.sessionmaker() as session, session.begin():
            service = persons(session)
            numbers_query = (
                select(col(Household.household_no))
                .where(_due(col(Household.due_on), service.today()))
                .order_by(col(Household.household_no))
                .limit(batch)
            )
            if last is not None:
                numbers_query = numbers_query.where(col(Household.household_no) > last)
            numbers = list((await session.execute(numbers_query)).scalars())
            if not numbers:
                break
            households = HouseholdService(service)
            for number in numbers:
                await households.refresh(number)
            result.households_checked += len(numbers)
            last = numbers[-1]
    return result


def _due(day: Any, today: date) -> Any:
    """Rows whose day has come, or that have none yet (from before the column existed)."""
    return or_(day.is_(None), day <= today)


async def run_daily(db: Database, persons: PersonServiceFactory, clock: Clock) -> None:
    """Sweep at start-up (a midnight may have passed while no replica ran), then at each bureau midnight."""
    while True:
        try:
            outcome = await sweep(db, persons)
            log.info(
                "daily sweep done",
                extra={
                    "persons_checked": outcome.persons_checked,
                    "persons_published": outcome.persons_published,
                    "households": outcome.households_checked,
                },
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("daily sweep failed; retrying in a minute")
            await asyncio.sleep(60)
            continue
        next_midnight = bureau_midnight(clock.today()) + _ONE_DAY
        await asyncio.sleep(max((next_midnight - clock.now()).total_seconds(), 1.0) + 1.0)
