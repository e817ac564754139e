"""Business rules of large-scale unemployment warnings: each separation at an employer (an end other
than retirement or death) counts its separations in the window to the bureau's today; crossing a
tier upward raises a warning for that tier, once per episode, in the transaction of the separation,
and publishes it on `monitoring.warning.v1`. An operator closes a warning; the episode goes on until
the count falls below the lowest tier."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contracts.envelope import new_event
from contracts.monitoring import WARNING_CLOSED, WARNING_RAISED, EmploymentWarning, WarningLevel, WarningStatus
from contracts.topics import MONITORING_WARNING
from contracts.vocabulary import EndReason
from services.kit.db import upsert, utcnow
from services.kit.identity import Caller
from services.kit.outbox import add_event
from services.kit.pagination import paginate

from ..problems import WarningNotFound
from ..tables import EmployerRisk, Employment
from ..tables import EmploymentWarning as WarningRow
from .schemas import WarningPage, WarningsCursor

SOURCE = "/registry"
NOT_SEPARATIONS = (EndReason.retired.value, EndReason.deceased.value)
RANK = {level: rank for rank, level in enumerate(WarningLevel)}


def is_separation(reason: EndReason) -> bool:
    return reason.value not in NOT_SEPARATIONS


def tier_of(count: int, tiers: dict[WarningLevel, int]) -> WarningLevel | None:
    """The highest tier whose threshold the count reaches."""
    reached = [level for level in WarningLevel if level in tiers and count >= tiers[level]]
    return reached[-1] if reached else None


class WarningService:
    def __init__(self, session: AsyncSession, *, tiers: dict[WarningLevel, int], window_days: int) -> None:
        self.session = session
        self.tiers = tiers
        self.window = timedelta(days=window_days)

    async def separation_recorded(self, employment: Employment, today: date) -> WarningRow | None:
        """After a separation at `employment`'s employer (flushed in this transaction): the warning it
        raises, if it takes the employer's count across a tier above the episode's."""
        code = employment.employer_credit_code
        await upsert(
            self.session,
            EmployerRisk,
            [{"employer_credit_code": code, "level": None}],
            key=["employer_credit_code"],
            keep_existing=True,
        )
        risk = (
            await self.session.execute(
                select(EmployerRisk)
                .where(col(EmployerRisk.employer_credit_code) == code)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        count = await self.separations(code, today)
        reached = tier_of(count, self.tiers)
        current = WarningLevel(risk.level) if risk.level else None
        raised: WarningRow | None = None
        if reached is None:
            risk.level = None  # below the lowest tier: the episode, if any, is over
        elif current is None or RANK[reached] > RANK[current]:
            risk.level = reached.value
            row = WarningRow(
                employer_credit_code=code,
                employer_name=employment.employer_name,
                level=reached.value,
                separations_30d=count,
                threshold=self.tiers[reached],
                as_of=today,
                raised_at=utcnow(),
            )
            self.session.add(row)
            self._publish(row, WARNING_RAISED)
            raised = row
        risk.updated_at = utcnow()
        self.session.add(risk)
        await self.session.flush()
        return raised

    async def separations(self, employer_credit_code: str, today: date) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(Employment)
            .where(
                col(Employment.employer_credit_code) == employer_credit_code,
                col(Employment.ended_on) > today - self.window,
                col(Employment.ended_on) <= today,
                sa.or_(col(Employment.end_reason).is_(None), col(Employment.end_reason).not_in(NOT_SEPARATIONS)),
            )
        )
        return int((await self.session.execute(query)).scalar_one())

    async def page(
        self, *, level: WarningLevel | None, status: WarningStatus | None, limit: int, cursor: str | None
    ) -> WarningPage:
        query = select(WarningRow)
        if level is not None:
            query = query.where(col(WarningRow.level) == level.value)
        if status is not None:
            query = query.where(col(WarningRow.status) == status.value)
        rows, next_cursor = await paginate(
            self.session,
            query,
            keys=[col(WarningRow.raised_at), col(WarningRow.warning_id)],
            position=WarningsCursor,
            limit=limit,
            cursor=cursor,
        )
        return WarningPage(items=[read(row) for row in rows], next_cursor=next_cursor)

    async def close(self, caller: Caller, warning_id: uuid.UUID, note: str) -> EmploymentWarning:
        """Closes an open warning and publishes it; closing a closed one changes nothing."""
        row = await self.session.get(WarningRow, warning_id, with_for_update=True)
        if row is None:
            raise WarningNotFound(f"no warning {warning_id}")
        if row.status == WarningStatus.open:
            row.status = WarningStatus.closed.value
            row.closed_at = utcnow()
            row.closed_by = caller.client_id[:255]
            row.note = note
            self.session.add(row)
            await self.session.flush()
            self._publish(row, WARNING_CLOSED)
        return read(row)

    def _publish(self, row: WarningRow, kind: str) -> None:
        event = new_event(source=SOURCE, type=kind, subject=None, data=read(row))
        add_event(self.session, MONITORING_WARNING, key=row.employer_credit_code, event=event)


def read(row: WarningRow) -> EmploymentWarning:
    return EmploymentWarning(
        warning_id=row.warning_id,
        employer_credit_code=row.employer_credit_code,
        employer_name=row.employer_name,
        level=WarningLevel(row.level),
        separations_30d=row.separations_30d,
        threshold=row.threshold,
        as_of=row.as_of,
        raised_at=row.raised_at,
        status=WarningStatus(row.status),
        closed_at=row.closed_at,
        note=row.note,
    )
