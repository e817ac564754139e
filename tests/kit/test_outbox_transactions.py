"""The outbox follows the transaction it was written in, savepoints included, on PostgreSQL and on
the embedded SQLite default."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from contracts.envelope import CloudEvent
from services.kit.db import Database
from services.kit.migrations import upgrade
from services.kit.outbox import OutboxMessage, OutboxRelay, add_event
from services.registry.tables import PersonFact
from tests.faults.harness import Broker
from tests.support import PostgresDatabases, free_port

pytestmark = pytest.mark.integration


def event(name: str) -> CloudEvent:
    return CloudEvent(source="/test", type=f"test.{name}", data={"name": name})


async def database(kind: str, databases: PostgresDatabases, tmp_path: Path) -> Database:
    if kind == "postgresql":
        return Database(await databases.migrated("registry"))
    url = f"sqlite+aiosqlite:///{tmp_path}/registry.db"
    await asyncio.to_thread(upgrade, "registry", url)
    return Database(url)


async def event_types(db: Database) -> list[str]:
    async with db.sessionmaker() as session:
        rows = await session.execute(select(OutboxMessage.payload).order_by(OutboxMessage.id))
        return [CloudEvent.from_bytes(payload).type for (payload,) in rows]


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_a_rolled_back_savepoint_drops_only_its_own_events(
    kind: str, databases: PostgresDatabases, tmp_path: Path
) -> None:
    db = await database(kind, databases, tmp_path)
    try:
        async with db.sessionmaker() as session, session.begin():
            add_event(session, "t", "k", event("before"))
            try:
                async with session.begin_nested():
                    add_event(session, "t", "k", event("inside"))
                    raise RuntimeError("the savepoint fails")
            except RuntimeError:
                pass
            add_event(session, "t", "k", event("after"))
        assert await event_types(db) == ["test.before", "test.after"]
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_a_rolled_back_transaction_leaves_neither_state_nor_events(
    kind: str, databases: PostgresDatabases, tmp_path: Path
) -> None:
    import uuid

    db = await database(kind, databases, tmp_path)
    try:
        async with db.sessionmaker() as session:
            await session.execute(select(func.count()).select_from(PersonFact))  # reads first, as requests do
            async with session.begin_nested():  # the first write sits in a savepoint
                session.add(PersonFact(subject_ref="s", agency="a", dataset="d", fact_id=uuid.uuid4(), category="c"))
            add_event(session, "t", "k", event("lost"))
            await session.rollback()
        async with db.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(PersonFact)) == 0
        assert await event_types(db) == []
    finally:
        await db.dispose()


async def test_on_sqlite_the_relay_waiting_for_an_absent_broker_leaves_the_database_writable(
    tmp_path: Path,
) -> None:
    # The relay's claim commits before it publishes: while it waits for a broker that is gone, a
    # request can still write (before, it held SQLite's write lock and requests failed "locked").
    db = await database("sqlite", PostgresDatabases(), tmp_path)
    broker = Broker(free_port(), tmp_path)
    broker.start()
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, request_timeout_ms=8000)
    await producer.start()
    try:
        async with db.sessionmaker() as session, session.begin():
            add_event(session, "registry.person.v1", "k", event("before-the-outage"))
        broker.kill()
        relay = OutboxRelay(db, producer, service="test")
        publishing = asyncio.create_task(relay.relay_once())
        await asyncio.sleep(0.5)  # the relay has claimed its row and waits for the broker
        async with db.sessionmaker() as session, session.begin():
            add_event(session, "registry.person.v1", "k", event("during-the-outage"))
        assert not publishing.done(), "the relay was not waiting for the broker"
        assert await publishing == 0  # nothing reached a broker
        assert await event_types(db) == ["test.before-the-outage", "test.during-the-outage"]
    finally:
        await producer.stop()
        broker.kill()
        await db.dispose()
