"""The outbox relay on real PostgreSQL and a real broker: a failed produce request holds back the
rest of its partition, so no key's event reaches the topic before an earlier one of the same key;
keys waiting for a retry never fill a claim; and the claim reads the relay's partial indexes."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaConnectionError

from contracts.envelope import CloudEvent
from services.kit.db import Database, utcnow
from services.kit.outbox import OUTBOX, POSITIONS, OutboxRelay, add_event, claim_statements, steady_plans
from tests.support import PostgresDatabases, create_topics, read_topic

pytestmark = pytest.mark.integration


async def new_topic(bootstrap: str, partitions: int = 3) -> str:
    name = f"kit-test.relay-{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, [NewTopic(name, partitions, 1)])
    return name


class FailingOnce:
    """Wraps a real producer: the `nth` record batch handed to it fails as a produce request that
    never reached the broker would; every other batch goes to the broker."""

    def __init__(self, producer: AIOKafkaProducer, nth: int) -> None:
        self.producer = producer
        self.nth = nth
        self.batches = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.producer, name)

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        self.batches += 1
        if self.batches == self.nth:
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(KafkaConnectionError("injected: the produce request failed"))
            return failed
        return await self.producer.send_batch(batch, topic, partition=partition)


async def test_a_failed_batch_holds_back_its_partition_so_no_key_overtakes_itself(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    db = Database(await databases.migrated("registry"))
    topic = await new_topic(kafka_bootstrap, partitions=1)
    # Small batches, so one claim goes out as many produce requests on the one partition.
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_batch_size=1024)
    await producer.start()
    try:
        failing = FailingOnce(producer, nth=2)
        relay = OutboxRelay(db, failing, service="kit-test", batch_size=200)  # type: ignore[arg-type]
        keys = [f"key-{k}" for k in range(4)]
        async with db.sessionmaker() as session, session.begin():
            for seq in range(15):
                for key in keys:
                    add_event(session, topic, key, CloudEvent(source="/t", type="t.e", subject=key, data={"seq": seq}))

        first = await relay.relay_once()
        assert 0 < first < 60  # the first batch went out; the failed one and all after it did not
        on_topic = await read_topic(kafka_bootstrap, topic)
        assert len(on_topic) == first  # nothing after the failed batch reached the partition

        async def everything_sent() -> bool:
            await relay.relay_once()
            async with db.sessionmaker() as session:
                return not await session.scalar(sa.select(sa.func.count()).where(OUTBOX.c.sent_at.is_(None)))

        for _ in range(100):
            if await everything_sent():
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the relay did not send the held-back events")
    finally:
        await producer.stop()
        await db.dispose()

    records = await read_topic(kafka_bootstrap, topic)
    assert failing.batches > 2
    first_copies: dict[str, list[int]] = {key: [] for key in keys}
    seen: set[str | None] = set()
    for record in sorted(records, key=lambda r: r.offset):
        if record.event_id in seen:
            continue
        seen.add(record.event_id)
        first_copies[str(record.key)].append(json.loads(record.value)["data"]["seq"])
    assert first_copies == {key: list(range(15)) for key in keys}


async def test_keys_waiting_for_a_retry_never_fill_a_claim(databases: PostgresDatabases) -> None:
    db = Database(await databases.migrated("registry"))
    try:
        relay = OutboxRelay(db, producer=None, service="kit-test", batch_size=50)  # type: ignore[arg-type]
        async with db.sessionmaker() as session, session.begin():
            for n in range(300):  # more rows than several claims, all of one key
                add_event(session, "t", "held", CloudEvent(source="/t", type="t.e", data={"n": n}))
            for n in range(10):
                add_event(session, "t", f"free-{n}", CloudEvent(source="/t", type="t.e", data={"n": n}))
        async with db.sessionmaker() as session, session.begin():
            first_held = await session.scalar(sa.select(sa.func.min(OUTBOX.c.id)).where(OUTBOX.c.key == "held"))
            await session.execute(
                sa.update(OUTBOX)
                .where(OUTBOX.c.id == first_held)
                .values(attempts=1, next_attempt_at=utcnow() + timedelta(minutes=5))
            )
        async with db.sessionmaker() as session, session.begin():
            await steady_plans(session)  # as the relay's round sets them
            claimed = await relay._claim(session)
        assert sorted(row.key for row in claimed) == sorted(f"free-{n}" for n in range(10))

        # Once its retry is due, the held key goes first again, in id order.
        async with db.sessionmaker() as session, session.begin():
            await session.execute(sa.update(OUTBOX).where(OUTBOX.c.id == first_held).values(next_attempt_at=utcnow()))
        async with db.sessionmaker() as session, session.begin():
            await steady_plans(session)  # as the relay's round sets them
            claimed = await relay._claim(session)
        assert [row.key for row in claimed] == ["held"] * 50
        assert claimed[0].id == first_held
    finally:
        await db.dispose()


@pytest.mark.parametrize("statistics", ["young", "analyzed"])
async def test_the_claim_reads_the_partial_indexes_whatever_the_statistics(
    databases: PostgresDatabases, statistics: str
) -> None:
    db = Database(await databases.migrated("registry"))
    try:
        async with db.sessionmaker() as session, session.begin():
            rows = [
                {"topic": "t", "key": f"k{n % 500}", "event_id": str(n), "payload": b"{}", "attempts": 0}
                for n in range(20_000)
            ]
            await session.execute(sa.insert(OUTBOX), rows)
            await session.execute(sa.update(OUTBOX).where(OUTBOX.c.id % 10 != 0).values(sent_at=utcnow()))
        if statistics == "analyzed":
            async with db.engine.connect() as connection:
                await connection.execute(sa.text("ANALYZE outbox_message"))
        plans = {}
        async with db.sessionmaker() as session, session.begin():
            await steady_plans(session)
            for name, statement in claim_statements({"k1", "k2"}, now=utcnow()).items():
                plan = (await session.execute(sa.text(f"EXPLAIN {statement}"))).scalars().all()
                plans[name] = "\n".join(plan)
        for lane in ("interactive", "bulk"):
            claim = plans[f"claim page, {lane} lane"]
            assert "Index Scan using ix_outbox_message_unsent_lane" in claim, claim
            assert "Sort" not in claim, claim
        assert "ix_outbox_message_retry" in plans["held keys"], plans["held keys"]
        # An idle round's one look: a partial index of unsent rows, never the table of sent ones.
        anything = plans["anything unsent"]
        assert "Index Only Scan using ix_outbox_message_unsent" in anything, anything
        earlier = plans["earlier rows of the claimed keys"]
        assert "ix_outbox_message_unsent_key" in earlier, earlier
    finally:
        await db.dispose()


async def test_no_relay_statement_is_compiled_with_jit(databases: PostgresDatabases) -> None:
    """Steady plans cost a disabled path at 10^10, far above `jit_above_cost`: the positions' read
    (a sequential scan of a few rows, nothing else possible) was compiled with LLVM at every relay
    round, 10-45 ms of PostgreSQL's CPU each. The round's settings turn JIT off with them."""
    db = Database(await databases.migrated("registry"))
    try:
        async with db.sessionmaker() as session, session.begin():
            await session.execute(
                sa.insert(POSITIONS), [{"topic": "t", "partition": p, "next_offset": 1} for p in range(3)]
            )

        async def jit_used(statement: str, *, jit: bool) -> bool:
            async with db.sessionmaker() as session, session.begin():
                await steady_plans(session)
                if jit:  # the round's other settings without JIT's: what the relay had before
                    await session.execute(sa.text("SET LOCAL jit = on"))
                explained = await session.scalar(sa.text(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}"))
                return "JIT" in explained[0]

        statements = claim_statements({"k1"}, now=utcnow())
        for name, statement in statements.items():
            assert not await jit_used(statement, jit=False), name
        async with db.engine.connect() as connection:
            available = await connection.scalar(sa.text("SELECT pg_jit_available()"))
        if available:  # this server can compile: the check above could have failed
            assert await jit_used(statements["published positions"], jit=True)
    finally:
        await db.dispose()
