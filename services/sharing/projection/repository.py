"""Every query on sharing's projection of the registry: writes by the handlers, reads by outward
datasets."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.kit.db import among, upsert

from ..tables import (
    ProjectedCategory,
    ProjectedEmployment,
    ProjectedPerson,
    ProjectedRegistration,
    ProjectedTraining,
)

# The tables the batches write with Core statements.
PEOPLE = cast(sa.Table, ProjectedPerson.__table__)  # type: ignore[attr-defined]
LISTS = (
    cast(sa.Table, ProjectedRegistration.__table__),  # type: ignore[attr-defined]
    cast(sa.Table, ProjectedCategory.__table__),  # type: ignore[attr-defined]
    cast(sa.Table, ProjectedTraining.__table__),  # type: ignore[attr-defined]
)


class ProjectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def person_version(self, person_id: uuid.UUID) -> int | None:
        """The kept version, the row locked so that two deliveries of one person apply one by one."""
        return (
            await self.session.execute(
                select(ProjectedPerson.version).where(col(ProjectedPerson.person_id) == person_id).with_for_update()
            )
        ).scalar_one_or_none()

    async def employment_version(self, employment_id: uuid.UUID) -> int | None:
        return (
            await self.session.execute(
                select(ProjectedEmployment.version)
                .where(col(ProjectedEmployment.employment_id) == employment_id)
                .with_for_update()
            )
        ).scalar_one_or_none()

    async def person_versions(self, person_ids: set[uuid.UUID]) -> dict[uuid.UUID, int]:
        """The kept versions of these persons, their rows locked (in one order)."""
        if not person_ids:
            return {}
        rows = await self.session.execute(
            sa.select(PEOPLE.c.person_id, PEOPLE.c.version)
            .where(among(self.session, PEOPLE.c.person_id, person_ids))
            .order_by(PEOPLE.c.person_id)
            .with_for_update()
        )
        return {person_id: version for person_id, version in rows}

    async def put_persons(self, people: list[PersonRows]) -> None:
        """People and their lists as their snapshots tell them (lists replaced whole), in a few
        statements whatever their number."""
        if not people:
            return
        ids = [p.person["person_id"] for p in people]
        await upsert(self.session, ProjectedPerson, [p.person for p in people], key=["person_id"])
        # Core statements on the tables, the ids as one array: one prepared statement each whatever
        # the batch's size. An IN list was a statement to prepare and plan per size, and this method
        # a sixth of sharing's CPU in a bulk load (py-spy), the ORM's bulk delete alone 3.5 %.
        lists = (
            [row for p in people for row in p.registrations],
            [row for p in people for row in p.categories],
            [row for p in people for row in p.trainings],
        )
        for table, rows in zip(LISTS, lists, strict=True):
            await self.session.execute(sa.delete(table).where(among(self.session, table.c.person_id, ids)))
            if rows:
                await self.session.execute(sa.insert(table), _one_per_key(table, rows))

    async def put_employment(self, employment: dict[str, Any]) -> None:
        await upsert(self.session, ProjectedEmployment, [employment], key=["employment_id"])

    async def persons_by_subject(self, subject_refs: Collection[str]) -> list[ProjectedPerson]:
        """The registered persons of these subject_refs."""
        found: list[ProjectedPerson] = []
        refs = list(subject_refs)
        for start in range(0, len(refs), 5000):
            chunk = refs[start : start + 5000]
            rows = await self.session.execute(
                select(ProjectedPerson).where(col(ProjectedPerson.subject_ref).in_(chunk))
            )
            found.extend(rows.scalars())
        return found

    async def open_employments(self, person_ids: Collection[uuid.UUID]) -> list[ProjectedEmployment]:
        found: list[ProjectedEmployment] = []
        ids = list(person_ids)
        for start in range(0, len(ids), 5000):
            rows = await self.session.execute(
                select(ProjectedEmployment).where(
                    col(ProjectedEmployment.person_id).in_(ids[start : start + 5000]),
                    col(ProjectedEmployment.ended_on).is_(None),
                )
            )
            found.extend(rows.scalars())
        return found

    async def categories(self, person_ids: Collection[uuid.UUID]) -> list[ProjectedCategory]:
        found: list[ProjectedCategory] = []
        ids = list(person_ids)
        for start in range(0, len(ids), 5000):
            rows = await self.session.execute(
                select(ProjectedCategory).where(col(ProjectedCategory.person_id).in_(ids[start : start + 5000]))
            )
            found.extend(rows.scalars())
        return found


@dataclass(frozen=True)
class PersonRows:
    """A person snapshot as the projection's rows."""

    person: dict[str, Any]
    registrations: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    trainings: list[dict[str, Any]]


def _one_per_key(table: sa.Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per primary key. A category listed twice with the same start (active and ended, say)
    is kept with the later end (none is latest)."""
    key = [column.name for column in table.primary_key.columns]
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        at = tuple(row[name] for name in key)
        before = kept.get(at)
        if before is None or _later_end(row.get("valid_until"), before.get("valid_until")):
            kept[at] = row
    return list(kept.values())


def _later_end(new: Any, old: Any) -> bool:
    return old is not None and (new is None or new > old)
