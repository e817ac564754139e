"""Raw batches are kept sealed for `SHARING_RAW_BATCH_RETENTION_S` (180 days), then their raw body is
dropped: it holds raw id numbers, kept only to show what an agency sent. The batch row, its counts
and its records' outcomes stay, so `GET /sharing/v1/batches/{id}` answers as before."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

import sqlalchemy as sa
from fastapi import FastAPI

from services.kit.db import Database, utcnow
from services.kit.tasks import purge_periodically
from services.sharing.settings import SharingSettings
from services.sharing.tables import SharingBatch

RAW_PURGE_BATCH = 1000
BATCH = cast(sa.Table, SharingBatch.__table__)  # type: ignore[attr-defined]


async def purge_raw_batches(db: Database, retention: timedelta, batch: int = RAW_PURGE_BATCH) -> int:
    """Drop the raw body of up to `batch` batches received more than `retention` ago; returns how many."""
    cutoff = utcnow() - retention
    due = (
        sa.select(BATCH.c.id)
        .where(BATCH.c.raw_purged_at.is_(None), BATCH.c.received_at < cutoff)
        .order_by(BATCH.c.received_at)
        .limit(batch)
    )
    async with db.sessionmaker() as session, session.begin():
        result = await session.execute(
            sa.update(BATCH)
            .where(BATCH.c.id.in_(due.scalar_subquery()))
            .values(raw_sealed=None, raw_purged_at=utcnow())
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_raw_periodically(app: FastAPI) -> None:
    """Background task: the raw bodies past the retention, every hour."""
    db: Database = app.state.db
    settings: SharingSettings = app.state.settings
    retention = timedelta(seconds=settings.raw_batch_retention_s)
    await purge_periodically("raw batch", lambda: purge_raw_batches(db, retention), batch=RAW_PURGE_BATCH)
