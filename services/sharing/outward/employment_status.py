"""`hrss/employment_status`: a person's employment and unemployment status as the registry's events
tell it, for civil affairs' dibao review (低保复核), the disabled persons' federation following
disabled job seekers, and other agencies under an agreement. Sensitive categories never leave."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.vocabulary import Agency

from ..projection.repository import ProjectionRepository
from ..tables import ProjectedEmployment
from .declaration import OutwardDataset

FIELDS = {
    "status": "`unemployed`, `employed` or `none`",
    "registered_unemployed_since": "Day the open unemployment registration began; null when there is none",
    "employed_since": "Day the current employment began; null when not employed",
    "employer_name": "Name of the current employer; null when not employed",
    "difficulty_categories": "Difficulty categories held today, `[{category, valid_from, valid_until}]`, "
    "sensitive ones never included",
}


async def lookup(session: AsyncSession, subject_refs: Collection[str], today: date) -> dict[str, dict[str, Any]]:
    repo = ProjectionRepository(session)
    # The registry holds one person per id number (its blind index is unique), so one per subject_ref.
    persons = {person.subject_ref: person for person in await repo.persons_by_subject(subject_refs)}
    ids = {person.person_id for person in persons.values()}
    current: dict[uuid.UUID, ProjectedEmployment] = {}
    for job in sorted(await repo.open_employments(ids), key=lambda e: e.started_on):
        current[job.person_id] = job
    held: dict[Any, list[dict[str, Any]]] = {}
    for category in sorted(await repo.categories(ids), key=lambda c: (c.category, c.valid_from)):
        if category.valid_from <= today and (category.valid_until is None or category.valid_until >= today):
            held.setdefault(category.person_id, []).append(
                {
                    "category": category.category,
                    "valid_from": category.valid_from.isoformat(),
                    "valid_until": category.valid_until.isoformat() if category.valid_until else None,
                }
            )
    records = {}
    for ref, person in persons.items():
        employment = current.get(person.person_id) if person.status == "employed" else None
        records[ref] = {
            "status": person.status,
            "registered_unemployed_since": (
                person.registered_unemployed_since.isoformat() if person.registered_unemployed_since else None
            ),
            "employed_since": employment.started_on.isoformat() if employment else None,
            "employer_name": employment.employer_name if employment else None,
            "difficulty_categories": held.get(person.person_id, []),
        }
    return records


DATASET = OutwardDataset(
    agency=Agency.hrss,
    name="employment_status",
    title="就业失业状态 employment status",
    fields=FIELDS,
    lookup=lookup,
)
