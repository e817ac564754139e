"""Idempotent inbox and the one consumer runner every service uses.

Each event is applied in one DB transaction that also records `(consumer group, source, id)`; the
Kafka offset is committed only after that transaction commits. A crash in between redelivers
the event and the inbox row makes the second delivery a no-op. The key holds the consumer group,
so a new group prefix replays every event and rebuilds a projection. An event that cannot be
decoded, fails validation, keeps failing, or comes again under a seen id with another payload goes
to `<topic>.dlq` with the error in its headers. A database or broker outage is waited out, never
dead-lettered.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import TopicPartition
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from contracts.envelope import CloudEvent
from contracts.topics import dead_letter

from .db import Database, UTCDateTime, insert_for, lookup_plans, upsert, utcnow
from .errors import is_infrastructure_error
from .faults import crash_point
from .kafka import ensure_topics
from .metrics import (
    CONSUMER_LAG,
    CONSUMER_STALLED,
    EVENTS_CONFLICTING,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_DUPLICATE,
    EVENTS_FAILED,
)
from .settings import ServiceSettings
from .tasks import cancel_and_wait, purge_periodically
from .tracing import consuming

log = logging.getLogger(__name__)

EventHandler = Callable[[AsyncSession, CloudEvent, str], Awaitable[None]]
"""`handler(session, event, topic)`: applies one event inside the given transaction; must not commit."""


@dataclass(frozen=True)
class Delivered:
    """One event of a batch given to a `BatchHandler`, with where it came from."""

    event: CloudEvent
    topic: str
    headers: Sequence[tuple[str, bytes]]

    def span(self) -> AbstractContextManager[None]:
        """The span of applying this event (what it publishes carries its trace)."""
        return consuming(self.topic, self.headers)


BatchHandler = Callable[[AsyncSession, list[Delivered]], Awaitable[None]]
"""`batch_handler(session, delivered)`: applies events in one transaction with fewer statements than
one by one; must leave what the `EventHandler` applying them in order would, and must not commit. A
batch that raises is applied again one event at a time by the `EventHandler`, which retries or
dead-letters the one at fault."""


class _OneByOne(Exception):
    """The batch is to be applied record by record (`ConsumerRunner._apply_together`)."""


class PermanentEventError(Exception):
    """The event can never be applied (bad payload, unknown type): dead-letter it at once."""


class ConflictingDuplicate(PermanentEventError):
    """An event id the inbox has applied before, now with another payload: a producer bug or forgery."""


class InboxEntry(SQLModel, table=True):
    __tablename__ = "inbox_entry"

    # The consumer group (`<prefix><service>.<consumer>`), so a new prefix applies every event again.
    consumer: str = Field(primary_key=True)
    event_source: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    topic: str
    partition: int
    offset: int = Field(sa_type=sa.BigInteger)
    processed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # SHA-256 of the event's bytes: the same id with another payload is refused, not skipped.
    payload_sha256: str | None = None


INBOX = cast(sa.Table, InboxEntry.__table__)  # type: ignore[attr-defined]


class ConsumerPosition(SQLModel, table=True):
    """Per consumer group and partition, the offset after the last record whose effect has
    committed: written before the offset is committed to Kafka, so a position here is always
    applied. Compared with a producer's watermark, it tells whether a projection has caught up."""

    __tablename__ = "consumer_position"

    consumer: str = Field(primary_key=True)
    topic: str = Field(primary_key=True)
    partition: int = Field(primary_key=True)
    next_offset: int = Field(sa_type=sa.BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# How long after a re-subscription partitions are still rewound on their first assignment.
REWIND_WINDOW_S = 300.0


class ConsumerRunner:
    def __init__(
        self,
        *,
        service: str,
        consumer: str,
        topics: Sequence[str],
        handler: EventHandler,
        db: Database,
        producer: AIOKafkaProducer,
        settings: ServiceSettings,
        inbox: bool = True,
        from_latest: bool = False,
        batch_handler: BatchHandler | None = None,
        batch_topics: Sequence[str] = (),
    ) -> None:
        self.service = service
        self.batch_handler = batch_handler
        # The topics whose polls go to `batch_handler` (none named: every topic); a poll of another
        # topic is applied event by event by `handler`, still in one transaction.
        self.batch_topics = frozenset(batch_topics)
        self.inbox = inbox
        # News that is worthless once old (watermarks): each partition is read from its end when
        # this replica is given it, whatever offset the group may hold (versions before 2026-12-06
        # afternoon committed some), and no position is kept, neither in `consumer_position` nor
        # committed to the broker. An idle service's watermarks arrive twenty times a second; each
        # would cost an upsert and an OffsetCommit for nothing.
        self.from_latest = from_latest
        self._at_end: set[TopicPartition] = set()  # from_latest: the held partitions sought to the end
        self.consumer_name = consumer
        self.topics = list(topics)
        self.handler = handler
        self.db = db
        self.producer = producer
        self.settings = settings
        self.group_id = f"{settings.kafka_consumer_group_prefix}{service}.{consumer}"
        self.consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        # Set when the broker came back as another cluster: re-subscribe and read from the start.
        self._restart = False
        self.rewind_until = 0.0
        self.rewound: set[TopicPartition] = set()
        self.last_round: float = time.monotonic()
        self._last_assigned: float = time.monotonic()
        self._cluster_id: str | None = None
        # The offset committed for each partition this replica holds (`from_latest`: applied, as it
        # commits none): what the lag is measured from.
        self._committed: dict[TopicPartition, int] = {}
        # (committed, end) summed over the held partitions at the last measure, when every held
        # partition was measured; None before that. What `rongchang projection rebuild` shows.
        self.progress: tuple[int, int] | None = None

    async def start(self) -> None:
        # Worked out at each scrape, so the gauge is true even when nobody polls /readyz.
        CONSUMER_STALLED.labels(self.service, self.consumer_name).set_function(
            lambda: 0.0 if self.stalled() is None else 1.0
        )
        await self._open()
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-{self.consumer_name}")

    async def _open(self) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            # A new group reads a topic from its start (a projection rebuilds), or, for news that is
            # worthless once old (watermarks), from its end.
            auto_offset_reset="latest" if self.from_latest else "earliest",
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(500, self.settings.kafka_session_timeout_ms // 6),
            # Facts must reach projections quickly: see the setting for tansu against a real Kafka.
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            # Notice recreated topics within seconds, not the default five minutes.
            metadata_max_age_ms=10_000,
        )
        self.consumer.subscribe(self.topics)
        await self.consumer.start()

    async def _close(self) -> None:
        if self.consumer is not None:
            consumer, self.consumer = self.consumer, None
            try:
                await asyncio.wait_for(consumer.stop(), 15.0)
            except Exception as exc:
                log.warning("consumer did not stop cleanly", extra={"error": repr(exc)[:200]})

    async def on_new_cluster(self, cluster_id: str) -> None:
        """BrokerWatch listener: a broker that lost its state gets subscribed to afresh."""
        if self._cluster_id is not None and self._cluster_id != cluster_id:
            self._restart = True
        self._cluster_id = cluster_id

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        await self._close()
        CONSUMER_STALLED.labels(self.service, self.consumer_name).set_function(lambda: 0.0)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def stalled(self, now: float | None = None) -> str | None:
        """Why this consumer is not making progress, or None: no poll round completed, or no
        partition assigned, for longer than `consumer_stall_after_s`."""
        now = time.monotonic() if now is None else now
        limit = self.settings.consumer_stall_after_s
        reason = None
        if not self.running:
            reason = "stopped"
        elif now - self.last_round > limit:
            reason = f"no poll round for {now - self.last_round:.0f}s"
        elif self.consumer is not None and not self.consumer.assignment() and now - self._last_assigned > limit:
            reason = f"no partition assigned for {now - self._last_assigned:.0f}s"
        return reason

    async def _run(self) -> None:
        """Consume until cancelled; a broker error is logged and retried, never the end of the loop."""
        backoff = 0.5
        while True:
            try:
                if self._restart:
                    await self._resubscribe()
                await self._poll_once()
                self.last_round = time.monotonic()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer round failed; retrying", extra={"consumer": self.group_id})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _resubscribe(self) -> None:
        log.warning("broker lost its state: reading the topics again from the start", extra={"consumer": self.group_id})
        await self._close()
        await ensure_topics(self.settings, self.topics)
        self.rewound.clear()
        self._at_end.clear()
        self.rewind_until = time.monotonic() + REWIND_WINDOW_S
        await self._open()
        self._restart = False

    async def _poll_once(self) -> None:
        assert self.consumer is not None
        consumer = self.consumer
        if consumer.assignment():
            self._last_assigned = time.monotonic()
        batch = await consumer.getmany(timeout_ms=200, max_records=self.settings.consumer_batch_size)
        if self.from_latest:
            batch = await self._start_new_partitions_at_end(consumer, batch)
        elif time.monotonic() < self.rewind_until:
            batch = await self._rewind_new_partitions(consumer, batch)
        # Where each partition of the batch is to be read from again if this round fails part way
        # (the database gone between an effect and its position, say): the consumer has already
        # fetched past the whole batch, and the next round would otherwise start after it, leaving
        # the records of the partitions not reached yet unapplied for good.
        resume = {partition: records[0].offset for partition, records in batch.items()}
        # The offsets to commit: the poll's partitions whose effects and positions have committed,
        # in one request after the whole poll (one round trip to the broker, not one per partition).
        applied: dict[TopicPartition, int] = {}
        try:
            for partition, records in batch.items():
                if self._restart:
                    return  # the broker changed under this batch: read it again after re-subscribing
                if await self._apply_together(partition, records):
                    resume[partition] = records[-1].offset + 1
                    crash_point("consumer.after_effect")
                else:
                    for record in records:
                        if self._restart:
                            return
                        await self.process(record)
                        resume[partition] = record.offset + 1
                    crash_point("consumer.after_effect")
                    if not self.from_latest:
                        await self._record_position(partition, records[-1].offset + 1)
                applied[partition] = records[-1].offset + 1
        except Exception:
            self._seek_back(consumer, resume)
            try:  # what was applied before the failure need not be read again after a restart
                await self._commit(consumer, applied)
            except Exception as exc:
                log.warning("offset commit failed", extra={"error": repr(exc)[:200]})
            raise
        await self._commit(consumer, applied)
        try:
            await self._measure_lag(consumer)
        except Exception as exc:  # the gauge is only ever late: the next round measures again
            log.debug("consumer lag not measured", extra={"error": repr(exc)[:200]})

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        if self.from_latest:  # nothing committed: the lag is measured from what was applied
            self._committed.update(offsets)
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced under us: the new owner re-reads from the last commit and the
            # inbox turns those repeats into no-ops.
            log.warning("offset commit failed; partition moved", extra={"error": repr(exc)[:200]})
        else:
            self._committed.update(offsets)

    def _seek_back(self, consumer: AIOKafkaConsumer, resume: dict[TopicPartition, int]) -> None:
        held = consumer.assignment()
        for partition, offset in resume.items():
            if partition in held:  # one the group moved away is re-read by its new owner
                consumer.seek(partition, offset)

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        """`consumer_lag` per topic: each held partition's high watermark (as the latest fetch
        reported it) minus the offset committed for it (asked of the group once per assignment,
        then kept from this replica's own commits; for a group with none yet, where it starts;
        `from_latest`: what it applied, from the end it started at). A partition not fetched yet
        counts nothing."""
        held = consumer.assignment()
        for gone in set(self._committed) - held:
            del self._committed[gone]
        lag = dict.fromkeys(self.topics, 0)
        measured = bool(held)
        done = total = 0
        for tp in held:
            end = consumer.highwater(tp)
            if end is None:
                measured = False
                continue
            if tp not in self._committed:
                if self.from_latest:  # read from its end, whatever offset the group may hold
                    committed = end
                else:
                    committed = await consumer.committed(tp)
                    if committed is None:  # a new group: it starts at the log's start
                        committed = (await consumer.beginning_offsets([tp]))[tp]
                self._committed[tp] = committed
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - self._committed[tp])
            done, total = done + min(self._committed[tp], end), total + end
        for topic, value in lag.items():
            CONSUMER_LAG.labels(self.service, self.consumer_name, topic).set(value)
        self.progress = (done, total) if measured else None

    async def _start_new_partitions_at_end(
        self, consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        """News (`from_latest`): a partition this replica is given is read from its end, not from an
        offset the group committed once, and what was fetched of it before is dropped. A partition
        taken away is sought to the end again if it comes back. Done here, as the rewind below."""
        held = consumer.assignment()
        self._at_end &= held
        fresh = [tp for tp in held if tp not in self._at_end]
        if not fresh:
            return batch
        await consumer.seek_to_end(*fresh)
        self._at_end.update(fresh)
        return {tp: records for tp, records in batch.items() if tp not in fresh}

    async def _rewind_new_partitions(
        self, consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        """After the broker lost its state, each partition is read again from its first offset the
        first time it is assigned: the group's offsets on the new broker may have been committed by
        a consumer still reading at its old positions, past events it never had. Partitions come in
        several rebalances (a member that died is dropped only after its session times out), so
        each is rewound on its own first assignment, and the rewind is committed; what was fetched
        from it before is dropped. Done here rather than in a rebalance listener, where the
        committed offsets would win."""
        fresh = [tp for tp in consumer.assignment() if tp not in self.rewound]
        if not fresh:
            return batch
        starts = await consumer.beginning_offsets(fresh)
        for tp in fresh:
            consumer.seek(tp, starts[tp])
        try:
            # Committed at once: a rebalance before this consumer's first commit would otherwise put
            # the partition back at the offset a consumer at old positions committed.
            await consumer.commit({tp: starts[tp] for tp in fresh})
            self._committed.update({tp: starts[tp] for tp in fresh})
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning("rewind not committed; tried again next round", extra={"error": repr(exc)[:200]})
            return {}
        self.rewound.update(fresh)
        log.info(
            "partitions read again from the start",
            extra={"consumer": self.group_id, "partitions": {f"{tp.topic}/{tp.partition}": starts[tp] for tp in fresh}},
        )
        return {tp: records for tp, records in batch.items() if tp not in fresh}

    async def _apply_together(self, partition: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        """Apply one partition's records of a poll in one transaction: their inbox entries in one
        multi-row insert, their effects in order (the outbox rows they write go in one insert at
        commit), and the partition's position. Commits once instead of once per event.

        False, with nothing kept, when the batch is not plain sailing: a record that does not
        decode, an event already in the inbox (a repeat, perhaps with another payload), an effect
        that fails, the database away. The caller then applies the records one by one (`process`),
        which retries, dead-letters or waits exactly as it always has."""
        events: list[tuple[CloudEvent, ConsumerRecord[bytes, bytes]]] = []
        for record in records:
            try:
                events.append((CloudEvent.from_bytes(record.value or b""), record))
            except (ValidationError, ValueError):
                return False
        try:
            async with self.db.sessionmaker() as session, session.begin():
                if self.inbox:
                    await lookup_plans(session)  # by key, on tables a bulk load may be filling
                    processed_at = utcnow()  # one instant for the batch: a clock read per event showed in py-spy
                    entries = [
                        {
                            "consumer": self.group_id,
                            "event_source": event.source,
                            "event_id": event.id,
                            "topic": record.topic,
                            "partition": record.partition,
                            "offset": record.offset,
                            "processed_at": processed_at,
                            "payload_sha256": hashlib.sha256(record.value or b"").hexdigest(),
                        }
                        for event, record in events
                    ]
                    insert = insert_for(session, INBOX)
                    # Parameter sets, not `.values(entries)`: compiled once and cached, not per batch.
                    inserted = await session.execute(
                        insert.on_conflict_do_nothing().returning(INBOX.c.event_id), entries
                    )
                    if len(inserted.all()) != len(entries):
                        raise _OneByOne("an event of the batch is in the inbox already")
                batch_handler = self._batch_handler_of(partition.topic)
                if batch_handler is not None:
                    await batch_handler(
                        session, [Delivered(event, record.topic, record.headers) for event, record in events]
                    )
                else:
                    for event, record in events:
                        if self._restart:  # the broker changed under this batch: nothing of it is kept
                            raise _OneByOne("the broker changed under the batch")
                        with consuming(record.topic, record.headers):
                            await self.handler(session, event, record.topic)
                if self._restart:
                    raise _OneByOne("the broker changed under the batch")
                if not self.from_latest:
                    await self._record_position_in(session, partition, records[-1].offset + 1)
        except Exception as exc:  # the one-by-one path applies, retries, dead-letters or waits
            log.debug(
                "batch applied one by one instead",
                extra={"consumer": self.group_id, "records": len(records), "reason": repr(exc)[:200]},
            )
            return False
        for _, record in events:
            EVENTS_CONSUMED.labels(self.service, self.consumer_name, record.topic).inc()
        return True

    def _batch_handler_of(self, topic: str) -> BatchHandler | None:
        if not self.batch_topics or topic in self.batch_topics:
            return self.batch_handler
        return None

    async def process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Apply one record exactly once, or dead-letter it; never raises for a bad event."""
        labels = (self.service, self.consumer_name, record.topic)
        try:
            event = CloudEvent.from_bytes(record.value or b"")
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(record, f"undecodable event: {exc}", attempts=0)
            return
        attempts = 0
        outages = 0
        while True:
            attempts += 1
            try:
                applied = await self._apply_once(event, record)
            except ConflictingDuplicate as exc:
                EVENTS_CONFLICTING.labels(*labels).inc()
                await self._dead_letter(record, f"{type(exc).__name__}: {exc}", attempts=attempts)
                return
            except (PermanentEventError, ValidationError) as exc:
                EVENTS_FAILED.labels(*labels).inc()
                await self._dead_letter(record, f"{type(exc).__name__}: {exc}", attempts=attempts)
                return
            except Exception as exc:
                if is_infrastructure_error(exc):
                    # The database (not the event) is at fault: wait for it, never dead-letter for it.
                    EVENTS_FAILED.labels(*labels).inc()
                    log.warning(
                        "database unavailable; retrying", extra={"event_id": event.id, "error": repr(exc)[:200]}
                    )
                    attempts -= 1
                    await asyncio.sleep(min(30.0, self.settings.consumer_backoff_s * 2 ** min(outages, 8)))
                    outages += 1
                    continue
                EVENTS_FAILED.labels(*labels).inc()
                if attempts >= self.settings.consumer_max_attempts:
                    await self._dead_letter(record, f"{type(exc).__name__}: {exc}", attempts=attempts)
                    return
                log.warning("event failed, retrying", extra={"event_id": event.id, "attempt": attempts})
                await asyncio.sleep(self.settings.consumer_backoff_s * 2 ** (attempts - 1))
                continue
            (EVENTS_CONSUMED if applied else EVENTS_DUPLICATE).labels(*labels).inc()
            return

    async def _record_position(self, partition: TopicPartition, next_offset: int) -> None:
        async with self.db.sessionmaker() as session, session.begin():
            await self._record_position_in(session, partition, next_offset)

    async def _record_position_in(self, session: AsyncSession, partition: TopicPartition, next_offset: int) -> None:
        values = {
            "consumer": self.group_id,
            "topic": partition.topic,
            "partition": partition.partition,
            "next_offset": next_offset,
            "updated_at": utcnow(),
        }
        # Set, not raised: after a rewind (a broker that lost its state) the position goes back. The
        # kit's upsert: a statement compiled once, where `.values(...)` was built and compiled anew
        # on every poll (a sixth of an idle consumer's CPU, py-spy).
        await upsert(session, ConsumerPosition, [values], key=["consumer", "topic", "partition"])

    async def _apply_once(self, event: CloudEvent, record: ConsumerRecord[bytes, bytes]) -> bool:
        with consuming(record.topic, record.headers):
            return await self._apply_in_trace(event, record)

    async def _apply_in_trace(self, event: CloudEvent, record: ConsumerRecord[bytes, bytes]) -> bool:
        if not self.inbox:
            async with self.db.sessionmaker() as session, session.begin():
                await self.handler(session, event, record.topic)
            return True
        key = (self.group_id, event.source, event.id)
        digest = hashlib.sha256(record.value or b"").hexdigest()
        async with self.db.sessionmaker() as session:
            try:
                async with session.begin():
                    await lookup_plans(session)  # as a batch's: the same statements, the same plans
                    seen = await session.get(InboxEntry, key)
                    if seen is not None:
                        return _repeat(seen, digest)
                    session.add(
                        InboxEntry(
                            consumer=self.group_id,
                            event_source=event.source,
                            event_id=event.id,
                            topic=record.topic,
                            partition=record.partition,
                            offset=record.offset,
                            payload_sha256=digest,
                        )
                    )
                    await session.flush()
                    await self.handler(session, event, record.topic)
            except IntegrityError:
                # A second consumer instance recorded the same event concurrently.
                async with self.db.sessionmaker() as check:
                    if (seen := await check.get(InboxEntry, key)) is not None:
                        return _repeat(seen, digest)
                raise
        return True

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: str, *, attempts: int) -> None:
        headers = [
            *list(record.headers or ()),
            ("dlq_error", error[:2000].encode()),
            ("dlq_consumer", self.group_id.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_attempts", str(attempts).encode()),
        ]
        delay = 0.5
        while True:
            try:
                await self.producer.send_and_wait(
                    dead_letter(record.topic), record.value, key=record.key, headers=headers
                )
                break
            except Exception:
                log.exception("dead-letter publish failed; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        EVENTS_DEAD_LETTERED.labels(self.service, self.consumer_name, record.topic).inc()
        log.error("event dead-lettered", extra={"topic": record.topic, "offset": record.offset, "error": error[:300]})


def _repeat(seen: InboxEntry, digest: str) -> bool:
    """A repeat of an applied event is a no-op (False); the same id with other bytes is refused."""
    if seen.payload_sha256 is not None and seen.payload_sha256 != digest:
        raise ConflictingDuplicate(
            f"event {seen.event_id} from {seen.event_source} was applied before with another payload"
        )
    return False


INBOX_PURGE_BATCH = 5000


async def purge_processed(db: Database, retention: timedelta, batch: int = INBOX_PURGE_BATCH) -> int:
    """Delete up to `batch` inbox entries processed more than `retention` ago whose offset the
    consumer group has passed (its `consumer_position`), so no ordinary redelivery can bring their
    event back; returns how many. A rebuild uses a new group and needs no old entry; an event
    replayed from a dead-letter topic after its entry was purged relies on its handler's own
    idempotency (the projections keep the highest version). Called every hour by each consuming
    service, and by `rongchang inbox purge` until it returns 0."""
    entry, position = InboxEntry.__table__.c, ConsumerPosition.__table__.c  # type: ignore[attr-defined]
    cutoff = utcnow() - retention
    passed = (
        sa.select(entry.consumer, entry.event_source, entry.event_id)
        .join(
            ConsumerPosition.__table__,  # type: ignore[attr-defined]
            sa.and_(
                position.consumer == entry.consumer,
                position.topic == entry.topic,
                position.partition == entry.partition,
            ),
        )
        .where(entry.processed_at < cutoff, entry.offset < position.next_offset)
        .limit(batch)
    )
    async with db.sessionmaker() as session, session.begin():
        result = await session.execute(
            sa.delete(InboxEntry.__table__).where(  # type: ignore[attr-defined]
                sa.tuple_(entry.consumer, entry.event_source, entry.event_id).in_(passed)
            )
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_inbox_periodically(db: Database, retention: timedelta) -> None:
    """Background task of a consuming service: purge processed entries every hour, busy or idle."""
    await purge_periodically("inbox", lambda: purge_processed(db, retention), batch=INBOX_PURGE_BATCH)
