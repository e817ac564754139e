"""Retention: sent outbox rows and processed inbox entries older than it are deleted in bounded
batches; unsent rows, recent rows and entries their group has not committed past are kept."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.db import Database, utcnow
from services.kit.inbox import ConsumerPosition, InboxEntry, purge_processed
from services.kit.migrations import upgrade
from services.kit.outbox import OUTBOX, purge_sent
from tests.support import PostgresDatabases

pytestmark = pytest.mark.integration

WEEK = timedelta(days=7)


async def database(kind: str, databases: PostgresDatabases, tmp_path: Path) -> Database:
    if kind == "postgresql":
        return Database(await databases.migrated("subsidy"))
    url = f"sqlite+aiosqlite:///{tmp_path}/subsidy.db"
    await asyncio.to_thread(upgrade, "subsidy", url)
    return Database(url)


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_sent_rows_past_the_retention_go_and_the_others_stay(
    kind: str, databases: PostgresDatabases, tmp_path: Path
) -> None:
    db = await database(kind, databases, tmp_path)
    now = utcnow()
    rows = [
        ("old-sent", now - timedelta(days=9), now - timedelta(days=8)),
        ("old-sent-2", now - timedelta(days=9), now - timedelta(days=7, hours=1)),
        ("old-unsent", now - timedelta(days=9), None),
        ("recent-sent", now - timedelta(days=2), now - timedelta(days=1)),
    ]
    try:
        async with db.sessionmaker() as session, session.begin():
            await session.execute(
                sa.insert(OUTBOX),
                [
                    {
                        "topic": "t",
                        "key": key,
                        "event_id": key,
                        "payload": b"{}",
                        "created_at": created,
                        "sent_at": sent,
                    }
                    for key, created, sent in rows
                ],
            )
        assert await purge_sent(db, WEEK, batch=1) == 1, "a bounded batch at a time"
        assert await purge_sent(db, WEEK, batch=1) == 1
        assert await purge_sent(db, WEEK, batch=1) == 0
        async with db.sessionmaker() as session:
            left = set((await session.execute(sa.select(OUTBOX.c.key))).scalars())
        assert left == {"old-unsent", "recent-sent"}
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_processed_entries_go_only_once_old_and_committed_past(
    kind: str, databases: PostgresDatabases, tmp_path: Path
) -> None:
    db = await database(kind, databases, tmp_path)
    now, old = utcnow(), utcnow() - timedelta(days=8)
    group = "subsidy.registry-projection"
    entries = [
        # (event id, partition, offset, processed at)
        ("old-passed", 0, 10, old),
        ("old-passed-p1", 1, 3, old),
        ("old-at-position", 0, 20, old),  # the group's next offset is 20: not passed yet
        ("old-other-group", 0, 5, old),
        ("recent-passed", 0, 15, now),
    ]
    try:
        async with db.sessionmaker() as session, session.begin():
            for event_id, partition, offset, at in entries:
                session.add(
                    InboxEntry(
                        consumer="other.group" if "other" in event_id else group,
                        event_source="/registry",
                        event_id=event_id,
                        topic="registry.person.v1",
                        partition=partition,
                        offset=offset,
                        processed_at=at,
                    )
                )
            session.add(ConsumerPosition(consumer=group, topic="registry.person.v1", partition=0, next_offset=20))
            session.add(ConsumerPosition(consumer=group, topic="registry.person.v1", partition=1, next_offset=4))
        purged = 0
        while found := await purge_processed(db, WEEK, batch=1):
            purged += found
        async with db.sessionmaker() as session:
            left = set((await session.execute(sa.select(InboxEntry.event_id))).scalars())  # type: ignore[call-overload]
        assert purged == 2
        assert left == {"old-at-position", "old-other-group", "recent-passed"}
    finally:
        await db.dispose()
