"""Raw batch bodies past `SHARING_RAW_BATCH_RETENTION_S` are dropped, a bounded number at a time; the
batch and its counts stay, and younger bodies are kept. Real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.kit.db import Database, utcnow
from services.sharing.batches.retention import BATCH, purge_raw_batches
from tests.support import PostgresDatabases

pytestmark = pytest.mark.integration


def batch(age: timedelta) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "agency": "civil_affairs",
        "dataset": "dibao",
        "submitted_by": "client",
        "request_id": uuid.uuid4().hex,
        "content_type": "application/json",
        "raw_sealed": b"sealed body",
        "raw_key_id": "k1",
        "raw_size": 11,
        "record_count": 3,
        "accepted_count": 2,
        "rejected_count": 1,
        "received_at": utcnow() - age,
    }


async def test_raw_bodies_past_the_retention_are_dropped_and_the_batches_stay(databases: PostgresDatabases) -> None:
    db = Database(await databases.migrated("sharing"))
    old = [batch(timedelta(days=200)) for _ in range(5)]
    young = [batch(timedelta(days=10)) for _ in range(3)]
    try:
        async with db.sessionmaker() as session, session.begin():
            await session.execute(sa.insert(BATCH), old + young)
        retention = timedelta(days=180)
        assert await purge_raw_batches(db, retention, batch=2) == 2  # bounded
        assert await purge_raw_batches(db, retention, batch=2) == 2
        assert await purge_raw_batches(db, retention, batch=2) == 1
        assert await purge_raw_batches(db, retention, batch=2) == 0
        async with db.engine.connect() as c:
            rows = {r.id: r for r in await c.execute(sa.select(BATCH))}
    finally:
        await db.dispose()
    assert len(rows) == 8  # no batch deleted
    for kept in young:
        assert rows[kept["id"]].raw_sealed == b"sealed body"
        assert rows[kept["id"]].raw_purged_at is None
    for purged in old:
        assert rows[purged["id"]].raw_sealed is None
        assert rows[purged["id"]].raw_purged_at is not None
        assert (rows[purged["id"]].record_count, rows[purged["id"]].accepted_count) == (3, 2)
