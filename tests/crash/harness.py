"""Runs one outbox relay or one fact consumer in its own process, so a crash test can kill it at a
crash point (KIT_CRASH_AT) exactly like kill -9: no cleanup, no offset commit, no rollback."""

from __future__ import annotations

import asyncio
import sys

from aiokafka import AIOKafkaProducer

from services.kit.db import Database
from services.kit.inbox import ConsumerRunner
from services.kit.outbox import OutboxRelay
from services.kit.settings import ServiceSettings
from services.registry.facts.handlers import fact_handler
from services.registry.persons.service import person_services
from services.registry.settings import RegistrySettings


async def relay(database_url: str, bootstrap: str) -> None:
    """Relay until the outbox is empty, then exit 0."""
    db = Database(database_url)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    relay = OutboxRelay(db, producer, service="crash-test")
    try:
        while await relay.relay_once() > 0:
            pass
    finally:
        await producer.stop()
        await db.dispose()


async def consume(database_url: str, bootstrap: str, topic: str, group_prefix: str) -> None:
    """Apply facts with the registry's real handler until killed at a crash point (or 60 s pass)."""
    settings = RegistrySettings(database_url=database_url, kafka_bootstrap_servers=bootstrap)
    db = Database(database_url)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    runner = ConsumerRunner(
        service="registry",
        consumer="facts",
        topics=[topic],
        handler=fact_handler(person_services(settings)),
        db=db,
        producer=producer,
        settings=ServiceSettings(kafka_bootstrap_servers=bootstrap, kafka_consumer_group_prefix=group_prefix),
    )
    await runner.start()
    await asyncio.sleep(60)
    await runner.stop()


if __name__ == "__main__":
    match sys.argv[1:]:
        case ["relay", url, bootstrap]:
            asyncio.run(relay(url, bootstrap))
        case ["consume", url, bootstrap, topic, group_prefix]:
            asyncio.run(consume(url, bootstrap, topic, group_prefix))
        case _:
            sys.exit("usage: harness.py relay URL BOOTSTRAP | consume URL BOOTSTRAP TOPIC GROUP_PREFIX")
