"""Every query of the projections: people, their category history, employments, businesses, and
the `Facts` the programmes read them through."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contracts.registry import EmploymentSnapshot, PersonSnapshot
from services.kit.db import among, upsert
from services.subsidy.programmes.base import BusinessRecord
from services.subsidy.programmes.rules import CategoryRecord, held_category
from services.subsidy.tables import ProjectedBusiness, ProjectedCategory, ProjectedEmployment, ProjectedPerson

CategoryKey = tuple[str, str, date]


@dataclass(slots=True)
class Listed:
    """What may change in a kept category (`ProjectedCategory`); its key is a `CategoryKey`:
    category, source, valid_from."""

    valid_until: date | None
    withdrawn_on: date | None
    last_listed_version: int


class ProjectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def person(self, person_id: uuid.UUID, *, lock: Literal["share"] | None = None) -> ProjectedPerson | None:
        if lock == "share":
            return await self.session.get(
                ProjectedPerson, person_id, with_for_update={"read": True}, populate_existing=True
            )
        return await self.session.get(ProjectedPerson, person_id)

    async def employment(self, employment_id: uuid.UUID, *, for_update: bool = False) -> ProjectedEmployment | None:
        return await self.session.get(ProjectedEmployment, employment_id, with_for_update=for_update)

    async def business(self, credit_code: str, *, for_update: bool = False) -> ProjectedBusiness | None:
        return await self.session.get(ProjectedBusiness, credit_code, with_for_update=for_update)

    async def lock_persons(self, person_ids: set[uuid.UUID]) -> None:
        """Take the rows of these projected persons FOR UPDATE, in one order (no deadlock between
        consumers): a judgement of their applications holds them FOR SHARE (evaluation.py)."""
        if person_ids:
            await self.session.execute(
                select(ProjectedPerson.person_id)
                .where(col(ProjectedPerson.person_id).in_(person_ids))
                .order_by(col(ProjectedPerson.person_id))
                .with_for_update()
            )

    async def founders_of(self, credit_code: str) -> set[uuid.UUID]:
        """The persons who are the legal representative of this business, as last reported."""
        business = await self.business(credit_code)
        return set() if business is None else set(await self.persons_with_subject_ref(business.legal_rep_subject_ref))

    async def persons_with_subject_ref(self, subject_ref: str) -> list[uuid.UUID]:
        result = await self.session.execute(
            select(ProjectedPerson.person_id).where(ProjectedPerson.subject_ref == subject_ref)
        )
        return list(result.scalars())

    async def person_versions(self, person_ids: set[uuid.UUID]) -> dict[uuid.UUID, int]:
        """The kept versions of these persons, their rows taken FOR UPDATE in one order."""
        if not person_ids:
            return {}
        rows = await self.session.execute(
            select(ProjectedPerson.person_id, ProjectedPerson.version)
            .where(among(self.session, col(ProjectedPerson.person_id), person_ids))
            .order_by(col(ProjectedPerson.person_id))
            .with_for_update()
        )
        return {person_id: version for person_id, version in rows}

    async def category_histories(self, person_ids: set[uuid.UUID]) -> dict[uuid.UUID, dict[CategoryKey, Listed]]:
        """Every category kept for these persons, by person and key."""
        found: dict[uuid.UUID, dict[CategoryKey, Listed]] = {}
        if person_ids:
            c = ProjectedCategory.__table__.c  # type: ignore[attr-defined]
            rows = await self.session.execute(
                sa.select(c.person_id, c.category, c.source, c.valid_from)
                .add_columns(c.valid_until, c.withdrawn_on, c.last_listed_version)
                .where(among(self.session, c.person_id, person_ids))
            )
            for person_id, category, source, valid_from, valid_until, withdrawn_on, version in rows:
                found.setdefault(person_id, {})[(category, source, valid_from)] = Listed(
                    valid_until, withdrawn_on, version
                )
        return found

    async def put_persons(self, rows: list[dict[str, Any]]) -> None:
        await upsert(self.session, ProjectedPerson, rows, key=["person_id"])

    async def put_categories(self, rows: list[dict[str, Any]]) -> None:
        await upsert(self.session, ProjectedCategory, rows, key=["person_id", "category", "source", "valid_from"])

    async def categories(self, person_id: uuid.UUID) -> list[ProjectedCategory]:
        result = await self.session.execute(select(ProjectedCategory).where(ProjectedCategory.person_id == person_id))
        return list(result.scalars())

    async def employments_of(self, person_id: uuid.UUID) -> list[ProjectedEmployment]:
        result = await self.session.execute(
            select(ProjectedEmployment)
            .where(ProjectedEmployment.person_id == person_id)
            .order_by(col(ProjectedEmployment.employment_id))
        )
        return list(result.scalars())

    async def employments_at(self, credit_code: str) -> list[ProjectedEmployment]:
        result = await self.session.execute(
            select(ProjectedEmployment)
            .where(ProjectedEmployment.employer_credit_code == credit_code)
            .order_by(col(ProjectedEmployment.employment_id))
        )
        return list(result.scalars())

    async def businesses_of(self, subject_ref: str) -> list[ProjectedBusiness]:
        result = await self.session.execute(
            select(ProjectedBusiness)
            .where(ProjectedBusiness.legal_rep_subject_ref == subject_ref)
            .order_by(col(ProjectedBusiness.established_on))
        )
        return list(result.scalars())

    def add(self, row: ProjectedPerson | ProjectedEmployment | ProjectedCategory | ProjectedBusiness) -> None:
        self.session.add(row)


def _business(row: ProjectedBusiness) -> BusinessRecord:
    return BusinessRecord(row.credit_code, row.name, row.legal_rep_subject_ref, row.established_on, row.deregistered_on)


class ProjectionFacts:
    """The programmes' read-only view of the projections (`programmes.base.Facts`)."""

    def __init__(self, session: AsyncSession) -> None:
        self.repo = ProjectionRepository(session)

    async def person(self, person_id: uuid.UUID) -> PersonSnapshot | None:
        row = await self.repo.person(person_id)
        return None if row is None else PersonSnapshot.model_validate(row.snapshot)

    async def categories(self, person_id: uuid.UUID) -> list[CategoryRecord]:
        return [
            CategoryRecord(held_category(c.category), c.source, c.valid_from, c.valid_until, c.withdrawn_on)
            for c in await self.repo.categories(person_id)
        ]

    async def employment(self, employment_id: uuid.UUID) -> EmploymentSnapshot | None:
        row = await self.repo.employment(employment_id)
        return None if row is None else EmploymentSnapshot.model_validate(row.snapshot)

    async def employments_of(self, person_id: uuid.UUID) -> list[EmploymentSnapshot]:
        return [EmploymentSnapshot.model_validate(r.snapshot) for r in await self.repo.employments_of(person_id)]

    async def employments_at(self, credit_code: str) -> list[EmploymentSnapshot]:
        return [EmploymentSnapshot.model_validate(r.snapshot) for r in await self.repo.employments_at(credit_code)]

    async def business(self, credit_code: str) -> BusinessRecord | None:
        row = await self.repo.business(credit_code)
        return None if row is None else _business(row)

    async def businesses_of(self, subject_ref: str) -> list[BusinessRecord]:
        return [_business(r) for r in await self.repo.businesses_of(subject_ref)]
