"""Transactional outbox: events are written with the state change and relayed to Kafka after commit.

The relay claims committed rows in id order, holds back any key whose earlier unsent row waits for
a retry, publishes, and marks rows sent. On PostgreSQL one relay publishes at a time (a
transaction-scoped advisory lock; other replicas' relays take over when it stops), so one key's
events leave in the order they were committed. On PostgreSQL the claim and the mark are one
transaction; on SQLite, where any write transaction locks the whole database, the claim commits
before the publish and the mark is a second transaction, so a broker outage never holds the write
lock. A crash before the mark leaves the rows unsent: they go out again and the consumers' inbox
drops the repeat.

Every `watermark_interval_s`, busy or idle, the relay publishes a watermark on
`outbox.watermark.v1` once every row committed before its round began is on the broker: the
instant, and per partition the offset after its last acknowledged event (kept in
`outbox_position`). A consumer that has applied its partitions up to those offsets has seen all
the service had accepted before that instant (the subsidy service judges applications so).

A bulk push's events go in the bulk lane (`add_event(..., bulk=True)`): every round the relay
claims the interactive lane first and tops up from the bulk lane only as far as `pace`
(`services/kit/pacing.py`) allows, so a single event never waits behind a whole bulk load. A key's
earlier unsent rows always go with its later ones, whichever lane holds them.

Sent rows are kept for `retention` (then deleted). When the broker comes back as another cluster
(it lost its state), every kept row is sent again, in id order: the new broker gets back what the
old one had, and the inboxes drop what their consumers had applied already.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel import Field, SQLModel, col, select

from contracts.envelope import CloudEvent, new_event
from contracts.outbox import OUTBOX_WATERMARK as OUTBOX_WATERMARK_EVENT
from contracts.outbox import OutboxWatermark, PartitionOffset
from contracts.topics import OUTBOX_WATERMARK

from .db import LOOKUP_SETTINGS, Database, UTCDateTime, before_commit_writer, insert_for, local_settings, utcnow
from .errors import is_infrastructure_error
from .faults import crash_point
from .metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISHED, OUTBOX_RESENT
from .pacing import BulkPace
from .tasks import cancel_and_wait
from .tracing import TRACEPARENT, current_traceparent

log = logging.getLogger(__name__)

PENDING_FLAG = "outbox_pending"
PENDING_ROWS = "outbox_rows"
SAVEPOINT_MARKS = "outbox_savepoint_marks"
BACKLOG_INTERVAL_S = 1.0
PURGE_INTERVAL_S = 60.0
PURGE_BATCH = 5000
# A publish slower than this waited for an absent broker: the cluster is confirmed before the next.
SLOW_PUBLISH_S = 1.0
# Pages of a claim scanned for rows whose key is not held back for a retry (see `_claim`).
CLAIM_PAGES = 10
# pg_try_advisory_xact_lock key held by the relay that is publishing (each service has its own database).
RELAY_LOCK = 0x6F7574626F78  # "outbox"


UNSENT: dict[str, Any] = {"postgresql_where": sa.text("sent_at IS NULL"), "sqlite_where": sa.text("sent_at IS NULL")}
SENT: dict[str, Any] = {
    "postgresql_where": sa.text("sent_at IS NOT NULL"),
    "sqlite_where": sa.text("sent_at IS NOT NULL"),
}
RETRYING: dict[str, Any] = {
    "postgresql_where": sa.text("sent_at IS NULL AND next_attempt_at IS NOT NULL"),
    "sqlite_where": sa.text("sent_at IS NULL AND next_attempt_at IS NOT NULL"),
}


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (
        # Sent rows by age, for the purge (none of the unsent rows, so no plan of the relay's can
        # wander onto it).
        sa.Index("ix_outbox_message_sent", "sent_at", **SENT),
        # What the relay reads, each index as small as its backlog: each lane's unsent ids in order
        # (the claim), each key's unsent rows (`_with_earlier_rows`), the keys waiting for a retry.
        sa.Index("ix_outbox_message_unsent_lane", "bulk", "id", **UNSENT),
        sa.Index("ix_outbox_message_unsent_key", "key", "id", **UNSENT),
        sa.Index("ix_outbox_message_retry", "key", **RETRYING),
    )

    # SQLite numbers only INTEGER primary keys by itself; PostgreSQL gets a bigint.
    id: int | None = Field(default=None, sa_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    topic: str
    key: str
    event_id: str
    payload: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    # In the bulk lane: published only as fast as its consumers apply it (see `BulkPace`).
    bulk: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = None
    # W3C trace context of the request or event that wrote the row, sent as a `traceparent` header.
    traceparent: str | None = None


class OutboxPosition(SQLModel, table=True):
    """Per partition, the offset after the last event this outbox published there (from the broker's
    acknowledgements, never from ListOffsets, which tansu 0.6 answers short): what a watermark names."""

    __tablename__ = "outbox_position"

    topic: str = Field(primary_key=True)
    partition: int = Field(primary_key=True)
    next_offset: int = Field(sa_type=sa.BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutboxCluster(SQLModel, table=True):
    """The broker clusters this outbox has published to; the newest is the current one."""

    __tablename__ = "outbox_cluster"

    cluster_id: str = Field(primary_key=True)
    adopted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resent: int = 0


OUTBOX = cast(sa.Table, OutboxMessage.__table__)  # type: ignore[attr-defined]
CLUSTERS = cast(sa.Table, OutboxCluster.__table__)  # type: ignore[attr-defined]
POSITIONS = cast(sa.Table, OutboxPosition.__table__)  # type: ignore[attr-defined]

# The CloudEvents Kafka binding's structured content mode: the whole event in the value, and only
# `content-type` as a header. No `ce_` header: a CloudEvents SDK that finds one reads the message in
# binary mode and looks for every attribute in headers.
STRUCTURED_MODE = [("content-type", b"application/cloudevents+json")]


# What a claim reads of a row.
CLAIMED = (
    OUTBOX.c.id,
    OUTBOX.c.topic,
    OUTBOX.c.key,
    OUTBOX.c.event_id,
    OUTBOX.c.payload,
    OUTBOX.c.attempts,
    OUTBOX.c.traceparent,
    OUTBOX.c.bulk,
)

# A claimed row left for the next round because an earlier batch of its partition failed in this one.
NOT_SENT: Any = object()
PARTITIONER = DefaultPartitioner()


class Acknowledged(NamedTuple):
    """Where the broker stored one record of an acknowledged batch."""

    topic: str
    partition: int
    offset: int


def _headers(row: Any) -> list[tuple[str, bytes]]:
    if row.traceparent is None:
        return list(STRUCTURED_MODE)
    return [*STRUCTURED_MODE, (TRACEPARENT, row.traceparent.encode("ascii"))]


def add_event(session: AsyncSession, topic: str, key: str, event: CloudEvent, *, bulk: bool = False) -> None:
    """Queue an event in the caller's transaction; it leaves only if the transaction commits.
    `bulk`: part of a bulk load, published in the paced bulk lane after every interactive event.

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
            "bulk": bulk,
            "traceparent": current_traceparent(),
        }
    )
    session.info[PENDING_FLAG] = True


@sa.event.listens_for(Session, "before_commit")
@before_commit_writer
def _write_outbox(session: Session) -> None:
    rows = session.info.pop(PENDING_ROWS, None)
    if rows:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            # The database's clock (the column's default, the transaction's start), the one the relay
            # takes its watermarks' instants from: the writing replica's clock may run ahead of it.
            rows = [{k: v for k, v in row.items() if k != "created_at"} for row in rows]
        connection.execute(sa.insert(OUTBOX), rows)


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
        retention: timedelta = timedelta(days=7),
        prepare_cluster: Callable[[], Awaitable[None]] | None = None,
        settle_s: float = 3.0,
        resend_again_s: float = 20.0,
        watermark_interval_s: float = 0.1,
        pace: BulkPace | None = None,
    ) -> None:
        self.db = db
        self.producer = producer
        self.service = service
        self.batch_size = batch_size
        self.idle_interval_s = idle_interval_s
        self.linger_s = linger_s
        self.max_backoff_s = max_backoff_s
        self.retention = retention
        # Run before re-sending to a new cluster (creates the topics the new broker lacks).
        self.prepare_cluster = prepare_cluster
        # Pause before re-sending to a new cluster: tansu, restarted empty, acknowledges produce
        # requests that reach a topic before it exists and then serves some of that partition's
        # first records under overlapping offsets, which consumers skip. Everything sent until the
        # re-send (the first records included) is sent again once the topics exist and have settled.
        self.settle_s = settle_s
        # tansu 0.6 also loses some records produced in its first seconds under load (reproduced with
        # a bare producer, no outbox involved): the kept rows are sent once more this much later.
        self.resend_again_s = resend_again_s
        self._resend_again_at: float | None = None
        # A watermark goes out this often, busy or idle (0: never), so a consumer can tell it has seen
        # everything committed before an instant; busy, not after every round, which would cost a
        # broker round trip per round.
        self.watermark_interval_s = watermark_interval_s
        self._last_watermark = 0.0
        # Paces the bulk lane by its consumers' lag; None: the bulk lane only goes after the other.
        self.pace = pace
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._new_cluster: str | None = None
        # Asks the broker for its cluster id, calling `on_new_cluster` when it changed (the app sets
        # `BrokerWatch.check`); None while the broker does not answer.
        self.confirm_broker: Callable[[], Awaitable[str | None]] | None = None
        self._broker_in_doubt = False

    async def on_new_cluster(self, cluster_id: str) -> None:
        """BrokerWatch listener: adopt the cluster (re-sending if it is not the one on record) next round."""
        self._new_cluster = cluster_id
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def wake_if_pending(self, session: Session) -> None:
        if session.info.pop(PENDING_FLAG, False):
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"{self.service}-outbox-relay")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self.pace is not None:
            await self.pace.close()

    async def run(self) -> None:
        """Relay until cancelled; a failed round (database or broker down) is retried, never fatal."""
        backlog_measured = purged = 0.0
        while True:
            try:
                if self._broker_in_doubt and self.confirm_broker is not None:
                    # A publish failed: before sending again, learn whether the broker that answers
                    # now is the one on record. A broker restarted empty has its topics created (by
                    # `adopt_cluster`) before any event reaches it; tansu accepts records for a
                    # topic it does not have yet, and later writes there then collide with them.
                    if await self.confirm_broker() is None:
                        await asyncio.sleep(1.0)
                        continue
                    self._broker_in_doubt = False
                if self._new_cluster is not None:
                    await self.adopt_cluster(self._new_cluster)
                    self._last_watermark = 0.0
                if self._resend_again_at is not None and time.monotonic() >= self._resend_again_at:
                    self._resend_again_at = None
                    await self._requeue_sent("sending the kept events once more after a new cluster")
                sent = await self.relay_once()
                now = time.monotonic()
                if now - backlog_measured >= BACKLOG_INTERVAL_S:  # busy or idle, the gauge stays fresh
                    await self._update_backlog()
                    backlog_measured = now
                if now - purged >= PURGE_INTERVAL_S:
                    await self.purge_sent()
                    purged = now
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_infrastructure_error(exc):
                    self._broker_in_doubt = True
                    log.warning("outbox relay waits for the database or broker", extra={"error": repr(exc)[:200]})
                else:
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
                    async with asyncio.timeout(self._idle_wait_s()):
                        await self._wake.wait()
                except TimeoutError:
                    continue
            # Let the commits of concurrent requests gather, so one round carries many events.
            await asyncio.sleep(self.linger_s)

    def _idle_wait_s(self) -> float:
        if self.watermark_interval_s <= 0:
            return self.idle_interval_s
        return min(self.idle_interval_s, self.watermark_interval_s)

    async def adopt_cluster(self, cluster_id: str) -> int:
        """Record the broker cluster in use; if another one was on record, send every kept row again.
        Returns how many rows were queued again. Safe to repeat, and between replicas."""
        if self.prepare_cluster is not None:
            await self.prepare_cluster()
        resent = 0
        async with self.db.sessionmaker() as session:
            async with session.begin():
                known = await session.get(OutboxCluster, cluster_id)
                current = await session.scalar(
                    sa.select(CLUSTERS.c.cluster_id).order_by(CLUSTERS.c.adopted_at.desc()).limit(1)
                )
            if known is None and current is not None:
                await asyncio.sleep(self.settle_s)
        async with self.db.sessionmaker() as session, session.begin():
            known = await session.get(OutboxCluster, cluster_id)
            if known is None:
                current = await session.scalar(
                    sa.select(CLUSTERS.c.cluster_id).order_by(CLUSTERS.c.adopted_at.desc()).limit(1)
                )
                if current is not None:
                    resent = await _requeue(session)
                    # The new cluster numbers its partitions' offsets afresh.
                    await session.execute(sa.delete(POSITIONS))
                    log.warning(
                        "broker is another cluster: sending the kept events again",
                        extra={"previous": current, "now": cluster_id, "events": resent},
                    )
                    if self.resend_again_s > 0:
                        self._resend_again_at = time.monotonic() + self.resend_again_s
                session.add(OutboxCluster(cluster_id=cluster_id, resent=resent))
        if self._new_cluster == cluster_id:
            self._new_cluster = None
        OUTBOX_RESENT.labels(self.service).inc(resent)
        return resent

    async def _requeue_sent(self, why: str) -> int:
        async with self.db.sessionmaker() as session, session.begin():
            resent = await _requeue(session)
        log.warning(why, extra={"events": resent})
        OUTBOX_RESENT.labels(self.service).inc(resent)
        return resent

    async def purge_sent(self) -> int:
        """Delete sent rows older than the retention window, a bounded batch at a time."""
        return await purge_sent(self.db, self.retention)

    async def relay_once(self) -> int:
        """Publish one batch of committed events, then a watermark when due; returns how many were sent."""
        # Before the claim: every row committed before this instant is visible to the claim below
        # (on PostgreSQL the database's clock, taken in the transaction).
        as_of = utcnow()
        if self.db.is_postgres:
            async with self.db.sessionmaker() as session, session.begin():
                # One relay publishes at a time per outbox (the others wait their turn): with two
                # claiming side by side, one key's events were seen to overtake each other.
                # The database's clock, as the rows' `created_at`, so no host's clock enters the check;
                # read with the lock in one statement, before the claim's own snapshot.
                # The same statement sets the transaction's steady plans (`steady_plans`).
                locked, now, *_ = (await session.execute(RELAY_ROUND_START)).one()
                if not locked:
                    return 0
                as_of = now or as_of
                # Idle, the usual case ten times a second: nothing is unsent (a look at the empty
                # partial index, after `as_of`), so there is nothing to claim and nothing behind.
                if not await session.scalar(ANY_UNSENT):
                    await self._watermark(session, as_of, 0, behind=False)
                    return 0
                rows = await self._claim(session)
                sent = 0
                if rows:
                    results = await self._publish(rows)
                    sent = await self._record(session, rows, results)
                await self._watermark(session, as_of, sent)
                return sent
        # SQLite: no write transaction may stay open while the broker is waited for.
        async with self.db.sessionmaker() as session:
            async with session.begin():
                rows = await self._claim(session)
            sent = 0
            if rows:
                results = await self._publish(rows)
                async with session.begin():
                    sent = await self._record(session, rows, results)
            async with session.begin():
                await self._watermark(session, as_of, sent)
            return sent

    async def _watermark(
        self, session: AsyncSession, as_of: datetime, sent: int, *, behind: bool | None = None
    ) -> None:
        """Publish `outbox.watermark.v1` when every row committed before `as_of` is on the broker.

        Not when any row created before `as_of` is still unsent (a failed publish, another key's
        turn, a full batch), nor while any row waits for a retry: its key's later rows may have been
        created after `as_of` on a host whose clock runs ahead. `behind`: whether that is so, when
        the caller has seen it after `as_of` (None: looked up here)."""
        if self.watermark_interval_s <= 0 or time.monotonic() - self._last_watermark < self.watermark_interval_s:
            return
        if behind is None:
            c = OUTBOX.c
            behind = await session.scalar(
                sa.select(
                    sa.exists().where(c.sent_at.is_(None), sa.or_(c.created_at < as_of, c.next_attempt_at.is_not(None)))
                )
            )
        if behind:
            return
        positions = [
            PartitionOffset(topic=tp.topic, partition=tp.partition, next_offset=offset)
            for tp, offset in (await published_positions(session)).items()
        ]
        watermark = OutboxWatermark(service=self.service, as_of=as_of, positions=positions)
        event = new_event(source=f"/{self.service}", type=OUTBOX_WATERMARK_EVENT, subject=self.service, data=watermark)
        try:
            await self.producer.send_and_wait(
                OUTBOX_WATERMARK, event.to_bytes(), key=self.service.encode(), headers=list(STRUCTURED_MODE)
            )
        except Exception as exc:  # a watermark is only ever late, never wrong: the next one will do
            log.warning("watermark not published", extra={"error": repr(exc)[:200]})
            return
        self._last_watermark = time.monotonic()

    async def _claim(self, session: AsyncSession) -> list[Any]:
        """The next batch of unsent rows: the interactive lane's in id order, then as many of the bulk
        lane's as there is room for and `pace` allows, leaving out every key that has a row waiting
        for a retry (that key waits whole, so its events keep their order), with each claimed key's
        earlier unsent rows (`_with_earlier_rows`). On PostgreSQL, in a transaction with steady plans
        (`RELAY_ROUND_START` or `steady_plans`).

        Plain statements whose plans cannot degrade with the backlog, whatever the statistics say:
        the held keys from the small partial index on rows waiting for a retry, then each lane's
        unsent rows from the partial index on unsent (lane, id), a page at a time, held keys
        filtered out here. (One statement with a NOT EXISTS over the held rows was planned from a
        young table's statistics as a scan of the held rows per unsent row: a claim took 50-80 s at
        20,000 unsent rows and minutes at 100,000. `bench/relay.py` shows the plans at 100,000.)"""
        now = utcnow()
        held = set(await session.scalars(held_keys(now)))
        rows = await self._claim_lane(session, bulk=False, limit=self.batch_size, held=held, now=now)
        room = self.batch_size - len(rows)
        if room > 0:
            bulk = await self._claim_lane(session, bulk=True, limit=room, held=held, now=now)
            if bulk and self.pace is not None:  # the consumers are asked only while the lane holds rows
                bulk = bulk[: await self.pace.allowance(lambda: published_positions(session))]
            rows += bulk
        if not rows:
            return rows
        return await self._with_earlier_rows(session, rows)

    async def _claim_lane(
        self, session: AsyncSession, *, bulk: bool, limit: int, held: set[str], now: datetime
    ) -> list[Any]:
        rows: list[Any] = []
        after = 0
        for _ in range(CLAIM_PAGES):
            query = claim_page(bulk=bulk, after=after, limit=limit, now=now)
            if self.db.is_postgres:
                query = query.with_for_update(of=OUTBOX, skip_locked=True)
            page = list((await session.execute(query)).all())
            rows += [row for row in page if row.key not in held]
            if len(page) < limit or len(rows) >= limit:
                break
            after = page[-1].id
        return rows[:limit]

    async def _publish(self, rows: list[Any]) -> list[Any]:
        """Send the claimed rows as record batches, one lane per partition: a lane's batches go one
        after another, each only once the one before it is acknowledged, and none after a failure
        (the rest get `NOT_SENT` and go next round, after the failed ones). A batch is stored whole
        or not at all, so a key's events reach its partition in order. Handed to the producer one
        by one, a failed produce request could leave a later event of a key on the topic before an
        earlier one (a broker just restarted answered one request `NodeNotReady` and the next one
        fine), and consumers apply the first copy they read."""
        crash_point("relay.after_claim")
        started = time.monotonic()
        results: list[Any] = [NOT_SENT] * len(rows)
        lanes: dict[tuple[str, int], list[int]] = {}
        partitions: dict[str, list[int] | BaseException] = {}  # per topic, asked once a round
        for index, row in enumerate(rows):
            if row.topic not in partitions:
                try:
                    partitions[row.topic] = sorted(await self.producer.partitions_for(row.topic))
                except Exception as exc:  # no metadata for the topic (the broker away, say)
                    partitions[row.topic] = exc
            known = partitions[row.topic]
            if isinstance(known, BaseException):
                results[index] = known
                continue
            # The partition `producer.send` would choose for the key (murmur2, as Kafka's clients).
            partition = int(PARTITIONER(row.key.encode(), known, known))
            lanes.setdefault((row.topic, partition), []).append(index)
        await asyncio.gather(
            *(self._send_lane(topic, partition, lane, rows, results) for (topic, partition), lane in lanes.items())
        )
        crash_point("relay.after_publish")
        if time.monotonic() - started > SLOW_PUBLISH_S:
            # The producer waited for a broker that was away; the one that answered in the end may be
            # another cluster, restarted empty. Nothing more goes until its cluster id is confirmed:
            # a later event sent there before the relay adopted the cluster (and sent every kept row
            # again, in order) would reach the consumers ahead of the earlier ones.
            self._broker_in_doubt = True
        return results

    async def _send_lane(
        self, topic: str, partition: int, lane: list[int], rows: list[Any], results: list[Any]
    ) -> None:
        position = 0
        while position < len(lane):
            batch = self.producer.create_batch()
            taken: list[int] = []
            for index in lane[position:]:
                row = rows[index]
                if batch.append(key=row.key.encode(), value=row.payload, timestamp=None, headers=_headers(row)) is None:
                    break  # full: the rest go in the next batch
                taken.append(index)
            batch.close()
            try:
                acknowledged = await (await self.producer.send_batch(batch, topic, partition=partition))
            except Exception as exc:
                for index in taken:
                    results[index] = exc
                return  # the lane's later rows stay NOT_SENT
            for offset, index in enumerate(taken):
                results[index] = Acknowledged(topic, partition, acknowledged.offset + offset)
            position += len(taken)

    async def _record(self, session: AsyncSession, rows: list[Any], results: list[Any]) -> int:
        c = OUTBOX.c
        now = utcnow()
        # Per key, only the events before its first failure count as sent; `_publish` sent none
        # after it in its partition, so the rest go after the failed one, in order.
        failed_keys: set[str] = set()
        sent_ids = []
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, BaseException) or result is NOT_SENT or row.key in failed_keys:
                failed_keys.add(row.key)
            else:
                sent_ids.append(row.id)
        if sent_ids:
            await session.execute(sa.update(OUTBOX).where(c.id.in_(sent_ids)).values(sent_at=now))
            acknowledged = [r for r in results if not isinstance(r, BaseException) and r is not NOT_SENT]
            await _advance_positions(session, acknowledged, postgres=self.db.is_postgres)
        retries = []
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, BaseException):
                attempts = row.attempts + 1
                delay = min(self.max_backoff_s, 0.5 * 2 ** (attempts - 1))
                retries.append(
                    {
                        "row_id": row.id,
                        "attempts": attempts,
                        "next_attempt_at": now + timedelta(seconds=delay),
                        "last_error": repr(result)[:500],
                    }
                )
        if retries:
            self._broker_in_doubt = True
            await session.execute(
                sa.update(OUTBOX)
                .where(c.id == sa.bindparam("row_id"))
                .values(
                    attempts=sa.bindparam("attempts"),
                    next_attempt_at=sa.bindparam("next_attempt_at"),
                    last_error=sa.bindparam("last_error"),
                ),
                retries,
            )
            log.warning(
                "outbox publish failed",
                extra={
                    "events": len(retries),
                    "attempts": max(r["attempts"] for r in retries),
                    "error": retries[0]["last_error"][:200],
                },
            )
        if self.pace is not None:
            sent = set(sent_ids)
            self.pace.spend(sum(1 for row in rows if row.bulk and row.id in sent))
        OUTBOX_PUBLISHED.labels(self.service).inc(len(sent_ids))
        return len(sent_ids)

    async def _with_earlier_rows(self, session: AsyncSession, rows: list[Any]) -> list[Any]:
        """The claim with every earlier unsent row of its keys, in id order: a key's interactive event
        takes its bulk events still waiting along, so one key's events never overtake each other. One
        relay claims at a time (the advisory lock; SQLite's one writer), so no other holds them."""
        claimed = {row.id for row in rows}
        query = earlier_rows({row.key for row in rows}, before=max(claimed))
        if self.db.is_postgres:
            query = query.with_for_update(of=OUTBOX)
        earlier = [row for row in (await session.execute(query)).all() if row.id not in claimed]
        return sorted([*rows, *earlier], key=lambda row: row.id)

    async def _update_backlog(self) -> None:
        async with self.db.sessionmaker() as session:
            count = await session.scalar(
                select(sa.func.count()).select_from(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))
            )
        OUTBOX_BACKLOG.labels(self.service).set(count or 0)


PUBLISHED_POSITIONS = sa.select(POSITIONS.c.topic, POSITIONS.c.partition, POSITIONS.c.next_offset)


async def published_positions(session: AsyncSession) -> dict[TopicPartition, int]:
    """Per partition, the offset after the last event this outbox published there."""
    rows = await session.execute(PUBLISHED_POSITIONS)
    return {TopicPartition(row.topic, row.partition): row.next_offset for row in rows}


def claim_page(*, bulk: bool, after: int, limit: int, now: datetime) -> sa.Select[Any]:
    """A page of one lane's unsent rows after id `after` that are not waiting for a retry."""
    c = OUTBOX.c
    return (
        sa.select(*CLAIMED)
        .where(c.sent_at.is_(None), c.bulk == bulk, c.id > after)
        .where(sa.or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now))
        .order_by(c.id)
        .limit(limit)
    )


def earlier_rows(keys: set[str], *, before: int) -> sa.Select[Any]:
    """The unsent rows of these keys before id `before` (in no order: an ORDER BY id is planned as
    a walk of the primary key when sorts are off)."""
    c = OUTBOX.c
    return sa.select(*CLAIMED).where(c.sent_at.is_(None), c.key.in_(keys), c.id < before)


def held_keys(now: datetime) -> sa.Select[Any]:
    """The keys with an unsent row waiting for a retry."""
    c = OUTBOX.c
    return sa.select(c.key).where(c.sent_at.is_(None), c.next_attempt_at > now).distinct()


def claim_statements(keys: set[str], *, now: datetime, limit: int = 200) -> dict[str, str]:
    """The claim's statements as PostgreSQL text with their values in place, for EXPLAIN
    (bench/relay.py and the tests look at their plans)."""
    statements = {
        "anything unsent": ANY_UNSENT,
        "held keys": held_keys(now),
        "claim page, interactive lane": claim_page(bulk=False, after=0, limit=limit, now=now),
        "claim page, bulk lane": claim_page(bulk=True, after=0, limit=limit, now=now),
        "earlier rows of the claimed keys": earlier_rows(keys, before=2**62),
        "published positions": PUBLISHED_POSITIONS,
    }
    dialect = postgresql.dialect()
    return {
        name: str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        for name, query in statements.items()
    }


# The kit's lookup settings (JIT off among them: the positions' read, a sequential scan of a table of
# a few rows that nothing else can serve, costs 10^10 with sequential scans disabled, and was
# compiled with LLVM at every relay round that read it, 10-45 ms of PostgreSQL's CPU each), and
# neither bitmap scans nor sorts.
_STEADY_PLANS = local_settings(enable_bitmapscan="off", enable_sort="off", **LOOKUP_SETTINGS)

# A PostgreSQL relay round's first statement: the relay's lock, the database's clock (read before any
# later statement's snapshot is taken) and the steady plans for the rest of the transaction.
RELAY_ROUND_START = sa.select(sa.func.pg_try_advisory_xact_lock(RELAY_LOCK), sa.func.clock_timestamp(), *_STEADY_PLANS)
_STEADY_PLANS_ALONE = sa.select(*_STEADY_PLANS)
# Whether any row is unsent: an index-only look at a partial index on unsent rows (steady plans).
ANY_UNSENT = sa.select(sa.exists().where(OUTBOX.c.sent_at.is_(None)))


async def steady_plans(session: AsyncSession) -> None:
    """For the rest of the transaction (PostgreSQL), plans for the relay's statements that stay right
    whatever the table's statistics say: a young table after a bulk push is estimated at a few hundred
    unsent rows when it holds 100,000, and was planned as a bitmap scan of every unsent row and a sort
    (about 200 ms a claim at 100,000). Without bitmap scans, sorts and sequential scans only the
    ordered index scans of the partial indexes remain."""
    # One statement, not a SET LOCAL each (the relay's rounds set them in `RELAY_ROUND_START`).
    await session.execute(_STEADY_PLANS_ALONE)


async def _advance_positions(session: AsyncSession, acknowledged: list[Any], *, postgres: bool) -> None:
    """Record, per partition, the offset after the last acknowledged record (never moving back)."""
    latest: dict[tuple[str, int], int] = {}
    for metadata in acknowledged:
        key = (metadata.topic, metadata.partition)
        latest[key] = max(latest.get(key, 0), metadata.offset + 1)
    if not latest:
        return
    now = utcnow()
    rows = [{"topic": t, "partition": p, "next_offset": o, "updated_at": now} for (t, p), o in sorted(latest.items())]
    statement = insert_for(session, POSITIONS)
    highest = sa.func.greatest if postgres else sa.func.max
    # The rows as parameter sets, not `.values(rows)`: compiled once and cached (kit `upsert`).
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[POSITIONS.c.topic, POSITIONS.c.partition],
            set_={
                "next_offset": highest(POSITIONS.c.next_offset, statement.excluded.next_offset),
                "updated_at": statement.excluded.updated_at,
            },
        ),
        rows,
    )


async def _requeue(session: AsyncSession) -> int:
    """Every kept (sent) row goes out again, in id order with the unsent ones."""
    result = await session.execute(
        sa.update(OUTBOX).where(OUTBOX.c.sent_at.is_not(None)).values(sent_at=None, attempts=0, next_attempt_at=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_sent(db: Database, retention: timedelta, batch: int = PURGE_BATCH) -> int:
    """Delete up to `batch` rows sent more than `retention` ago; returns how many. Unsent rows are
    never touched. The relay calls it every minute; `rongchang outbox purge` until it returns 0."""
    c = OUTBOX.c
    cutoff = utcnow() - retention
    async with db.sessionmaker() as session, session.begin():
        old = sa.select(c.id).where(c.sent_at.is_not(None), c.sent_at < cutoff).limit(batch)
        result = await session.execute(sa.delete(OUTBOX).where(c.id.in_(old.scalar_subquery())))
    return int(getattr(result, "rowcount", 0) or 0)
