"""Idempotent inbox and the one consumer runner every service uses.

Each event is applied in one DB transaction that also records `(consumer, source, id)`; the
Kafka offset is committed only after that transaction commits. A crash in between redelivers
the event and the inbox row makes the second delivery a no-op. An event that cannot be decoded,
fails validation, or keeps failing goes to `<topic>.dlq` with the error in its headers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import CommitFailedError, IllegalStateError
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from contracts.envelope import CloudEvent
from contracts.topics import dead_letter

from .db import Database, UTCDateTime, utcnow
from .faults import crash_point
from .metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_DUPLICATE, EVENTS_FAILED
from .settings import ServiceSettings

log = logging.getLogger(__name__)

EventHandler = Callable[[AsyncSession, CloudEvent, str], Awaitable[None]]
"""`handler(session, event, topic)`: applies one event inside the given transaction; must not commit."""


INFRASTRUCTURE_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


class PermanentEventError(Exception):
    """The event can never be applied (bad payload, unknown type): dead-letter it at once."""


class InboxEntry(SQLModel, table=True):
    __tablename__ = "inbox_entry"

    consumer: str = Field(primary_key=True)
    event_source: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    topic: str
    partition: int
    offset: int = Field(sa_type=sa.BigInteger)
    processed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


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
    ) -> None:
        self.service = service
        self.consumer_name = consumer
        self.topics = list(topics)
        self.handler = handler
        self.db = db
        self.producer = producer
        self.settings = settings
        self.group_id = f"{settings.kafka_consumer_group_prefix}{service}.{consumer}"
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(500, self.settings.kafka_session_timeout_ms // 6),
            # Return a fetch as soon as a record is there: facts must reach projections quickly.
            fetch_max_wait_ms=50,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-{self.consumer_name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._consumer is not None:
            await self._consumer.stop()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        """Consume until cancelled; a broker error is logged and retried, never the end of the loop."""
        backoff = 0.5
        while True:
            try:
                await self._poll_once()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer round failed; retrying", extra={"consumer": self.group_id})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _poll_once(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        batch = await consumer.getmany(timeout_ms=200, max_records=200)
        for partition, records in batch.items():
            for record in records:
                await self.process(record)
            crash_point("consumer.after_effect")
            try:
                await consumer.commit({partition: records[-1].offset + 1})
            except (CommitFailedError, IllegalStateError) as exc:
                # The group rebalanced under us: the new owner re-reads from the last commit
                # and the inbox turns those repeats into no-ops.
                log.warning("offset commit failed; partition moved", extra={"error": repr(exc)[:200]})

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
            except (PermanentEventError, ValidationError) as exc:
                EVENTS_FAILED.labels(*labels).inc()
                await self._dead_letter(record, f"{type(exc).__name__}: {exc}", attempts=attempts)
                return
            except INFRASTRUCTURE_ERRORS as exc:
                # The database (not the event) is at fault: wait for it, never dead-letter for it.
                EVENTS_FAILED.labels(*labels).inc()
                log.warning("database unavailable; retrying", extra={"event_id": event.id, "error": repr(exc)[:200]})
                attempts -= 1
                await asyncio.sleep(min(30.0, self.settings.consumer_backoff_s * 2 ** min(outages, 8)))
                outages += 1
                continue
            except Exception as exc:
                EVENTS_FAILED.labels(*labels).inc()
                if attempts >= self.settings.consumer_max_attempts:
                    await self._dead_letter(record, f"{type(exc).__name__}: {exc}", attempts=attempts)
                    return
                log.warning("event failed, retrying", extra={"event_id": event.id, "attempt": attempts})
                await asyncio.sleep(self.settings.consumer_backoff_s * 2 ** (attempts - 1))
                continue
            (EVENTS_CONSUMED if applied else EVENTS_DUPLICATE).labels(*labels).inc()
            return

    async def _apply_once(self, event: CloudEvent, record: ConsumerRecord[bytes, bytes]) -> bool:
        async with self.db.sessionmaker() as session:
            try:
                async with session.begin():
                    seen = await session.get(InboxEntry, (self.consumer_name, event.source, event.id))
                    if seen is not None:
                        return False
                    session.add(
                        InboxEntry(
                            consumer=self.consumer_name,
                            event_source=event.source,
                            event_id=event.id,
                            topic=record.topic,
                            partition=record.partition,
                            offset=record.offset,
                        )
                    )
                    await session.flush()
                    await self.handler(session, event, record.topic)
            except IntegrityError:
                # A second consumer instance recorded the same event concurrently.
                async with self.db.sessionmaker() as check:
                    if await check.get(InboxEntry, (self.consumer_name, event.source, event.id)) is not None:
                        return False
                raise
        self.db.committed(session)
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
