"""Watermarks: a relay says how far it has published only when it is true, with the broker's own
offsets, and the subsidy service's horizon follows the watermarks its consumers have reached."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.envelope import CloudEvent
from contracts.outbox import OutboxWatermark
from contracts.topics import OUTBOX_WATERMARK
from services.kit.db import Database, utcnow
from services.kit.inbox import ConsumerPosition
from services.kit.migrations import upgrade
from services.kit.outbox import OUTBOX, OutboxRelay, add_event
from services.subsidy.applications.consistency import Consistency
from services.subsidy.tables import Watermark
from tests.support import PostgresDatabases, counted, read_topic

pytestmark = pytest.mark.integration


async def new_topic(bootstrap: str) -> str:
    name = f"kit-test.watermark-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 3, 1), NewTopic(OUTBOX_WATERMARK, 3, 1)])
    except Exception:  # the watermark topic exists already
        await admin.create_topics([NewTopic(name, 3, 1)])
    finally:
        await admin.close()
    await asyncio.sleep(0.5)  # tansu drops what is produced to a topic in its first moments
    return name


async def watermarks_of(bootstrap: str, service: str) -> list[OutboxWatermark]:
    return [
        OutboxWatermark.model_validate(CloudEvent.from_bytes(r.value).data)
        for r in await read_topic(bootstrap, OUTBOX_WATERMARK)
        if r.key == service
    ]


@contextlib.asynccontextmanager
async def a_relay(kafka_bootstrap: str, db: Database) -> AsyncIterator[tuple[OutboxRelay, str]]:
    """A relay of `db`'s outbox under a service name of its own, and a new topic; `db` disposed after."""
    topic = await new_topic(kafka_bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        yield OutboxRelay(db, producer, service=f"kit-test-{uuid.uuid4().hex[:8]}"), topic
    finally:
        await producer.stop()
        await db.dispose()


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_a_watermark_names_the_offsets_of_everything_committed_before_it(
    kind: str, kafka_bootstrap: str, databases: PostgresDatabases, tmp_path: Path
) -> None:
    if kind == "postgresql":
        db = Database(await databases.migrated("registry"))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/registry.db"
        await asyncio.to_thread(upgrade, "registry", url)
        db = Database(url)
    async with a_relay(kafka_bootstrap, db) as (relay, topic):
        async with db.sessionmaker() as session, session.begin():
            for n in range(12):
                add_event(session, topic, f"key-{n}", CloudEvent(source="/t", type="t.e", data={"n": n}))
        committed = utcnow()
        assert await relay.relay_once() == 12

        [watermark] = await watermarks_of(kafka_bootstrap, relay.service)
        published = await read_topic(kafka_bootstrap, topic)
        ends: dict[int, int] = {}
        for record in published:
            ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
        assert len(published) == 12
        assert {(p.topic, p.partition): p.next_offset for p in watermark.positions} == {
            (topic, partition): end for partition, end in ends.items()
        }
        assert watermark.as_of >= committed


async def test_no_watermark_while_a_row_created_before_it_is_unsent(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    db = Database(await databases.migrated("registry"))
    async with a_relay(kafka_bootstrap, db) as (relay, topic):
        async with db.sessionmaker() as session, session.begin():
            add_event(session, topic, "waits", CloudEvent(source="/t", type="t.e", data={"n": 1}))
        # Its publication failed before: it waits for a retry, so the relay cannot vouch for it.
        async with db.sessionmaker() as session, session.begin():
            await session.execute(sa.update(OUTBOX).values(next_attempt_at=utcnow() + timedelta(hours=1), attempts=1))
        assert await relay.relay_once() == 0
        assert await watermarks_of(kafka_bootstrap, relay.service) == []

        async with db.sessionmaker() as session, session.begin():
            await session.execute(sa.update(OUTBOX).values(next_attempt_at=None))
        relay._last_watermark = 0.0  # due again
        assert await relay.relay_once() == 1
        [watermark] = await watermarks_of(kafka_bootstrap, relay.service)
        assert [(p.topic, p.next_offset) for p in watermark.positions] == [(topic, 1)]


async def test_an_idle_round_is_three_statements_and_still_a_watermark(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    """Ten rounds a second, busy or idle: with nothing unsent, no claim and no look for rows behind
    (it was seven statements), and the watermark still goes out, its offsets those published."""
    db = Database(await databases.migrated("registry"))
    async with a_relay(kafka_bootstrap, db) as (relay, topic):
        async with db.sessionmaker() as session, session.begin():
            add_event(session, topic, "key", CloudEvent(source="/t", type="t.e", data={"n": 1}))
        assert await relay.relay_once() == 1
        relay._last_watermark = 0.0  # due again
        before_idle = utcnow()
        with counted(db) as statements:
            assert await relay.relay_once() == 0
        assert len(statements) == 3, statements
        first, idle = await watermarks_of(kafka_bootstrap, relay.service)
        assert idle.as_of >= before_idle > first.as_of
        assert [(p.topic, p.next_offset) for p in idle.positions] == [(topic, 1)]


async def test_the_horizon_is_the_newest_watermark_the_consumers_have_reached(databases: PostgresDatabases) -> None:
    db = Database(await databases.migrated("subsidy"))
    group = f"g-{uuid.uuid4().hex[:6]}"
    consistency = Consistency(["registry", "sharing"], {"registry.person.v1": group, "sharing.fact.v1": group}, 0.05)
    now = utcnow()

    async def watermark(service: str, seconds_ago: float, **offsets: int) -> None:
        positions = [{"topic": t.replace("_", "."), "partition": 0, "next_offset": o} for t, o in offsets.items()]
        async with db.sessionmaker() as session, session.begin():
            session.add(Watermark(service=service, as_of=now - timedelta(seconds=seconds_ago), positions=positions))

    async def applied(topic: str, offset: int) -> None:
        async with db.sessionmaker() as session, session.begin():
            await session.merge(ConsumerPosition(consumer=group, topic=topic, partition=0, next_offset=offset))

    async def horizon() -> object:
        async with db.sessionmaker() as session:
            return await consistency.horizon(session)

    try:
        await watermark("registry", 3, registry_person_v1=10)
        await watermark("registry", 1, registry_person_v1=20)
        assert await horizon() is None  # sharing has said nothing yet
        await watermark("sharing", 2, sharing_fact_v1=5)
        assert await horizon() is None  # nothing applied: no watermark reached
        await applied("sharing.fact.v1", 5)
        await applied("registry.person.v1", 12)
        # registry's newest (20) is not reached, its older one (10) is; the earlier source decides.
        assert await horizon() == now - timedelta(seconds=3) - timedelta(seconds=0.05)
        await applied("registry.person.v1", 20)
        assert await horizon() == now - timedelta(seconds=2) - timedelta(seconds=0.05)
    finally:
        await db.dispose()


async def test_a_watermark_is_kept_once_and_old_ones_are_purged_at_most_every_minute(
    databases: PostgresDatabases,
) -> None:
    db = Database(await databases.migrated("subsidy"))
    consistency = Consistency(["registry"], {"registry.person.v1": "g"}, 0.05)
    now = utcnow()

    def arriving(seconds_ago: float) -> OutboxWatermark:
        return OutboxWatermark(
            service="registry",
            as_of=now - timedelta(seconds=seconds_ago),
            positions=[{"topic": "registry.person.v1", "partition": 0, "next_offset": 1}],
        )

    async def record(watermark: OutboxWatermark) -> None:
        async with db.sessionmaker() as session, session.begin():
            await consistency.record(session, watermark)

    async def kept() -> list[float]:
        async with db.sessionmaker() as session:
            found = (await session.execute(sa.select(Watermark.as_of).order_by(Watermark.as_of))).scalars()
            return [round((now - as_of).total_seconds()) for as_of in found]

    try:
        async with db.sessionmaker() as session, session.begin():
            session.add(Watermark(service="registry", as_of=now - timedelta(hours=1), positions=[]))
        await record(arriving(2))
        await record(arriving(2))  # the same one again (a redelivery): kept once
        assert await kept() == [2]  # and the hour-old one purged on the first arrival
        async with db.sessionmaker() as session, session.begin():
            session.add(Watermark(service="registry", as_of=now - timedelta(hours=2), positions=[]))
        await record(arriving(1))
        assert await kept() == [7200, 2, 1]  # not purged again within the minute
        consistency._pruned -= 60
        await record(arriving(0))
        assert await kept() == [2, 1, 0]
    finally:
        await db.dispose()
