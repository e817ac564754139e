"""Every query of the payments feature."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.kit.pagination import paginate
from services.subsidy.payments.schemas import PaymentsCursor
from services.subsidy.tables import Payment


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, payment_id: uuid.UUID) -> Payment | None:
        return await self.session.get(Payment, payment_id, populate_existing=True)

    async def of_applications(self, application_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Payment]:
        """Each application's latest payment (an application may have failed ones before it)."""
        if not application_ids:
            return {}
        result = await self.session.execute(
            select(Payment)
            .where(col(Payment.application_id).in_(application_ids))
            .order_by(col(Payment.instructed_at), col(Payment.payment_id))
        )
        return {p.application_id: p for p in result.scalars()}

    async def page(
        self, *, limit: int, cursor: str | None, application_id: uuid.UUID | None
    ) -> tuple[list[Payment], str | None]:
        """One page of payments by payment_id, and the cursor of the next."""
        query = select(Payment)
        if application_id is not None:
            query = query.where(Payment.application_id == application_id)
        return await paginate(
            self.session, query, keys=[col(Payment.payment_id)], position=PaymentsCursor, limit=limit, cursor=cursor
        )

    async def resolve(self, payment_id: uuid.UUID, **values: object) -> bool:
        """Move an instructed payment to settled or failed; False when it is no longer instructed."""
        result = await self.session.execute(
            update(Payment)
            .where(col(Payment.payment_id) == payment_id, col(Payment.status) == "instructed")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    def add(self, payment: Payment) -> None:
        self.session.add(payment)
