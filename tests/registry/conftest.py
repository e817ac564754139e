"""One registry app per test module: its consumers join their group once (a join takes seconds)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import pytest_asyncio
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.kit.clock import FixedClock
from services.registry.app import create_app
from services.registry.settings import RegistrySettings
from tests.support import PostgresDatabases, ServiceClient, running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def registry(kafka_bootstrap: str, databases: PostgresDatabases) -> AsyncIterator[ServiceClient]:
    url = await databases.migrated("registry")
    app = create_app(
        RegistrySettings(
            database_url=url,
            kafka_bootstrap_servers=kafka_bootstrap,
            kafka_consumer_group_prefix=f"t{uuid.uuid4().hex[:8]}.",
        )
    )
    async with running(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """Agency facts as sharing would put them on the broker."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    yield producer
    await producer.stop()


@asynccontextmanager
async def registry_on(
    today: date, kafka_bootstrap: str, databases: PostgresDatabases, *, clock: FixedClock | None = None
) -> AsyncIterator[tuple[ServiceClient, FastAPI]]:
    """A registry on a fixed day (or on the test's `clock`, which it may move), without the daily
    sweep and with the gauges refreshed at start, then only when a test asks."""
    settings = RegistrySettings(
        database_url=await databases.migrated("registry"),
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_consumer_group_prefix=f"t{uuid.uuid4().hex[:8]}.",
        daily_sweep=False,
        indicators_interval_s=3600,
    )
    app = create_app(settings, clock=clock or FixedClock.on(today))
    async with running(app) as client:
        yield client, app
