"""`consumer_lag`: how many events on a topic a consumer has not committed yet, from the high
watermarks its fetches report and the offsets it committed; checked against what a second client
(confluent-kafka) reads of the same group from the broker."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import CloudEvent
from services.kit.db import Database
from services.kit.inbox import ConsumerPosition, ConsumerRunner
from services.kit.settings import ServiceSettings
from tests.support import PostgresDatabases, create_topics, eventually

pytestmark = pytest.mark.integration

EVENTS, HELD_AT = 300, 250


def lag(service: str, topic: str) -> float | None:
    return REGISTRY.get_sample_value("consumer_lag", {"service": service, "consumer": "lagging", "topic": topic})


def committed_offset(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offset, as confluent-kafka asks the broker (OffsetFetch). The end of the
    partition is not asked the same way: tansu 0.6 answers ListOffsets short (235 of 300 here), so
    the gauge takes the high watermark of the fetch responses, which tansu reports right."""
    client = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        [committed] = client.committed([TopicPartition(topic, 0)], timeout=10)
        return int(committed.offset)
    finally:
        client.close()


async def test_the_lag_is_what_is_not_committed_and_falls_to_zero_when_caught_up(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    topic, service = f"kit-test.lag-{uuid.uuid4().hex[:8]}", f"kit-test-{uuid.uuid4().hex[:8]}"
    await create_topics(kafka_bootstrap, [NewTopic(topic, 1, 1)])
    db = Database(await databases.migrated("registry"))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    release = asyncio.Event()

    async def handler(session: AsyncSession, event: CloudEvent, topic: str) -> None:
        if event.data["n"] == HELD_AT:
            await release.wait()

    settings = ServiceSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_consumer_group_prefix=f"lag-{uuid.uuid4().hex[:6]}.",
        kafka_session_timeout_ms=6000,
        consumer_batch_size=100,  # polls of 100: the ones before the held event commit
    )
    runner = ConsumerRunner(
        service=service,
        consumer="lagging",
        topics=[topic],
        handler=handler,
        db=db,
        producer=producer,
        settings=settings,
    )
    try:
        for n in range(EVENTS):
            event = CloudEvent(source="/t", type="t.e", data={"n": n})
            await producer.send(topic, event.to_bytes(), key=b"k")
        await producer.flush()
        await runner.start()

        async def behind() -> bool:
            return (lag(service, topic) or 0) > 0

        await eventually(behind, within=30)
        committed = await asyncio.to_thread(committed_offset, kafka_bootstrap, runner.group_id, topic)
        assert 0 < committed <= HELD_AT
        assert lag(service, topic) == EVENTS - committed, "the gauge agrees with the broker's committed offset"

        release.set()

        async def caught_up() -> bool:
            return lag(service, topic) == 0

        await eventually(caught_up, within=30)
        assert await asyncio.to_thread(committed_offset, kafka_bootstrap, runner.group_id, topic) == EVENTS
    finally:
        release.set()
        await runner.stop()
        await producer.stop()
        await db.dispose()


@dataclass
class News:
    """A `from_latest` consumer (the subsidy's watermarks' kind) of a topic of its own, and what it saw."""

    runner: ConsumerRunner
    producer: AIOKafkaProducer
    db: Database
    topic: str
    seen: list[int] = field(default_factory=list)

    async def send(self, numbers: range) -> None:
        for n in numbers:
            event = CloudEvent(source="/t", type="t.e", data={"n": n})
            await self.producer.send(self.topic, event.to_bytes(), key=b"k")
        await self.producer.flush()

    def lag(self) -> float | None:
        labels = {"service": self.runner.service, "consumer": "news", "topic": self.topic}
        return REGISTRY.get_sample_value("consumer_lag", labels)

    async def assigned(self) -> bool:
        consumer = self.runner.consumer
        return consumer is not None and bool(consumer.assignment()) and self.runner.progress is not None

    async def applied_up_to(self, last: int) -> bool:
        return self.seen[-1:] == [last] and self.lag() == 0


@contextlib.asynccontextmanager
async def news(kafka_bootstrap: str, databases: PostgresDatabases) -> AsyncIterator[News]:
    """A news consumer, not started; stopped and its database disposed after."""
    topic = f"kit-test.news-{uuid.uuid4().hex[:8]}"
    await create_topics(kafka_bootstrap, [NewTopic(topic, 1, 1)])
    db = Database(await databases.migrated("registry"))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    seen: list[int] = []

    async def handler(session: AsyncSession, event: CloudEvent, topic: str) -> None:
        seen.append(event.data["n"])

    settings = ServiceSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_consumer_group_prefix=f"news-{uuid.uuid4().hex[:6]}.",
        kafka_session_timeout_ms=6000,
    )
    runner = ConsumerRunner(
        service=f"kit-test-{uuid.uuid4().hex[:8]}",
        consumer="news",
        topics=[topic],
        handler=handler,
        db=db,
        producer=producer,
        settings=settings,
        inbox=False,
        from_latest=True,
    )
    try:
        yield News(runner, producer, db, topic, seen)
    finally:
        await runner.stop()
        await producer.stop()
        await db.dispose()


async def test_news_read_from_the_end_keeps_no_position_yet_its_lag_falls_to_zero(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    """A `from_latest` consumer (the subsidy's watermarks, twenty a second when idle) applies what
    arrives, with neither a `consumer_position` row nor an offset committed to the
    broker; its gauge measures from what it applied."""
    async with news(kafka_bootstrap, databases) as feed:
        await feed.runner.start()
        await eventually(feed.assigned, within=30)
        await feed.send(range(5, 45))

        await eventually(lambda: feed.applied_up_to(44), within=30)
        assert feed.seen == list(range(5, 45))
        async with feed.db.sessionmaker() as session:
            kept = await session.scalar(
                sa.select(sa.func.count()).where(ConsumerPosition.consumer == feed.runner.group_id)  # type: ignore[arg-type]
            )
        assert kept == 0
        assert await asyncio.to_thread(committed_offset, kafka_bootstrap, feed.runner.group_id, feed.topic) < 0  # none


async def test_news_starts_at_the_end_even_where_the_group_committed_an_offset_once(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    """A group of news whose offset a version before 2026-12-06 afternoon committed (or a rewind
    after a broker lost its state): the runner reads from the topic's end all the same, and its
    gauge does not count the old offset as lag."""
    async with news(kafka_bootstrap, databases) as feed:
        group, topic = feed.runner.group_id, feed.topic

        def commit_offset_zero() -> None:  # what the group held after an older version's first poll
            client = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
            try:
                client.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
            finally:
                client.close()

        await feed.send(range(300))
        await asyncio.to_thread(commit_offset_zero)
        assert await asyncio.to_thread(committed_offset, kafka_bootstrap, group, topic) == 0
        await feed.runner.start()
        await eventually(feed.assigned, within=30)
        await feed.send(range(300, 320))

        await eventually(lambda: feed.applied_up_to(319), within=30)
        # From the end (tansu 0.6 answers ListOffsets a little short, so a few of the last old ones
        # may come too), never from the offset committed: not the 300 old events from the first.
        assert feed.seen[0] > 0, feed.seen[:5]
        assert feed.seen[-20:] == list(range(300, 320))
