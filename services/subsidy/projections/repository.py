"""Every query of the registry projection: people, their category history, employments."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from services.subsidy.tables import ProjectedCategory, ProjectedEmployment, ProjectedPerson


class ProjectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def person(self, person_id: uuid.UUID, *, for_update: bool = False) -> ProjectedPerson | None:
        return await self.session.get(ProjectedPerson, person_id, with_for_update=for_update)

    async def employment(self, employment_id: uuid.UUID, *, for_update: bool = False) -> ProjectedEmployment | None:
        return await self.session.get(ProjectedEmployment, employment_id, with_for_update=for_update)

    async def categories(self, person_id: uuid.UUID) -> list[ProjectedCategory]:
        result = await self.session.execute(select(ProjectedCategory).where(ProjectedCategory.person_id == person_id))
        return list(result.scalars())

    async def employments_of(self, person_id: uuid.UUID) -> list[ProjectedEmployment]:
        result = await self.session.execute(
            select(ProjectedEmployment)
            .where(ProjectedEmployment.person_id == person_id)
            .order_by(ProjectedEmployment.employment_id)  # type: ignore[arg-type]
        )
        return list(result.scalars())

    def add(self, row: ProjectedPerson | ProjectedEmployment | ProjectedCategory) -> None:
        self.session.add(row)
