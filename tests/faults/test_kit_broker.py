"""Broker faults against a service built by the kit, on real PostgreSQL and a tansu broker of the
test's own: the broker killed and restarted empty loses no acknowledged event and applies none
twice (the outbox sends its kept rows again, the consumers read again from the start, the inbox
drops the repeats), and an event id that comes again with another payload is dead-lettered and
counted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import APIRouter
from prometheus_client import REGISTRY
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import CloudEvent, new_event
from contracts.topics import dead_letter
from services.kit.app import ServiceDefinition, Subscription, create_service_app
from services.kit.db import SessionDep
from services.kit.outbox import add_event
from services.kit.settings import ServiceSettings
from tests.faults.harness import Broker
from tests.support import PostgresDatabases, ServiceClient, eventually, execute, free_port, query, running

pytestmark = [pytest.mark.integration, pytest.mark.faults]

TOPIC = "kit-test.fault.v1"
APPLIED = sa.table(
    "applied_event",
    sa.column("event_id", sa.String),
    sa.column("key", sa.String),
    sa.column("seq", sa.Integer),
)


class Emitted(BaseModel):
    seq: int


class Emit(BaseModel):
    key: str
    first: int
    count: int


router = APIRouter(prefix="/kit-test/v1")


@router.post("/events", status_code=201)
async def emit(body: Emit, session: SessionDep) -> dict[str, list[str]]:
    ids = []
    for seq in range(body.first, body.first + body.count):
        event = new_event(source="/kit-test", type="kit-test.emitted", subject=body.key, data=Emitted(seq=seq))
        add_event(session, TOPIC, body.key, event)
        ids.append(event.id)
    return {"event_ids": ids}


async def apply(session: AsyncSession, event: CloudEvent, topic: str) -> None:
    assert isinstance(event.data, dict)
    await session.execute(sa.insert(APPLIED).values(event_id=event.id, key=event.subject, seq=event.data["seq"]))


@dataclass
class Harness:
    client: ServiceClient
    broker: Broker
    database_url: str
    settings: ServiceSettings

    async def emit(self, key: str, first: int, count: int) -> list[str]:
        response = await self.client.post("/kit-test/v1/events", json={"key": key, "first": first, "count": count})
        assert response.status_code == 201, response.text
        return list(response.json()["event_ids"])

    async def applied(self) -> list[asyncpg.Record]:
        return await query(self.database_url, "SELECT event_id, key, seq FROM applied_event ORDER BY n")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    own = Broker(free_port(), tmp_path_factory.mktemp("kit-broker"), topics=[TOPIC])
    own.start()
    try:
        yield own
    finally:
        own.kill()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def harness(broker: Broker, databases: PostgresDatabases) -> AsyncIterator[Harness]:
    url = await databases.migrated("registry")  # any service's schema carries the kit's tables
    # No unique constraint: an event applied twice would show as two rows.
    await execute(url, "CREATE TABLE applied_event (n bigserial PRIMARY KEY, event_id text, key text, seq int)")
    settings = ServiceSettings(
        database_url=url,
        kafka_bootstrap_servers=broker.bootstrap,
        kafka_consumer_group_prefix=f"t{uuid.uuid4().hex[:6]}.",
        broker_watch_interval_s=0.5,
        consumer_stall_after_s=5.0,
    )
    definition = ServiceDefinition(
        name="kit-test",
        title="Kit test",
        description="",
        routers=[router],
        publishes=[TOPIC],
        subscriptions=[Subscription("applier", [TOPIC], apply)],
    )
    async with running(create_service_app(definition, settings)) as client:
        yield Harness(client, broker, url, settings)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_broker_restarted_empty_loses_no_event_and_applies_none_twice(harness: Harness) -> None:
    keys = [f"k{i}" for i in range(5)]
    produced: dict[str, list[str]] = {key: [] for key in keys}
    for key in keys:
        produced[key] += await harness.emit(key, 0, 10)

    async def all_applied() -> bool:
        return len(await harness.applied()) >= sum(len(ids) for ids in produced.values())

    await eventually(all_applied, within=60)
    resent_before = metric("outbox_resent_total", service="kit-test")

    harness.broker.kill()
    for key in keys:  # acknowledged while the broker is gone: they wait in the outbox
        produced[key] += await harness.emit(key, 10, 6)

    async def not_ready() -> bool:
        return (await harness.client.get("/readyz")).status_code == 503

    await eventually(not_ready, within=30)
    harness.broker.start()  # empty, under another cluster id
    for key in keys:
        produced[key] += await harness.emit(key, 16, 4)

    expected = {event_id for ids in produced.values() for event_id in ids}
    await eventually(lambda: _applied_ids(harness, expected), within=120)

    rows = await harness.applied()
    applied_ids = [row["event_id"] for row in rows]
    print(f"\nbroker restart: {len(expected)} acknowledged, {len(rows)} applied, {len(set(applied_ids))} distinct")
    assert set(applied_ids) == expected  # nothing lost
    assert len(applied_ids) == len(expected)  # nothing applied twice
    for key in keys:  # each key's events in the order they were written
        seqs = [row["seq"] for row in rows if row["key"] == key]
        assert seqs == sorted(seqs) == list(range(20))
    assert metric("outbox_resent_total", service="kit-test") > resent_before

    async def ready() -> bool:
        return (await harness.client.get("/readyz")).status_code == 200

    await eventually(ready, within=30)


async def _applied_ids(harness: Harness, expected: set[str]) -> bool:
    return expected <= {row["event_id"] for row in await harness.applied()}


async def test_the_same_event_id_with_another_payload_is_dead_lettered_and_counted(harness: Harness) -> None:
    labels = {"service": "kit-test", "consumer": "applier", "topic": TOPIC}
    conflicting_before = metric("events_conflicting_total", **labels)
    original = new_event(source="/kit-test", type="kit-test.emitted", subject="forged", data=Emitted(seq=1))
    forged = original.model_copy(update={"data": {"seq": 999}})
    producer = AIOKafkaProducer(bootstrap_servers=harness.broker.bootstrap)
    dlq = AIOKafkaConsumer(
        dead_letter(TOPIC),
        bootstrap_servers=harness.broker.bootstrap,
        group_id=f"dlq-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
    )
    await producer.start()
    await dlq.start()
    try:
        await producer.send_and_wait(TOPIC, original.to_bytes(), key=b"forged")
        await producer.send_and_wait(TOPIC, forged.to_bytes(), key=b"forged")
        await producer.send_and_wait(TOPIC, original.to_bytes(), key=b"forged")  # a plain repeat

        async def counted() -> bool:
            return metric("events_conflicting_total", **labels) > conflicting_before

        await eventually(counted, within=60)
        dead: list[bytes] = []

        async def dead_lettered() -> bool:
            for records in (await dlq.getmany(timeout_ms=300)).values():
                dead.extend(r.value for r in records if r.value and CloudEvent.from_bytes(r.value).id == original.id)
            return bool(dead)

        await eventually(dead_lettered, within=30)
    finally:
        await producer.stop()
        await dlq.stop()
    assert [CloudEvent.from_bytes(d).data for d in dead] == [{"seq": 999}]
    rows = [row for row in await harness.applied() if row["event_id"] == original.id]
    assert [row["seq"] for row in rows] == [1]
    assert metric("events_conflicting_total", **labels) == conflicting_before + 1
