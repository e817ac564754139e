"""The counts behind the indicators: indexed aggregate queries over the registry's own tables (no
row-by-row work in Python), for the district or one town, or grouped by town for the metrics."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.vocabulary import EmploymentKind, HukouType

from ..tables import Employment, LabourForce, Person, Training, UnemploymentRegistration


class IndicatorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def counts(
        self, first: date, last: date, as_of: date, *, by_town: bool, town: str | None
    ) -> dict[str | None, dict[str, int]]:
        """Per town (None: the whole district, unless `by_town`): each count of the period."""
        person_town = col(Person.town)
        results: dict[str | None, dict[str, int]] = {}

        async def gather(name: str, query: sa.Select[Any]) -> None:
            if town is not None:
                query = query.where(person_town == town)
            if by_town:
                query = query.add_columns(person_town).group_by(person_town)
            rows = (await self.session.execute(query)).all()
            for row in rows:
                key = row[1] if by_town else town
                results.setdefault(key, {})[name] = int(row[0])

        employment = Employment
        started = sa.and_(col(employment.started_on) >= first, col(employment.started_on) <= last)
        joined_employment = (
            sa.select(sa.func.count())
            .select_from(employment)
            .join(Person, col(Person.person_id) == col(employment.person_id))
        )
        await gather("new_urban_jobs", joined_employment.where(started))
        await gather(
            "new_entrepreneurs",
            joined_employment.where(started, col(employment.kind) == EmploymentKind.self_employed.value),
        )
        await gather(
            "trained",
            sa.select(sa.func.count())
            .select_from(Training)
            .join(Person, col(Person.person_id) == col(Training.person_id))
            .where(col(Training.completed_on) >= first, col(Training.completed_on) <= last),
        )
        registration = UnemploymentRegistration
        open_at_end = sa.and_(
            col(registration.registered_on) <= as_of,
            sa.or_(col(registration.closed_on).is_(None), col(registration.closed_on) > as_of),
        )
        registered = (
            sa.select(sa.func.count(sa.distinct(col(registration.person_id))))
            .select_from(registration)
            .join(Person, col(Person.person_id) == col(registration.person_id))
            .where(open_at_end)
        )
        await gather("registered_unemployed", registered)
        await gather("registered_urban_unemployed", registered.where(col(Person.hukou_type) == HukouType.urban.value))
        return results

    async def labour_force(self, first_month: str, last_month: str) -> LabourForce | None:
        """The latest month's figure reported between the two months."""
        return (
            await self.session.execute(
                sa.select(LabourForce)
                .where(col(LabourForce.period) >= first_month, col(LabourForce.period) <= last_month)
                .order_by(col(LabourForce.period).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
