"""A running sharing service on a fresh PostgreSQL database and the session's broker, with the row
counts that show whether a request changed anything, and the facts it published as librdkafka
(not the service's aiokafka) reads them back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from contracts.envelope import CloudEvent
from contracts.sharing import Fact
from contracts.topics import SHARING_FACT
from services.kit.clock import Clock
from services.kit.identifiers import subject_ref
from services.sharing.app import create_app
from services.sharing.settings import SharingSettings
from tests.support import PostgresDatabases, ServiceClient, eventually, running

TABLES = ("sharing_batch", "sharing_record", "outbox_message")
NEVER_S = 10.0**10


@dataclass
class SharingService:
    client: ServiceClient
    engine: AsyncEngine
    settings: SharingSettings

    def subject(self, id_number: str) -> str:
        return subject_ref(self.settings.subject_key_bytes, id_number)

    async def counts(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            return {t: int((await conn.execute(sa.text(f"SELECT count(*) FROM {t}"))).scalar_one()) for t in TABLES}

    async def wait_until_relayed(self) -> None:
        """Also run before an app stops: the kit's relay can miss its cancellation when a commit
        wakes it in the same tick (asyncio.wait_for on Python 3.11), and its stop then never returns."""

        async def relayed() -> bool:
            async with self.engine.connect() as conn:
                unsent = await conn.execute(sa.text("SELECT count(*) FROM outbox_message WHERE sent_at IS NULL"))
                return int(unsent.scalar_one()) == 0

        await eventually(relayed)


@asynccontextmanager
async def sharing_service(
    databases: PostgresDatabases, kafka_bootstrap: str, clock: Clock | None = None, **settings_changes: Any
) -> AsyncIterator[SharingService]:
    url = await databases.migrated("sharing")
    # A consumer group of its own: a group left by the app before it joins slowly on tansu. No month
    # closes unless a test says so: a report published in the background would change the row counts
    # the tests compare.
    defaults = {"kafka_consumer_group_prefix": f"t{uuid.uuid4().hex[:8]}.", "statistics_close_grace_s": NEVER_S}
    settings = SharingSettings(
        database_url=url, kafka_bootstrap_servers=kafka_bootstrap, log_json=False, **{**defaults, **settings_changes}
    )
    engine = create_async_engine(url)
    try:
        async with running(create_app(settings, clock=clock)) as client:
            service = SharingService(client, engine, settings)
            yield service
            await service.wait_until_relayed()  # before the app stops: see wait_until_relayed
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class KafkaMessage:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]

    @property
    def event(self) -> CloudEvent:
        return CloudEvent.from_bytes(self.value)

    @property
    def fact(self) -> Fact:
        return self.event.payload(Fact)


def read_facts(bootstrap: str, topic: str, batch_ids: Collection[str], expected: int) -> list[KafkaMessage]:
    """The facts of the given batches on `topic`, read from the beginning until `expected` of them
    arrived and the topic then stays quiet for a second, so a surplus fact would be seen too. (tansu's
    high watermark counts record batches, not records, so it cannot tell where a partition ends.)"""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"sharing-test-{uuid.uuid4()}", "enable.auto.commit": False}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        found: list[KafkaMessage] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                if len(found) >= expected:
                    break
                continue
            if message.error() is not None:
                continue
            kept = KafkaMessage(message.key() or b"", message.value() or b"", list(message.headers() or []))
            try:
                data = kept.event.data
            except ValueError:
                continue  # the topic is shared with other tests, some of which put garbage on it
            if data.get("batch_id") in batch_ids:
                found.append(kept)
        return found
    finally:
        consumer.close()


async def facts_of_batch(
    sharing: SharingService, bootstrap: str, batch_id: str, expected: int, topic: str = SHARING_FACT
) -> list[KafkaMessage]:
    """The facts of one batch on `topic`, once everything the service queued has left its outbox."""
    await sharing.wait_until_relayed()
    return await asyncio.to_thread(read_facts, bootstrap, topic, {batch_id}, expected)
