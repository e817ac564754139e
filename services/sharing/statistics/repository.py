"""Every count behind a statistics report: indexed aggregate queries over sharing's projection of the
registry, grouped by town, and the final reports kept."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contracts.statistics import CATEGORY_MEASURE_PREFIX
from contracts.vocabulary import EndReason
from services.kit.db import upsert

from ..tables import (
    ProjectedCategory,
    ProjectedEmployment,
    ProjectedPerson,
    ProjectedRegistration,
    ProjectedTraining,
    StatisticsReportRow,
)

UNKNOWN_TOWN = "unknown"
NOT_SEPARATIONS = (EndReason.retired.value, EndReason.deceased.value)
Counts = dict[tuple[str, str], int]
"""(town, measure) -> count."""


class StatisticsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def towns(self) -> list[str]:
        rows = await self.session.execute(select(ProjectedPerson.town).distinct())
        return sorted({town or UNKNOWN_TOWN for town in rows.scalars()})

    async def counts(self, first: date, last: date) -> Counts:
        """Every measure's count per town for the month from `first` to `last`."""
        town = sa.func.coalesce(col(ProjectedPerson.town), UNKNOWN_TOWN).label("town")
        counts: Counts = {}

        async def gather(measure: str, query: sa.Select[Any, Any]) -> None:
            for row_town, count in (await self.session.execute(query)).all():
                counts[(row_town, measure)] = int(count)

        registration = ProjectedRegistration
        await gather(
            "registered_unemployed",
            sa.select(town, sa.func.count(sa.distinct(col(registration.person_id))))
            .select_from(registration)
            .join(ProjectedPerson, col(ProjectedPerson.person_id) == col(registration.person_id))
            .where(
                col(registration.registered_on) <= last,
                sa.or_(col(registration.closed_on).is_(None), col(registration.closed_on) > last),
            )
            .group_by(town),
        )
        employment = ProjectedEmployment
        await gather(
            "new_employments",
            sa.select(town, sa.func.count())
            .select_from(employment)
            .join(ProjectedPerson, col(ProjectedPerson.person_id) == col(employment.person_id))
            .where(col(employment.started_on) >= first, col(employment.started_on) <= last)
            .group_by(town),
        )
        await gather(
            "separations",
            sa.select(town, sa.func.count())
            .select_from(employment)
            .join(ProjectedPerson, col(ProjectedPerson.person_id) == col(employment.person_id))
            .where(
                col(employment.ended_on) >= first,
                col(employment.ended_on) <= last,
                # SPEC 2.1: an end by retirement or death is not a separation.
                sa.or_(col(employment.end_reason).is_(None), col(employment.end_reason).not_in(NOT_SEPARATIONS)),
            )
            .group_by(town),
        )
        await gather(
            "trainings_completed",
            sa.select(town, sa.func.count())
            .select_from(ProjectedTraining)
            .join(ProjectedPerson, col(ProjectedPerson.person_id) == col(ProjectedTraining.person_id))
            .where(col(ProjectedTraining.completed_on) >= first, col(ProjectedTraining.completed_on) <= last)
            .group_by(town),
        )
        category = ProjectedCategory
        rows = await self.session.execute(
            sa.select(town, col(category.category), sa.func.count(sa.distinct(col(category.person_id))))
            .select_from(category)
            .join(ProjectedPerson, col(ProjectedPerson.person_id) == col(category.person_id))
            .where(
                col(category.valid_from) <= last,
                sa.or_(col(category.valid_until).is_(None), col(category.valid_until) >= last),
            )
            .group_by(town, col(category.category))
        )
        for row_town, name, count in rows.all():
            counts[(row_town, CATEGORY_MEASURE_PREFIX + name)] = int(count)
        return counts

    async def final(self, period: str) -> StatisticsReportRow | None:
        return await self.session.get(StatisticsReportRow, period)

    async def keep_final(self, row: StatisticsReportRow) -> StatisticsReportRow:
        """Keep a month's final report unless one is kept already (another replica's, say); the one kept."""
        values = {
            "period": row.period,
            "report_id": row.report_id,
            "generated_at": row.generated_at,
            "report": row.report,
        }
        await upsert(self.session, StatisticsReportRow, [values], key=["period"], keep_existing=True)
        kept = (
            await self.session.execute(
                select(StatisticsReportRow)
                .where(col(StatisticsReportRow.period) == row.period)
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        return kept
