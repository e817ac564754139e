"""Every query of the applications feature, and of the grants approvals use up."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contracts.subsidy import ApplicationStatus
from contracts.vocabulary import Programme
from services.kit.clock import bureau_date
from services.kit.pagination import paginate
from services.subsidy.applications.schemas import ApplicationsCursor
from services.subsidy.lifecycle import UNDECIDED, check_application_move
from services.subsidy.programmes import rules
from services.subsidy.tables import OPEN_APPLICATION_STATUSES, Application, Grant, Payment


class ApplicationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, application_id: uuid.UUID, *, for_update: bool = False) -> Application | None:
        return await self.session.get(Application, application_id, populate_existing=True, with_for_update=for_update)

    async def open_one_time(self, programme: str, beneficiary: uuid.UUID) -> Application | None:
        """The open application (submitted, eligible or ineligible) of a one-time programme for the
        beneficiary, if any: there is at most one."""
        result = await self.session.execute(
            select(Application)
            .where(Application.programme == programme, Application.beneficiary_person_id == beneficiary)
            .where(col(Application.one_time), col(Application.status).in_(OPEN_APPLICATION_STATUSES))
        )
        return result.scalars().first()

    async def any_submitted(self) -> bool:
        return bool(await self.session.scalar(select(sa.exists().where(col(Application.status) == "submitted"))))

    async def submitted(
        self, *, caught_up_to: datetime | None, waited_since: datetime, skip: Collection[uuid.UUID], limit: int
    ) -> list[Application]:
        """Applications waiting for their first evaluation that may be judged now, oldest first: the
        projections have caught up with their submission, or they waited long enough; `skip` are those
        a round found still lacking facts a moment ago."""
        ready = col(Application.created_at) <= waited_since
        if caught_up_to is not None:
            ready = sa.or_(ready, col(Application.created_at) <= caught_up_to)
        query = select(Application).where(Application.status == "submitted", ready)
        if skip:
            query = query.where(col(Application.application_id).not_in(list(skip)))
        result = await self.session.execute(query.order_by(col(Application.created_at)).limit(limit))
        return list(result.scalars())

    async def undecided_for(
        self, *, beneficiaries: Collection[uuid.UUID] = (), businesses: Collection[str] = ()
    ) -> list[Application]:
        """Eligible and ineligible applications of these beneficiaries or naming these businesses."""
        conditions = []
        if beneficiaries:
            conditions.append(col(Application.beneficiary_person_id).in_(set(beneficiaries)))
        if businesses:
            conditions.append(col(Application.business_credit_code).in_(set(businesses)))
        if not conditions:
            return []
        result = await self.session.execute(
            select(Application)
            .where(col(Application.status).in_(UNDECIDED), sa.or_(*conditions))
            .order_by(col(Application.created_at))
        )
        return list(result.scalars())

    async def granted(
        self, programme: str, beneficiary: uuid.UUID, units: Sequence[str], *, exclude: uuid.UUID | None
    ) -> list[rules.Grant]:
        """Which of these units other applications were granted, with their status and payment day."""
        if not units:
            return []
        query = (
            select(Grant, Application, Payment)
            .join(Application, col(Application.application_id) == col(Grant.application_id))
            .outerjoin(
                Payment,
                sa.and_(col(Payment.application_id) == col(Grant.application_id), col(Payment.status) == "settled"),
            )
            .where(Grant.programme == programme, Grant.beneficiary_person_id == beneficiary)
            .where(col(Grant.unit).in_(list(units)))
            .order_by(col(Grant.unit))
        )
        if exclude is not None:
            query = query.where(col(Grant.application_id) != exclude)
        return [
            rules.Grant(
                grant.unit,
                grant.application_id,
                application.status,
                bureau_date(payment.resolved_at) if payment is not None and payment.resolved_at else None,
            )
            for grant, application, payment in (await self.session.execute(query)).all()
        ]

    def add_grants(self, application: Application, units: Sequence[str]) -> None:
        for unit in units:
            self.session.add(
                Grant(
                    programme=application.programme,
                    beneficiary_person_id=application.beneficiary_person_id,
                    unit=unit,
                    application_id=application.application_id,
                )
            )

    async def transition(self, application_id: uuid.UUID, from_status: str, to_status: str, **values: object) -> bool:
        """Move an application only if it still has `from_status`; False when another request won."""
        check_application_move(from_status, to_status)
        return await self.update_if(application_id, from_status, status=to_status, **values)

    async def update_if(self, application_id: uuid.UUID, current: str, /, **values: object) -> bool:
        """Change an application only if its status is still `current`; False when another request won."""
        result = await self.session.execute(
            update(Application)
            .where(col(Application.application_id) == application_id, col(Application.status) == current)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    async def page(
        self,
        *,
        limit: int,
        cursor: str | None,
        status: ApplicationStatus | None,
        programme: Programme | None,
        beneficiary: uuid.UUID | None,
    ) -> tuple[list[Application], str | None]:
        """One page of applications by creation, then id, and the cursor of the next."""
        query = select(Application)
        if status is not None:
            query = query.where(Application.status == status)
        if programme is not None:
            query = query.where(Application.programme == programme)
        if beneficiary is not None:
            query = query.where(Application.beneficiary_person_id == beneficiary)
        return await paginate(
            self.session,
            query,
            keys=[col(Application.created_at), col(Application.application_id)],
            position=ApplicationsCursor,
            limit=limit,
            cursor=cursor,
        )

    def add(self, application: Application) -> None:
        self.session.add(application)
