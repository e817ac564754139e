"""A consumer round that fails part way (the database gone between an event's effect and its
partition's position) loses nothing: the partitions of the batch it had not reached yet are read
again, not skipped because the consumer had already fetched past them."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.structs import TopicPartition
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import CloudEvent
from services.kit.db import Database
from services.kit.inbox import ConsumerRunner
from services.kit.settings import ServiceSettings
from tests.support import PostgresDatabases, create_topics, eventually

pytestmark = pytest.mark.integration

EVENTS = 90


class PositionFailsOnce(ConsumerRunner):
    """The database fails at the first partition's position, twice: in the transaction that applies
    the partition's records together (which then rolls back, and they are applied one by one), and
    again just after those one-by-one effects committed, which fails the round."""

    failures = 2

    @property
    def failed(self) -> bool:
        return self.failures == 0

    async def _record_position_in(self, session: AsyncSession, partition: TopicPartition, next_offset: int) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("connection reset by peer (injected)")
        await super()._record_position_in(session, partition, next_offset)


async def test_a_round_failing_after_one_partition_reads_the_others_again(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    topic = f"kit-test.rounds-{uuid.uuid4().hex[:8]}"
    await create_topics(kafka_bootstrap, [NewTopic(topic, 3, 1)])
    db = Database(await databases.migrated("registry"))
    async with db.sessionmaker() as session, session.begin():
        await session.execute(sa.text("CREATE TABLE effect (n integer NOT NULL)"))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()

    async def handler(session: AsyncSession, event: CloudEvent, topic: str) -> None:
        await session.execute(sa.text("INSERT INTO effect (n) VALUES (:n)"), {"n": event.data["n"]})

    runner = PositionFailsOnce(
        service="kit-test",
        consumer="rounds",
        topics=[topic],
        handler=handler,
        db=db,
        producer=producer,
        settings=ServiceSettings(
            kafka_bootstrap_servers=kafka_bootstrap,
            kafka_consumer_group_prefix=f"rounds-{uuid.uuid4().hex[:6]}.",
            kafka_session_timeout_ms=6000,
        ),
    )
    try:
        # All on the topic before the consumer starts: its first batch holds all three partitions.
        for n in range(EVENTS):
            await producer.send(
                topic, CloudEvent(source="/t", type="t.e", data={"n": n}).to_bytes(), key=f"k{n}".encode()
            )
        await producer.flush()
        await runner.start()

        async def applied() -> list[int]:
            async with db.sessionmaker() as session:
                return list((await session.execute(sa.text("SELECT n FROM effect ORDER BY n"))).scalars())

        async def all_applied() -> bool:
            return len(await applied()) >= EVENTS

        await eventually(all_applied, within=30)
        await asyncio.sleep(1.0)  # time for a wrong second application to show
        assert runner.failed, "the fault was injected"
        assert await applied() == list(range(EVENTS)), "every event applied once"
    finally:
        await runner.stop()
        await producer.stop()
        await db.dispose()
