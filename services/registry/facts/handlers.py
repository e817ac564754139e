"""Applies agency facts from `sharing.fact.v1` and `sharing.sensitive-fact.v1`: keeps the latest
fact per person and dataset, lets the dataset's applier (appliers.py) change the person, and
publishes the person's new snapshot when anything about them changed. Businesses from market
supervision are kept in the registry's list of businesses, and the statistics bureau's labour force
figures for the unemployment rate indicator."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contracts import registry as events
from contracts.envelope import CloudEvent
from contracts.facts import BusinessAttributes, LabourForceAttributes
from contracts.sharing import FACT_RECORDED, Fact
from services.kit.db import upsert, utcnow
from services.kit.inbox import BatchHandler, Delivered, PermanentEventError
from services.registry.facts.appliers import APPLIERS
from services.registry.households.service import HouseholdService
from services.registry.persons.categories import fingerprint
from services.registry.persons.service import (
    PersonService,
    PersonServiceFactory,
    apply_person_update,
    note_due,
    settle,
)
from services.registry.tables import Business, LabourForce, PersonFact


def fact_batch_handler(persons: PersonServiceFactory) -> BatchHandler:
    """A poll's facts in one go: the facts that only give or end a category (most of a bulk push)
    are applied together with set-based statements (`apply_together`); the others (a death, a new
    household, a business, a labour force figure) and every other fact about the same person, one by
    one as `fact_handler` applies them. The result is what applying them one by one leaves, but for
    how many snapshots a person changed twice in the batch publishes: one, the last."""
    one_by_one = fact_handler(persons)

    async def handle(session: AsyncSession, delivered: list[Delivered]) -> None:
        facts: list[tuple[Delivered, Fact]] = []
        for item in delivered:
            if item.event.type != FACT_RECORDED:
                continue
            try:
                facts.append((item, item.event.payload(Fact)))
            except ValidationError as exc:
                raise PermanentEventError(f"invalid fact payload: {exc}") from exc
        alone_subjects = {fact.subject_ref for _, fact in facts if not _changes_only_categories(fact)}
        together = [(item, fact) for item, fact in facts if fact.subject_ref not in alone_subjects]
        alone = [item for item, fact in facts if fact.subject_ref in alone_subjects]
        service = persons(session)
        # Every subject of the batch locked first, in one order: a registration of one of them
        # cannot then hold its subject while waiting for a household lock this batch holds.
        await service.repo.lock_subjects(sorted({fact.subject_ref for _, fact in facts if fact.subject_ref}))
        # Together first: nothing of theirs is in the session yet, so everything read is fresh.
        await apply_together(service, together)
        for item in alone:
            with item.span():
                await one_by_one(session, item.event, item.topic)

    return handle


def _changes_only_categories(fact: Fact) -> bool:
    """A fact of a person-keyed dataset that changes nothing on the person's record."""
    return (
        fact.code in APPLIERS
        and fact.subject_ref is not None
        and APPLIERS[fact.code].person_update(fact.attributes) is None
    )


async def apply_together(service: PersonService, facts: list[tuple[Delivered, Fact]]) -> None:
    """Facts that only give or end categories, for distinct or repeated subjects, in a few statements
    whatever their number: the latest fact per subject and dataset upserted, the people's states
    worked out together, their households refreshed, one snapshot per person whose categories
    changed (carrying the trace of the last fact about them)."""
    if not facts:
        return
    session = service.session
    received_at = utcnow()
    await upsert(
        session,
        PersonFact,
        [
            {
                "subject_ref": fact.subject_ref,
                "agency": fact.agency,
                "dataset": fact.dataset,
                "fact_id": fact.fact_id,
                "valid_from": fact.valid_from,
                "valid_until": fact.valid_until,
                "attributes": fact.attributes.model_dump(mode="json"),
                "received_at": received_at,
            }
            for _, fact in facts
        ],
        key=["subject_ref", "agency", "dataset"],
    )
    people = await service.repo.by_subject_refs(sorted({fact.subject_ref or "" for _, fact in facts}))
    if not people:
        return  # kept until the people register
    present = list(people.values())
    states = await service.states(present)
    changed = [p for p, state in zip(present, states, strict=True) if fingerprint(state) != p.published_categories]
    for person, state in zip(present, states, strict=True):
        note_due(person, state)  # the changed ones are settled below
    if not changed:
        return
    ids = {p.person_id for p in changed}
    households = HouseholdService(service)
    numbers = sorted({p.household_no for p in changed if p.household_no})
    for household_no in numbers:
        await households.refresh(household_no, changed_members=ids)
    if numbers:  # a household's new kind may give or take its members' categories
        new_states = await service.states(changed)
    else:
        new_states = [state for p, state in zip(present, states, strict=True) if p.person_id in ids]
    last = {fact.subject_ref: item for item, fact in facts}
    for person, state in zip(changed, new_states, strict=True):
        person.version += 1
        person.updated_at = utcnow()
        settle(person, state)
        session.add(person)
        with last[person.subject_ref].span():
            service.publish(state, events.PERSON_DIFFICULTY_CHANGED)


def fact_handler(persons: PersonServiceFactory) -> Callable[[AsyncSession, CloudEvent, str], Awaitable[None]]:
    async def handle(session: AsyncSession, event: CloudEvent, topic: str) -> None:
        if event.type != FACT_RECORDED:
            return  # other fact kinds on the topic are not the registry's business
        try:
            fact = event.payload(Fact)
        except ValidationError as exc:
            raise PermanentEventError(f"invalid fact payload: {exc}") from exc
        if isinstance(fact.attributes, BusinessAttributes):
            await keep_business(session, fact, fact.attributes)
        elif isinstance(fact.attributes, LabourForceAttributes):
            await keep_labour_force(session, fact, fact.attributes)
        elif fact.code in APPLIERS and fact.subject_ref is not None:
            await apply_fact(persons(session), fact)

    return handle


async def keep_labour_force(session: AsyncSession, fact: Fact, attributes: LabourForceAttributes) -> None:
    """The statistics bureau's figure for a month; a newer report of the same month replaces it."""
    row = {
        "period": attributes.period,
        "urban_employed_total": attributes.urban_employed_total,
        "fact_id": fact.fact_id,
        "received_at": utcnow(),
    }
    await upsert(session, LabourForce, [row], key=["period"])


async def keep_business(session: AsyncSession, fact: Fact, attributes: BusinessAttributes) -> None:
    business = await session.get(Business, attributes.credit_code, with_for_update=True)
    if business is None:
        business = Business(
            credit_code=attributes.credit_code,
            name=attributes.name,
            legal_rep_subject_ref=fact.subject_ref or "",
            established_on=attributes.established_on,
            fact_id=fact.fact_id,
        )
    business.name = attributes.name
    business.legal_rep_subject_ref = fact.subject_ref or ""
    business.established_on = attributes.established_on
    business.deregistered_on = attributes.deregistered_on
    business.fact_id = fact.fact_id
    business.updated_at = utcnow()
    session.add(business)


async def apply_fact(service: PersonService, fact: Fact) -> None:
    session = service.session
    subject = fact.subject_ref or ""
    await service.repo.lock_subject(subject)
    person = await service.repo.by_subject_ref(subject, for_update=True)
    current = (
        await session.execute(
            select(PersonFact)
            .where(PersonFact.subject_ref == subject)
            .where(PersonFact.agency == fact.agency)
            .where(PersonFact.dataset == fact.dataset)
        )
    ).scalar_one_or_none()
    if current is None:
        current = PersonFact(subject_ref=subject, agency=fact.agency, dataset=fact.dataset, fact_id=fact.fact_id)
    # A newer record for the same key supersedes the older one.
    current.fact_id = fact.fact_id
    current.valid_from = fact.valid_from
    current.valid_until = fact.valid_until
    current.attributes = fact.attributes.model_dump(mode="json")
    current.received_at = utcnow()
    session.add(current)
    if person is None:
        return  # kept until the person registers
    update = APPLIERS[fact.code].person_update(fact.attributes)
    old_household = person.household_no
    was_deceased = person.deceased_on is not None
    person_changed = update is not None and apply_person_update(person, update)
    if person_changed and not was_deceased and person.deceased_on is not None:
        await close_on_death(service, person.person_id, person.deceased_on)
    await session.flush()
    if old_household is not None and old_household != person.household_no:
        await HouseholdService(service).refresh(old_household)  # the person left it
    # A category that starts or ends, even one reported late with an end in the past, is published:
    # compared with what the person was last published with.
    state = await service.state(person)
    categories_changed = fingerprint(state) != person.published_categories
    if person.deceased_on is not None and not was_deceased:
        await service.changed(person, events.PERSON_DECEASED)
    elif categories_changed:
        await service.changed(person, events.PERSON_DIFFICULTY_CHANGED)
    elif person_changed:
        await service.changed(person, events.PERSON_UPDATED)
    else:
        note_due(person, state)


async def close_on_death(service: PersonService, person_id: uuid.UUID, deceased_on: date) -> None:
    """A death closes the open unemployment registration: the person no longer seeks work."""
    registration = await service.repo.open_registration(person_id)
    if registration is not None:
        registration.closed_on = max(deceased_on, registration.registered_on)
        registration.close_reason = "deceased"
        service.session.add(registration)


__all__ = ["apply_fact", "apply_together", "fact_batch_handler", "fact_handler"]
