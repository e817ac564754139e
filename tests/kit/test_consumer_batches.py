"""A partition's records of one poll are applied in one transaction (inbox entries, effects,
position), and a batch that is not plain sailing falls back to one by one: a poison event alone is
dead-lettered, a repeat alone is skipped, and every other event is applied exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import CloudEvent
from contracts.topics import dead_letter
from services.kit.db import Database
from services.kit.inbox import BatchHandler, ConsumerRunner, Delivered, PermanentEventError
from services.kit.settings import ServiceSettings
from tests.support import PostgresDatabases, create_topics, eventually, read_topic

pytestmark = pytest.mark.integration

EVENTS = 300


@dataclass
class Rig:
    topic: str
    db: Database
    producer: AIOKafkaProducer
    bootstrap: str
    seqscan: set[str] = field(default_factory=set)  # what `enable_seqscan` the handler ran under

    async def applied(self) -> list[int]:
        async with self.db.sessionmaker() as session:
            return list((await session.execute(sa.text("SELECT n FROM effect ORDER BY n"))).scalars())

    async def publish(self, events: list[CloudEvent]) -> None:
        for event in events:
            await self.producer.send(self.topic, event.to_bytes(), key=b"one-key")  # one partition, in order
        await self.producer.flush()

    async def handler(self, session: AsyncSession, event: CloudEvent, topic: str) -> None:
        self.seqscan.add(str(await session.scalar(sa.text("SHOW enable_seqscan"))))
        if event.data.get("poison"):
            raise PermanentEventError("poison (injected)")
        await session.execute(sa.text("INSERT INTO effect (n) VALUES (:n)"), {"n": event.data["n"]})

    def runner(
        self,
        group: str,
        *,
        topics: list[str] | None = None,
        batch_handler: BatchHandler | None = None,
        batch_topics: Sequence[str] = (),
    ) -> ConsumerRunner:
        return ConsumerRunner(
            service="kit-test",
            consumer="batches",
            topics=topics or [self.topic],
            handler=self.handler,
            batch_handler=batch_handler,
            batch_topics=batch_topics,
            db=self.db,
            producer=self.producer,
            settings=ServiceSettings(
                kafka_bootstrap_servers=self.bootstrap,
                kafka_consumer_group_prefix=group,
                kafka_session_timeout_ms=6000,
            ),
        )


@pytest_asyncio.fixture(loop_scope="session")
async def rig(kafka_bootstrap: str, databases: PostgresDatabases) -> AsyncIterator[Rig]:
    topic = f"kit-test.batches-{uuid.uuid4().hex[:8]}"
    await create_topics(kafka_bootstrap, [NewTopic(topic, 1, 1), NewTopic(dead_letter(topic), 1, 1)])
    db = Database(await databases.migrated("registry"))
    async with db.sessionmaker() as session, session.begin():
        await session.execute(sa.text("CREATE TABLE effect (n integer NOT NULL UNIQUE)"))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        yield Rig(topic, db, producer, kafka_bootstrap)
    finally:
        await producer.stop()
        await db.dispose()


async def transactions_of(db: Database, group: str) -> int:
    """How many transactions wrote the group's inbox entries (PostgreSQL's xmin of each row)."""
    async with db.sessionmaker() as session:
        query = sa.text("SELECT count(DISTINCT xmin::text) FROM inbox_entry WHERE consumer LIKE :group")
        return int((await session.execute(query, {"group": group + "%"})).scalar_one())


async def test_a_poll_s_records_are_applied_in_one_transaction_per_partition(rig: Rig) -> None:
    await rig.publish([CloudEvent(source="/t", type="t.e", data={"n": n}) for n in range(EVENTS)])
    group = f"batches-{uuid.uuid4().hex[:6]}."
    runner = rig.runner(group)
    await runner.start()
    try:

        async def all_applied() -> bool:
            return len(await rig.applied()) >= EVENTS

        await eventually(all_applied, within=30)
        assert await rig.applied() == list(range(EVENTS))
        # All on the topic before the consumer started: polls of up to 200 records, each applied in
        # one transaction with its inbox entries (one by one, it would be 300).
        transactions = await transactions_of(rig.db, group)
        assert transactions <= EVENTS // 20, transactions
    finally:
        await runner.stop()


async def test_a_poison_in_a_batch_alone_is_dead_lettered_and_the_rest_applied_once(rig: Rig) -> None:
    events = [CloudEvent(source="/t", type="t.e", data={"n": 1_000 + n, "poison": n == 37}) for n in range(80)]
    await rig.publish(events)
    runner = rig.runner(f"poison-{uuid.uuid4().hex[:6]}.")
    await runner.start()
    try:

        async def all_applied() -> bool:
            return len(await rig.applied()) >= 79

        await eventually(all_applied, within=30)
        await asyncio.sleep(1.0)  # time for a wrong second application to show
        assert await rig.applied() == [1_000 + n for n in range(80) if n != 37], "every other event once"
        dead = await read_topic(rig.bootstrap, dead_letter(rig.topic))
        assert [r.event_id for r in dead] == [events[37].id], "the poison alone is dead-lettered"
        assert rig.seqscan == {"off"}, "one by one as in the batch: planned by key (kit `lookup_plans`)"
    finally:
        await runner.stop()


async def test_a_batch_holding_a_repeat_skips_the_repeat_and_applies_the_rest(rig: Rig) -> None:
    first = [CloudEvent(source="/t", type="t.e", data={"n": 10_000 + n}) for n in range(5)]
    group = f"repeats-{uuid.uuid4().hex[:6]}."
    runner = rig.runner(group)
    await runner.start()
    try:
        await rig.publish(first)

        async def first_applied() -> bool:
            return len([n for n in await rig.applied() if n >= 10_000]) == 5

        await eventually(first_applied, within=30)
        # The relay sent two of them again (a crash after publishing), among new events.
        later = [CloudEvent(source="/t", type="t.e", data={"n": 10_100 + n}) for n in range(20)]
        await rig.publish([*later[:10], first[1], first[3], *later[10:]])

        async def all_applied() -> bool:
            return len([n for n in await rig.applied() if n >= 10_000]) == 25

        await eventually(all_applied, within=30)
        await asyncio.sleep(1.0)
        mine = [n for n in await rig.applied() if n >= 10_000]
        assert mine == sorted({e.data["n"] for e in (*first, *later)}), "each applied once (UNIQUE holds)"
    finally:
        await runner.stop()


async def test_only_the_batch_topics_polls_go_to_the_batch_handler(rig: Rig) -> None:
    """`batch_topics`: a poll of a named topic goes to `batch_handler`; one of another topic of the
    same subscription is applied event by event by `handler`. Each event is applied once either way.
    A batch's statements are planned as reads by key (kit `lookup_plans`)."""
    other = f"kit-test.other-{uuid.uuid4().hex[:8]}"
    await create_topics(rig.bootstrap, [NewTopic(other, 1, 1), NewTopic(dead_letter(other), 1, 1)])
    batched_topics: list[str] = []
    settings: set[tuple[str, str]] = set()

    async def batch_handler(session: AsyncSession, delivered: list[Delivered]) -> None:
        batched_topics.extend(item.topic for item in delivered)
        settings.add(
            ((await session.scalar(sa.text("SHOW enable_seqscan"))), await session.scalar(sa.text("SHOW jit")))
        )
        for item in delivered:
            await rig.handler(session, item.event, item.topic)

    runner = rig.runner(
        f"batch-topics-{uuid.uuid4().hex[:6]}.",
        topics=[rig.topic, other],
        batch_handler=batch_handler,
        batch_topics=[rig.topic],
    )
    await rig.publish([CloudEvent(source="/t", type="t.e", data={"n": 5_000 + n}) for n in range(30)])
    for n in range(30):
        event = CloudEvent(source="/t", type="t.e", data={"n": 6_000 + n})
        await rig.producer.send(other, event.to_bytes(), key=b"one-key")
    await rig.producer.flush()
    await runner.start()
    try:
        wanted = [*range(5_000, 5_030), *range(6_000, 6_030)]

        async def all_applied() -> bool:
            return set(wanted) <= set(await rig.applied())

        await eventually(all_applied, within=30)
        assert [n for n in await rig.applied() if n in set(wanted)] == wanted  # each once
        assert batched_topics and set(batched_topics) == {rig.topic}
        assert len(batched_topics) == 30
        assert settings == {("off", "off")}
    finally:
        await runner.stop()
