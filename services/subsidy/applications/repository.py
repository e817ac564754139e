"""Every query of the applications feature."""

from __future__ import annotations

import uuid

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contracts.subsidy import ApplicationStatus
from contracts.vocabulary import Programme
from services.kit.pagination import paginate
from services.subsidy.applications.schemas import ApplicationsCursor
from services.subsidy.tables import LIVE_APPLICATION_STATUSES, Application, Payment


class ApplicationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, application_id: uuid.UUID) -> Application | None:
        return await self.session.get(Application, application_id, populate_existing=True)

    async def live_one_time(self, programme: str, beneficiary: uuid.UUID) -> Application | None:
        """The application that holds a one-time programme's grant for the beneficiary, if any."""
        result = await self.session.execute(
            select(Application)
            .where(Application.programme == programme, Application.beneficiary_person_id == beneficiary)
            .where(col(Application.one_time), col(Application.status).in_(LIVE_APPLICATION_STATUSES))
        )
        return result.scalars().first()

    async def paid(self, programme: str, beneficiary: uuid.UUID) -> list[tuple[Application, Payment | None]]:
        result = await self.session.execute(
            select(Application, Payment)
            .outerjoin(Payment, col(Payment.application_id) == col(Application.application_id))
            .where(Application.programme == programme, Application.beneficiary_person_id == beneficiary)
            .where(Application.status == "paid")
            .order_by(col(Application.created_at))
        )
        return [(application, payment) for application, payment in result.all()]

    async def transition(self, application_id: uuid.UUID, from_status: str, **values: object) -> bool:
        """Change an application only if it still has `from_status`; False when another request won."""
        result = await self.session.execute(
            update(Application)
            .where(col(Application.application_id) == application_id, col(Application.status) == from_status)
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
