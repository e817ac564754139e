"""Applies agency facts from `sharing.fact.v1`: keeps the latest fact per subject and dataset and
publishes the person's new snapshot when their difficulty categories change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contracts import registry as events
from contracts.envelope import CloudEvent
from contracts.registry import DifficultyCategory
from contracts.sharing import FACT_RECORDED, Fact
from services.kit.db import utcnow
from services.kit.inbox import PermanentEventError
from services.registry.persons.categories import DATASET_CATEGORIES
from services.registry.persons.service import PersonService, PersonServiceFactory, PersonState
from services.registry.tables import PersonFact


def fact_handler(persons: PersonServiceFactory) -> Callable[[AsyncSession, CloudEvent, str], Awaitable[None]]:
    async def handle(session: AsyncSession, event: CloudEvent, topic: str) -> None:
        if event.type != FACT_RECORDED:
            return  # other fact kinds on the topic are not the registry's business
        try:
            fact = event.payload(Fact)
        except ValidationError as exc:
            raise PermanentEventError(f"invalid fact payload: {exc}") from exc
        category = DATASET_CATEGORIES.get((fact.agency, fact.dataset))
        if category is None or fact.subject_ref is None:
            return
        await apply_fact(persons(session), session, fact, category)

    return handle


async def apply_fact(service: PersonService, session: AsyncSession, fact: Fact, category: str) -> None:
    await service.repo.lock_subject(fact.subject_ref or "")
    person = await service.repo.by_subject_ref(fact.subject_ref or "", for_update=True)
    before = _categories(await service.state(person)) if person is not None else None
    current = (
        await session.execute(
            select(PersonFact)
            .where(PersonFact.subject_ref == fact.subject_ref)
            .where(PersonFact.agency == fact.agency)
            .where(PersonFact.dataset == fact.dataset)
        )
    ).scalar_one_or_none()
    if current is None:
        current = PersonFact(
            subject_ref=fact.subject_ref or "",
            agency=fact.agency,
            dataset=fact.dataset,
            fact_id=fact.fact_id,
            category=category,
        )
    # A newer record for the same key supersedes the older one.
    current.fact_id = fact.fact_id
    current.category = category
    current.valid_from = fact.valid_from
    current.valid_until = fact.valid_until
    current.attributes = dict(fact.attributes)
    current.received_at = utcnow()
    session.add(current)
    if person is None:
        return  # kept until the person registers
    household = fact.attributes.get("household_no")
    joined_household = isinstance(household, str) and bool(household) and person.household_no is None
    if joined_household:
        person.household_no = str(household)
    await session.flush()
    # A category that starts or ends, even one reported late with an end in the past, is published.
    if _categories(await service.state(person)) != before:
        await service.changed(person, events.PERSON_DIFFICULTY_CHANGED)
    elif joined_household:
        await service.changed(person, events.PERSON_UPDATED)


def _categories(state: PersonState) -> tuple[list[DifficultyCategory], list[DifficultyCategory]]:
    return state.categories, state.ended_categories


__all__ = ["apply_fact", "fact_handler"]
