"""Keeps the subsidy service's projection of registry people and employments (events in).

Both registry topics carry whole snapshots with a growing `version`; the projection keeps the
highest version it has seen and ignores older or equal ones, so redelivered or reordered events
change nothing. Every event type on a v1 topic (a death included) carries the same snapshot
payload. The whole snapshot is kept (trainings and `graduated_on` too, for the programmes that will
need them); a sensitive category arrives only as `restricted_difficulty` and is kept as that.
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import CloudEvent
from contracts.registry import EmploymentSnapshot, PersonSnapshot
from contracts.topics import REGISTRY_EMPLOYMENT, REGISTRY_PERSON
from services.kit.clock import bureau_date
from services.kit.db import utcnow
from services.kit.inbox import PermanentEventError
from services.subsidy.projections.repository import ProjectionRepository
from services.subsidy.tables import ProjectedCategory, ProjectedEmployment, ProjectedPerson

SnapshotT = TypeVar("SnapshotT", PersonSnapshot, EmploymentSnapshot)


async def registry_projection(session: AsyncSession, event: CloudEvent, topic: str) -> None:
    """The handler of the `registry-projection` consumer."""
    repo = ProjectionRepository(session)
    if topic == REGISTRY_PERSON:
        await apply_person(repo, _decode(event, PersonSnapshot), event)
    elif topic == REGISTRY_EMPLOYMENT:
        await apply_employment(repo, _decode(event, EmploymentSnapshot))
    else:
        raise PermanentEventError(f"the registry projection does not consume {topic}")


def _decode(event: CloudEvent, model: type[SnapshotT]) -> SnapshotT:
    try:
        return event.payload(model)
    except ValidationError as exc:
        raise PermanentEventError(f"{event.type} is not a valid {model.__name__}: {exc}") from exc


async def apply_person(repo: ProjectionRepository, snapshot: PersonSnapshot, event: CloudEvent) -> None:
    current = await repo.person(snapshot.person_id, for_update=True)
    if current is not None and current.version >= snapshot.version:
        return
    data = snapshot.model_dump(mode="json")
    if current is None:
        repo.add(
            ProjectedPerson(
                person_id=snapshot.person_id, version=snapshot.version, deceased_on=snapshot.deceased_on, snapshot=data
            )
        )
    else:
        current.version = snapshot.version
        current.deceased_on = snapshot.deceased_on
        current.snapshot = data
        current.updated_at = utcnow()
    await _record_categories(repo, snapshot, bureau_date(event.time))


async def _record_categories(repo: ProjectionRepository, snapshot: PersonSnapshot, published_on: date) -> None:
    """Keep every category the registry has listed, active or ended. An ended category carries its
    real end, which may lie before this event (an agency reporting late): that date, not the day the
    registry stopped listing it, decides what held at a hiring."""
    history = {(c.category, c.source, c.valid_from): c for c in await repo.categories(snapshot.person_id)}
    listed: set[tuple[str, str, date]] = set()
    for category in (*snapshot.difficulty_categories, *snapshot.ended_difficulty_categories):
        key: tuple[str, str, date] = (category.category, category.source, category.valid_from)
        if key in listed:
            continue
        listed.add(key)
        row = history.get(key)
        if row is None:
            repo.add(
                ProjectedCategory(
                    person_id=snapshot.person_id,
                    category=category.category,
                    source=category.source,
                    valid_from=category.valid_from,
                    valid_until=category.valid_until,
                    last_listed_version=snapshot.version,
                )
            )
        else:
            row.valid_until = category.valid_until
            row.withdrawn_on = None
            row.last_listed_version = snapshot.version
    for key, row in history.items():
        if key not in listed and row.withdrawn_on is None:
            row.withdrawn_on = published_on


async def apply_employment(repo: ProjectionRepository, snapshot: EmploymentSnapshot) -> None:
    current = await repo.employment(snapshot.employment_id, for_update=True)
    if current is not None and current.version >= snapshot.version:
        return
    data = snapshot.model_dump(mode="json")
    if current is None:
        repo.add(
            ProjectedEmployment(
                employment_id=snapshot.employment_id,
                person_id=snapshot.person_id,
                employer_credit_code=snapshot.employer_credit_code,
                version=snapshot.version,
                snapshot=data,
            )
        )
    else:
        current.person_id = snapshot.person_id
        current.employer_credit_code = snapshot.employer_credit_code
        current.version = snapshot.version
        current.snapshot = data
        current.updated_at = utcnow()
