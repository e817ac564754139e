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

AnySelect = sa.Select[*tuple[Any, ...]]


class IndicatorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def counts(
        self, first: date, last: date, as_of: date, *, by_town: bool, town: str | None
    ) -> dict[str | None, dict[str, int]]:
        """Per town (None: the whole district, unless `by_town`): each count of the period. Three
        queries, each counting two figures at once where it can (FILTER); persons are joined only
        where a town or the hukou is needed."""
        person_town = col(Person.town)
        per_town = by_town or town is not None
        results: dict[str | None, dict[str, int]] = {}

        async def gather(names: tuple[str, ...], query: AnySelect, person_id: Any, joined: bool) -> None:
            if per_town and not joined:
                query = query.join(Person, col(Person.person_id) == person_id)
            if town is not None:
                query = query.where(person_town == town)
            if by_town:
                query = query.add_columns(person_town).group_by(person_town)
            for row in (await self.session.execute(query)).all():
                key = row[len(names)] if by_town else town
                for index, name in enumerate(names):
                    results.setdefault(key, {})[name] = int(row[index])

        employment = Employment
        await gather(
            ("new_urban_jobs", "new_entrepreneurs"),
            sa.select(
                sa.func.count(),
                sa.func.count().filter(col(employment.kind) == EmploymentKind.self_employed.value),
            )
            .select_from(employment)
            .where(col(employment.started_on) >= first, col(employment.started_on) <= last),
            col(employment.person_id),
            joined=False,
        )
        await gather(
            ("trained",),
            sa.select(sa.func.count())
            .select_from(Training)
            .where(col(Training.completed_on) >= first, col(Training.completed_on) <= last),
            col(Training.person_id),
            joined=False,
        )
        registration = UnemploymentRegistration
        person_id = col(registration.person_id)
        await gather(
            ("registered_unemployed", "registered_urban_unemployed"),
            sa.select(
                sa.func.count(sa.distinct(person_id)),
                sa.func.count(sa.distinct(person_id)).filter(col(Person.hukou_type) == HukouType.urban.value),
            )
            .select_from(registration)
            .join(Person, col(Person.person_id) == person_id)
            .where(
                col(registration.registered_on) <= as_of,
                sa.or_(col(registration.closed_on).is_(None), col(registration.closed_on) > as_of),
            ),
            person_id,
            joined=True,
        )
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
