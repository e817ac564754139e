"""Transactional outbox: events are written with the state change and relayed to Kafka after commit.

The relay claims committed rows in id order (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two
relays never send the same row at once), holds back any key whose earlier unsent row another
relay holds, publishes, and marks rows sent in the same transaction that claimed them. A crash
before that commit leaves the rows unsent: they go out again and the consumers' inbox drops the
repeat.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel import Field, SQLModel, col, select

from contracts.envelope import CloudEvent

from .db import Database, UTCDateTime, utcnow
from .faults import crash_point
from .metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISHED

log = logging.getLogger(__name__)

PENDING_FLAG = "outbox_pending"
PENDING_ROWS = "outbox_rows"
SAVEPOINT_MARKS = "outbox_savepoint_marks"
BACKLOG_INTERVAL_S = 1.0


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (sa.Index("ix_outbox_message_unsent", "sent_at", "id"),)

    # SQLite numbers only INTEGER primary keys by itself; PostgreSQL gets a bigint.
    id: int | None = Field(default=None, sa_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    topic: str
    key: str = Field(index=True)
    event_id: str
    payload: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = None


OUTBOX = cast(sa.Table, OutboxMessage.__table__)  # type: ignore[attr-defined]
EARLIER = OUTBOX.alias("earlier")


def add_event(session: AsyncSession, topic: str, key: str, event: CloudEvent) -> None:
    """Queue an event in the caller's transaction; it leaves only if the transaction commits.

    The rows are written in one multi-row INSERT just before the commit (see `_write_outbox`),
    which is much cheaper than an ORM object per event."""
    session.info.setdefault(PENDING_ROWS, []).append(
        {
            "topic": topic,
            "key": key,
            "event_id": event.id,
            "payload": event.to_bytes(),
            "created_at": utcnow(),
            "attempts": 0,
        }
    )
    session.info[PENDING_FLAG] = True


@sa.event.listens_for(Session, "before_commit")
def _write_outbox(session: Session) -> None:
    rows = session.info.pop(PENDING_ROWS, None)
    if rows:
        session.connection().execute(sa.insert(OUTBOX), rows)


@sa.event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(SAVEPOINT_MARKS, {})[id(transaction)] = len(session.info.get(PENDING_ROWS, ()))


@sa.event.listens_for(Session, "after_soft_rollback")
def _drop_outbox(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rolled-back savepoint drops the events queued inside it; a rolled-back transaction all."""
    if previous_transaction.nested:
        mark = session.info.get(SAVEPOINT_MARKS, {}).pop(id(previous_transaction), None)
        rows = session.info.get(PENDING_ROWS)
        if mark is not None and rows is not None:
            del rows[mark:]
        return
    session.info.pop(PENDING_ROWS, None)
    session.info.pop(PENDING_FLAG, None)
    session.info.pop(SAVEPOINT_MARKS, None)


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        producer: AIOKafkaProducer,
        *,
        service: str,
        batch_size: int = 200,
        idle_interval_s: float = 0.5,
        linger_s: float = 0.005,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.db = db
        self.producer = producer
        self.service = service
        self.batch_size = batch_size
        self.idle_interval_s = idle_interval_s
        self.linger_s = linger_s
        self.max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def wake_if_pending(self, session: AsyncSession) -> None:
        if session.info.pop(PENDING_FLAG, False):
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"{self.service}-outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def run(self) -> None:
        """Relay until cancelled; a failed round (database or broker down) is retried, never fatal."""
        backlog_measured = 0.0
        while True:
            try:
                sent = await self.relay_once()
                now = time.monotonic()
                if now - backlog_measured >= BACKLOG_INTERVAL_S:  # busy or idle, the gauge stays fresh
                    await self._update_backlog()
                    backlog_measured = now
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay round failed")
                sent = 0
                await asyncio.sleep(1.0)
            if sent >= self.batch_size:
                continue  # a backlog: go straight on
            if sent == 0:
                self._wake.clear()
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation of
                # stop() when a wake-up lands in the same tick, and stop() would wait forever.
                try:
                    async with asyncio.timeout(self.idle_interval_s):
                        await self._wake.wait()
                except TimeoutError:
                    continue
            # Let the commits of concurrent requests gather, so one round carries many events.
            await asyncio.sleep(self.linger_s)

    async def relay_once(self) -> int:
        """Publish one batch of committed events; returns how many were sent."""
        c = OUTBOX.c
        async with self.db.sessionmaker() as session, session.begin():
            now = utcnow()
            query = (
                sa.select(c.id, c.topic, c.key, c.event_id, c.payload, c.attempts)
                .where(c.sent_at.is_(None))
                .where(sa.or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now))
                # A key whose earlier event waits for a retry waits with it (and does not fill the batch).
                .where(
                    ~sa.exists().where(
                        EARLIER.c.key == c.key,
                        EARLIER.c.id < c.id,
                        EARLIER.c.sent_at.is_(None),
                        EARLIER.c.next_attempt_at > now,
                    )
                )
                .order_by(c.id)
                .limit(self.batch_size)
            )
            if self.db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            rows: list[Any] = list((await session.execute(query)).all())
            if not rows:
                return 0
            rows = await self._in_key_order(session, rows)
            crash_point("relay.after_claim")
            futures = [
                await self.producer.send(row.topic, row.payload, key=row.key.encode(), headers=_headers(row.event_id))
                for row in rows
            ]
            results = await asyncio.gather(*futures, return_exceptions=True)
            crash_point("relay.after_publish")
            # Per key, only the events before its first failure count as sent: the rest go again after
            # the failed one, so the last copy a consumer receives is always in order.
            failed_keys: set[str] = set()
            sent_ids = []
            for row, result in zip(rows, results, strict=True):
                if isinstance(result, BaseException) or row.key in failed_keys:
                    failed_keys.add(row.key)
                else:
                    sent_ids.append(row.id)
            if sent_ids:
                await session.execute(sa.update(OUTBOX).where(c.id.in_(sent_ids)).values(sent_at=utcnow()))
            for row, result in zip(rows, results, strict=True):
                if isinstance(result, BaseException):
                    attempts = row.attempts + 1
                    delay = min(self.max_backoff_s, 0.5 * 2 ** (attempts - 1))
                    await session.execute(
                        sa.update(OUTBOX)
                        .where(c.id == row.id)
                        .values(
                            attempts=attempts,
                            next_attempt_at=now + timedelta(seconds=delay),
                            last_error=repr(result)[:500],
                        )
                    )
                    log.warning("outbox publish failed", extra={"topic": row.topic, "attempts": attempts})
            OUTBOX_PUBLISHED.labels(self.service).inc(len(sent_ids))
            return len(sent_ids)

    async def _in_key_order(self, session: AsyncSession, rows: list[Any]) -> list[Any]:
        """Drop rows of any key whose earliest unsent row is not in this batch (another relay has it,
        or it waits for a retry), so one key's events never overtake each other."""
        c = OUTBOX.c
        keys = {row.key for row in rows}
        heads = await session.execute(
            sa.select(c.key, sa.func.min(c.id)).where(c.sent_at.is_(None)).where(c.key.in_(keys)).group_by(c.key)
        )
        claimed = {row.id for row in rows}
        blocked = {key for key, head_id in heads if head_id not in claimed}
        return [row for row in rows if row.key not in blocked]

    async def _update_backlog(self) -> None:
        async with self.db.sessionmaker() as session:
            count = await session.scalar(
                select(sa.func.count()).select_from(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))
            )
        OUTBOX_BACKLOG.labels(self.service).set(count or 0)


def _headers(event_id: str) -> list[tuple[str, bytes]]:
    return [("ce_id", event_id.encode()), ("content-type", b"application/cloudevents+json")]
