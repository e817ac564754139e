"""One subsidy app for all subsidy integration tests: its consumer joins its group once (a join
takes seconds). The consumer has a name of its own so no other subsidy process on the session's
broker (the e2e system) shares its group and takes some of the partitions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit.clock import FixedClock
from services.subsidy.app import create_app
from services.subsidy.settings import SubsidySettings
from tests.subsidy.scenario import WATERMARK_SOURCE, Harness, Relay
from tests.support import PostgresDatabases, running


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def subsidy(kafka_bootstrap: str, databases: PostgresDatabases) -> AsyncIterator[Harness]:
    url = await databases.migrated("subsidy")
    settings = SubsidySettings(
        database_url=url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_consumer_group_prefix=f"t{uuid.uuid4().hex[:8]}.",
        consistency_sources=[WATERMARK_SOURCE],
    )
    # Standing still at the session's start: no test sees the bureau's day (or budget year) turn.
    clock = FixedClock(datetime.now(UTC))
    app = create_app(settings, clock=clock)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    engine = create_async_engine(url)
    relay = Relay(producer)
    watermarks = asyncio.create_task(relay.run())
    try:
        async with running(app) as client:
            yield Harness(client, producer, engine, settings, kafka_bootstrap, clock, relay)
    finally:
        watermarks.cancel()
        await asyncio.gather(watermarks, return_exceptions=True)
        await producer.stop()
        await engine.dispose()
