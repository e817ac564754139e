"""A process killed at the worst moment loses no event and applies none twice.

The relay and the consumer run in their own processes and die at a crash point like kill -9.
Everything is real: PostgreSQL, the tansu broker, the registry's own fact handler.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import date

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlmodel import func, select

from contracts.envelope import CloudEvent, new_event
from contracts.sharing import FACT_RECORDED, Fact
from contracts.topics import REGISTRY_PERSON
from services.kit.db import Database
from services.kit.inbox import ConsumerRunner, InboxEntry
from services.kit.kafka import ensure_topics
from services.kit.outbox import OutboxMessage, add_event
from services.kit.settings import DEV_SUBJECT_KEY, ServiceSettings
from services.registry.facts.handlers import fact_handler
from services.registry.persons.schemas import PersonCreate
from services.registry.persons.service import person_services
from services.registry.settings import RegistrySettings
from services.registry.tables import Person, PersonFact
from tests.faults.harness import CrashPoint
from tests.registry.people import id_number
from tests.support import ROOT, PostgresDatabases, eventually

pytestmark = pytest.mark.integration
KILLED = 137


async def run_harness(*args: str, crash_at: str | None = None) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("KIT_CRASH_AT", None)
    if crash_at:
        env["KIT_CRASH_AT"] = crash_at
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.crash.harness",
        *args,
        cwd=ROOT,
        env=env,
    )
    return await asyncio.wait_for(process.wait(), 90)


def dibao_fact(number: str) -> tuple[str, CloudEvent]:
    ref = subject_ref_of(number)
    fact = Fact(
        fact_id=uuid.uuid4(),
        agency="civil_affairs",
        dataset="dibao",
        batch_id=uuid.uuid4(),
        record_index=0,
        subject_ref=ref,
        key=ref,
        valid_from=date(2023, 1, 1),
        attributes={"since": "2023-01-01"},
    )
    return ref, new_event(source="/sharing", type=FACT_RECORDED, subject=ref, data=fact)


def subject_ref_of(number: str) -> str:
    from services.kit.identifiers import subject_ref

    return subject_ref(DEV_SUBJECT_KEY.encode(), number)


async def copies_on_topic(bootstrap: str, topic: str, event_id: str, expected: int) -> int:
    """Read the whole topic and count the copies of one event (waits until `expected` are there)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"count-{uuid.uuid4()}",
        session_timeout_ms=6000,
    )
    await consumer.start()
    count = 0
    try:

        async def enough() -> bool:
            nonlocal count
            for records in (await consumer.getmany(timeout_ms=300)).values():
                count += sum(1 for r in records if CloudEvent.from_bytes(r.value).id == event_id)
            return count >= expected

        await eventually(enough)
        for _ in range(3):  # a few more polls: no further copy turns up
            for records in (await consumer.getmany(timeout_ms=300)).values():
                count += sum(1 for r in records if CloudEvent.from_bytes(r.value).id == event_id)
    finally:
        await consumer.stop()
    return count


async def unsent(db: Database) -> int:
    async with db.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at == None)  # noqa: E711
            )
            or 0
        )


PERSONS = person_services(RegistrySettings())


def fact_consumer(db: Database, producer: AIOKafkaProducer, settings: ServiceSettings, topic: str) -> ConsumerRunner:
    """The registry's real fact consumer, on a test topic."""
    return ConsumerRunner(
        service="registry",
        consumer="facts",
        topics=[topic],
        db=db,
        producer=producer,
        settings=settings,
        handler=fact_handler(PERSONS),
    )


async def register(db: Database, number: str) -> uuid.UUID:
    async with db.sessionmaker() as session, session.begin():
        state = await PERSONS(session).register(PersonCreate(id_number=number, name="钱八", hukou_type="urban"))
        return state.person.person_id


async def test_relay_killed_after_commit_and_again_after_publish_still_delivers_and_applies_once(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    topic = f"crash.relay.{uuid.uuid4().hex[:8]}"
    prefix = f"crash{uuid.uuid4().hex[:8]}."
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_consumer_group_prefix=prefix)
    await ensure_topics(settings, [topic])
    sender_url = await databases.migrated("registry")
    sender = Database(sender_url)
    number = id_number()
    ref, event = dibao_fact(number)
    async with sender.sessionmaker() as session, session.begin():
        add_event(session, topic, ref, event)  # committed with its (here: empty) state change

    # killed between the DB commit and the publish: nothing went out, the row is still there
    assert await run_harness("relay", sender_url, kafka_bootstrap, crash_at=CrashPoint.RELAY_AFTER_CLAIM) == KILLED
    assert await unsent(sender) == 1
    # killed after the publish but before marking it sent: published once, still unsent
    assert await run_harness("relay", sender_url, kafka_bootstrap, crash_at=CrashPoint.RELAY_AFTER_PUBLISH) == KILLED
    assert await unsent(sender) == 1
    # a healthy relay sends it again and marks it
    assert await run_harness("relay", sender_url, kafka_bootstrap) == 0
    assert await unsent(sender) == 0
    assert await copies_on_topic(kafka_bootstrap, topic, event.id, expected=2) == 2

    # the receiving side applies the twice-delivered event once
    receiver = Database(await databases.migrated("registry"))
    person_id = await register(receiver, number)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    runner = fact_consumer(receiver, producer, settings, topic)
    await runner.start()
    try:

        async def both_copies_seen() -> bool:
            async with receiver.sessionmaker() as session:
                entries = await session.scalar(select(func.count()).select_from(InboxEntry))
                person = await session.get(Person, person_id)
                return entries == 1 and person is not None and person.version == 2

        await eventually(both_copies_seen)
        await asyncio.sleep(1.0)  # give the duplicate time to be (not) applied
        async with receiver.sessionmaker() as session:
            person = await session.get(Person, person_id)
            assert person is not None and person.version == 2
            assert await session.scalar(select(func.count()).select_from(PersonFact)) == 1
            published = await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.topic == REGISTRY_PERSON)
            )
            assert published == 2  # registered + one difficulty change, not two
    finally:
        await runner.stop()
        await producer.stop()
        await sender.dispose()
        await receiver.dispose()


async def test_consumer_killed_between_its_effect_and_its_offset_commit_applies_the_event_once(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    topic = f"crash.consumer.{uuid.uuid4().hex[:8]}"
    prefix = f"crash{uuid.uuid4().hex[:8]}."
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_consumer_group_prefix=prefix)
    await ensure_topics(settings, [topic])
    url = await databases.migrated("registry")
    db = Database(url)
    number = id_number()
    person_id = await register(db, number)
    ref, event = dibao_fact(number)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(topic, event.to_bytes(), key=ref.encode())

    # the consumer commits the effect, then dies before committing the offset
    exit_code = await run_harness(
        "consume", url, kafka_bootstrap, topic, prefix, crash_at=CrashPoint.CONSUMER_AFTER_EFFECT
    )
    assert exit_code == KILLED
    async with db.sessionmaker() as session:
        person = await session.get(Person, person_id)
        assert person is not None and person.version == 2, "the effect was committed before the crash"

    # the restarted consumer gets the same event again (offset never committed) and skips it
    from prometheus_client import REGISTRY

    def duplicates() -> float:
        labels = {"service": "registry", "consumer": "facts", "topic": topic}
        return REGISTRY.get_sample_value("events_duplicate_total", labels) or 0.0

    runner = fact_consumer(db, producer, settings, topic)
    await runner.start()
    try:

        async def redelivered() -> bool:
            return duplicates() >= 1

        await eventually(redelivered)
    finally:
        await runner.stop()
        await producer.stop()
    async with db.sessionmaker() as session:
        person = await session.get(Person, person_id)
        assert person is not None and person.version == 2
        assert await session.scalar(select(func.count()).select_from(InboxEntry)) == 1
        assert await session.scalar(select(func.count()).select_from(PersonFact)) == 1
    await db.dispose()
