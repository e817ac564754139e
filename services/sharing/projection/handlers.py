"""Keeps sharing's projection of the registry (events in, through the kit's inbox): people with their
registrations, non-sensitive difficulty categories and trainings, and employments.

Both registry topics carry whole snapshots with a growing `version`: a snapshot no newer than the
kept one changes nothing, so redelivered or reordered events are harmless. A sensitive category
arrives only as `restricted_difficulty` and is not kept at all: nothing sharing answers or counts
may break it out."""

from __future__ import annotations

import uuid
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import CloudEvent
from contracts.registry import EmploymentSnapshot, PersonSnapshot
from contracts.topics import REGISTRY_EMPLOYMENT, REGISTRY_PERSON
from contracts.vocabulary import RESTRICTED_DIFFICULTY
from services.kit.inbox import Delivered, PermanentEventError

from .repository import PersonRows, ProjectionRepository

SnapshotT = TypeVar("SnapshotT", bound=BaseModel)


async def project_registry(session: AsyncSession, event: CloudEvent, topic: str) -> None:
    """`registry-projection`: people and employments."""
    repo = ProjectionRepository(session)
    if topic == REGISTRY_PERSON:
        await apply_person(repo, _decode(event, PersonSnapshot))
    elif topic == REGISTRY_EMPLOYMENT:
        await apply_employment(repo, _decode(event, EmploymentSnapshot))
    else:
        raise PermanentEventError(f"the registry projection does not consume {topic}")


def _decode(event: CloudEvent, model: type[SnapshotT]) -> SnapshotT:
    try:
        return event.payload(model)
    except ValidationError as exc:
        raise PermanentEventError(f"{event.type} is not a valid {model.__name__}: {exc}") from exc


async def apply_person(repo: ProjectionRepository, person: PersonSnapshot) -> bool:
    """Keep a newer snapshot with its registrations, categories and trainings; False when not newer."""
    kept = await repo.person_version(person.person_id)
    if kept is not None and kept >= person.version:
        return False
    await repo.put_persons([person_rows(person)])
    return True


async def project_registry_together(session: AsyncSession, delivered: list[Delivered]) -> None:
    """`registry-projection`, a poll of person snapshots at once: each person's newest snapshot of
    the poll, when newer than the kept one, put with its lists in a few statements for all. The
    lists are replaced whole, so the newest snapshot leaves what applying each in order leaves.
    Only `registry.person.v1`'s polls come here (the subscription's `batch_topics`); employment
    snapshots go one by one."""
    newest: dict[uuid.UUID, PersonSnapshot] = {}
    for item in delivered:
        person = _decode(item.event, PersonSnapshot)
        if person.person_id not in newest or newest[person.person_id].version < person.version:
            newest[person.person_id] = person
    repo = ProjectionRepository(session)
    kept = await repo.person_versions(set(newest))
    await repo.put_persons(
        [person_rows(p) for p in newest.values() if p.person_id not in kept or kept[p.person_id] < p.version]
    )


def person_rows(person: PersonSnapshot) -> PersonRows:
    """The projection's rows of a person snapshot."""
    open_registrations = [r.registered_on for r in person.unemployment_registrations if r.closed_on is None]
    return PersonRows(
        person={
            "person_id": person.person_id,
            "subject_ref": person.subject_ref,
            "version": person.version,
            "town": person.town,
            "status": person.status.value,
            "deceased_on": person.deceased_on,
            "registered_unemployed_since": max(open_registrations) if open_registrations else None,
        },
        registrations=[
            {
                "registration_id": r.registration_id,
                "person_id": person.person_id,
                "registered_on": r.registered_on,
                "closed_on": r.closed_on,
            }
            for r in person.unemployment_registrations
        ],
        categories=[
            {
                "person_id": person.person_id,
                "category": c.category,
                "valid_from": c.valid_from,
                "valid_until": c.valid_until,
            }
            for c in (*person.difficulty_categories, *person.ended_difficulty_categories)
            if c.category != RESTRICTED_DIFFICULTY
        ],
        trainings=[
            {"training_id": t.training_id, "person_id": person.person_id, "completed_on": t.completed_on}
            for t in person.trainings
        ],
    )


async def apply_employment(repo: ProjectionRepository, employment: EmploymentSnapshot) -> bool:
    kept = await repo.employment_version(employment.employment_id)
    if kept is not None and kept >= employment.version:
        return False
    await repo.put_employment(
        {
            "employment_id": employment.employment_id,
            "person_id": employment.person_id,
            "version": employment.version,
            "employer_name": employment.employer_name,
            "started_on": employment.started_on,
            "ended_on": employment.ended_on,
            "end_reason": employment.end_reason.value if employment.end_reason else None,
        }
    )
    return True
