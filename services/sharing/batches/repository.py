"""Every query on batches and their record outcomes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.kit.pagination import paginate

from ..tables import SharingBatch, SharingRecord
from .schemas import Outcome, RecordsCursor


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A record outcome to insert with its batch (a plain value: building ten thousand table models
    costs more than validating the records)."""

    record_index: int
    outcome: str
    id_number_masked: str | None
    subject_ref: str | None = None
    fact_key: str | None = None
    fact_id: uuid.UUID | None = None
    errors: list[dict[str, Any]] | None = None


class BatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, batch: SharingBatch) -> None:
        self.session.add(batch)
        await self.session.flush()

    async def add_records(self, batch_id: uuid.UUID, records: Sequence[NewRecord]) -> None:
        # One multi-row INSERT: a batch may hold ten thousand records, and the ORM unit of work
        # would track each one for nothing.
        if not records:
            return
        rows = [
            {
                "batch_id": batch_id,
                "record_index": r.record_index,
                "outcome": r.outcome,
                "id_number_masked": r.id_number_masked,
                "subject_ref": r.subject_ref,
                "fact_key": r.fact_key,
                "fact_id": r.fact_id,
                "errors": r.errors,
            }
            for r in records
        ]
        await self.session.execute(sa.insert(SharingRecord), rows)

    async def get(self, batch_id: uuid.UUID) -> SharingBatch | None:
        return await self.session.get(SharingBatch, batch_id)

    async def records(
        self, batch_id: uuid.UUID, *, outcome: Outcome | None, limit: int, cursor: str | None
    ) -> tuple[list[SharingRecord], str | None]:
        """One page of a batch's record outcomes in record order, and the cursor of the next."""
        query = select(SharingRecord).where(col(SharingRecord.batch_id) == batch_id)
        if outcome is not None:
            query = query.where(col(SharingRecord.outcome) == outcome)
        return await paginate(
            self.session,
            query,
            keys=[col(SharingRecord.record_index)],
            position=RecordsCursor,
            limit=limit,
            cursor=cursor,
        )
