"""The outbox's bulk lane on real PostgreSQL and a real broker: the interactive lane goes first, a
key's earlier bulk rows go with its interactive one, and the bulk lane is published only while the
consumer group it is paced by is fewer than `max_lag` events behind."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.envelope import CloudEvent
from services.kit.db import Database
from services.kit.outbox import OUTBOX, OutboxRelay, add_event, published_positions, steady_plans
from services.kit.pacing import BulkPace
from tests.kit.test_relay import new_topic
from tests.support import PostgresDatabases, free_port

pytestmark = pytest.mark.integration


def event(n: int) -> CloudEvent:
    return CloudEvent(source="/t", type="t.e", data={"n": n})


async def unsent(db: Database) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(sa.select(sa.func.count()).where(OUTBOX.c.sent_at.is_(None))) or 0)


@dataclass
class Lane:
    """An outbox whose bulk lane is paced by one consumer group, and that group's consumer."""

    db: Database
    relay: OutboxRelay
    topic: str
    consumer: AIOKafkaConsumer

    async def consume(self, count: int) -> None:
        """Read `count` records and commit past them, as a consumer that applied them would."""
        read = 0
        async with asyncio.timeout(30):
            while read < count:
                batches = await self.consumer.getmany(timeout_ms=500, max_records=count - read)
                read += sum(len(records) for records in batches.values())
        await self.consumer.commit()

    async def write(self, keys: list[str], *, bulk: bool) -> None:
        async with self.db.sessionmaker() as session, session.begin():
            for n, key in enumerate(keys):
                add_event(session, self.topic, key, event(n), bulk=bulk)


@asynccontextmanager
async def paced_lane(
    kafka_bootstrap: str, databases: PostgresDatabases, *, max_lag: int, max_wait_s: float = 0.0, batch_size: int
) -> AsyncIterator[Lane]:
    """A lane whose group reads the topic (it has committed there once): from then on it paces the
    bulk lane."""
    db = Database(await databases.migrated("registry"))
    topic = await new_topic(kafka_bootstrap)
    group = f"kit-test.pace-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
    )
    pace = BulkPace(
        kafka_bootstrap, [group], service="kit-test", max_lag=max_lag, max_wait_s=max_wait_s, interval_s=0.0
    )
    relay = OutboxRelay(db, producer, service="kit-test", batch_size=batch_size, watermark_interval_s=0, pace=pace)
    await producer.start()
    await consumer.start()
    lane = Lane(db, relay, topic, consumer)
    try:
        await lane.write(["first"], bulk=False)
        assert await relay.relay_once() == 1
        await lane.consume(1)
        yield lane
    finally:
        await consumer.stop()
        await relay.stop()
        await producer.stop()
        await db.dispose()


async def test_the_interactive_lane_goes_first_and_takes_its_keys_earlier_bulk_rows_along(
    databases: PostgresDatabases,
) -> None:
    db = Database(await databases.migrated("registry"))
    try:
        relay = OutboxRelay(db, producer=None, service="kit-test", batch_size=50)  # type: ignore[arg-type]
        async with db.sessionmaker() as session, session.begin():
            for n in range(500):
                add_event(session, "t", f"bulk-{n}", event(n), bulk=True)
            for n in range(3):  # three rows of one key deep in the bulk load
                add_event(session, "t", "shared", event(n), bulk=True)
            for n in range(500, 1000):
                add_event(session, "t", f"bulk-{n}", event(n), bulk=True)
        async with db.sessionmaker() as session, session.begin():
            add_event(session, "t", "single", event(0))
            add_event(session, "t", "shared", event(3))

        async with db.sessionmaker() as session, session.begin():
            await steady_plans(session)  # as the relay's round sets them
            claimed = await relay._claim(session)
        keys = [row.key for row in claimed]
        # The interactive rows, though written last, are in the first claim; the bulk lane fills the rest.
        assert "single" in keys
        assert [json.loads(row.payload)["data"]["n"] for row in claimed if row.key == "shared"] == [0, 1, 2, 3]
        assert [row.id for row in claimed] == sorted(row.id for row in claimed)
        assert sum(1 for row in claimed if row.bulk) == 48 + 3  # 48 from the lane's head, 3 taken along
        assert keys[:48] == [f"bulk-{n}" for n in range(48)]
    finally:
        await db.dispose()


async def test_the_bulk_lane_goes_only_while_its_consumer_keeps_up(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    async with paced_lane(kafka_bootstrap, databases, max_lag=50, batch_size=200) as lane:
        await lane.write([f"bulk-{n}" for n in range(300)], bulk=True)
        published = [await lane.relay.relay_once() for _ in range(3)]
        assert published == [50, 0, 0]  # max_lag events ahead of the group, then the lane waits
        assert await unsent(lane.db) == 250

        # An interactive event goes at once while the bulk lane waits.
        await lane.write(["single"], bulk=False)
        assert await lane.relay.relay_once() == 1

        await lane.consume(51)  # the group catches up: the lane tops it up to max_lag again
        assert await lane.relay.relay_once() == 50
        assert await lane.relay.relay_once() == 0

        sent = 101
        while sent < 301:  # and so on to the end, never more than max_lag ahead
            await lane.consume(50)
            published_now = await lane.relay.relay_once()
            assert published_now == 50
            sent += published_now
        assert await unsent(lane.db) == 0


async def test_a_group_that_applies_fast_is_given_more_than_max_lag_ahead_of_it(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    """With `max_wait_s`, the lane keeps what the group applies in that time ahead of it once its
    rate is known: at first `max_lag`, then more as the group keeps up."""
    async with paced_lane(kafka_bootstrap, databases, max_lag=20, max_wait_s=1.0, batch_size=500) as lane:
        await lane.write([f"bulk-{n}" for n in range(3_000)], bulk=True)
        published: list[int] = []
        async with asyncio.timeout(60):
            while sum(published) < 3_000:
                published.append(await lane.relay.relay_once())
                await lane.consume(published[-1])  # the group applies all of it at once
                await asyncio.sleep(0.05)
        assert published[0] == 20  # no rate known yet: max_lag
        assert max(published) > 20  # then what the group applies in a second, which is more
        assert await unsent(lane.db) == 0


async def test_the_bulk_lane_waits_while_the_broker_cannot_say_how_far_behind_its_consumers_are(
    databases: PostgresDatabases,
) -> None:
    db = Database(await databases.migrated("registry"))
    pace = BulkPace(f"127.0.0.1:{free_port()}", ["registry.facts"], service="kit-test", max_lag=500)
    try:
        async with db.sessionmaker() as session, session.begin():
            await session.execute(sa.text("INSERT INTO outbox_position VALUES ('t', 0, 10, now())"))
        async with db.sessionmaker() as session:
            assert await pace.lags(await published_positions(session)) is None
            assert await pace.allowance(lambda: published_positions(session)) == 0
    finally:
        await pace.close()
        await db.dispose()
