"""Every query on agreements."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.kit.db import upsert
from services.kit.pagination import paginate

from ..tables import SharingAgreement
from .schemas import AgreementsCursor


class AgreementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, agreement: SharingAgreement) -> None:
        self.session.add(agreement)

    async def get(self, agreement_id: uuid.UUID, *, for_update: bool = False) -> SharingAgreement | None:
        query = select(SharingAgreement).where(col(SharingAgreement.agreement_id) == agreement_id)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def page(
        self, *, direction: str | None, consumer_agency: str | None, dataset: str | None, limit: int, cursor: str | None
    ) -> tuple[list[SharingAgreement], str | None]:
        query = select(SharingAgreement)
        if direction is not None:
            query = query.where(col(SharingAgreement.direction) == direction)
        if consumer_agency is not None:
            query = query.where(col(SharingAgreement.consumer_agency) == consumer_agency)
        if dataset is not None:
            query = query.where(col(SharingAgreement.dataset) == dataset)
        return await paginate(
            self.session,
            query,
            keys=[col(SharingAgreement.created_at), col(SharingAgreement.agreement_id)],
            position=AgreementsCursor,
            limit=limit,
            cursor=cursor,
        )

    async def put_inbound(self, rows: list[dict[str, Any]]) -> None:
        """Declared agreements, in step with the catalogue: what they say is overwritten, when they
        were first recorded is kept."""
        await upsert(
            self.session,
            SharingAgreement,
            rows,
            key=["agreement_id"],
            update=["provider_agency", "consumer_agency", "dataset", "fields", "purpose"],
        )
