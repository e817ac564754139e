"""One registry app per test module: its consumers join their group once (a join takes seconds)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import pytest_asyncio
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


@asynccontextmanager
async def registry_on(
    today: date, kafka_bootstrap: str, databases: PostgresDatabases
) -> AsyncIterator[tuple[ServiceClient, FastAPI]]:
    """A registry on a fixed day, without the daily sweep and with the gauges refreshed only when a
    test asks: for the indicator and warning modules."""
    settings = RegistrySettings(
        database_url=await databases.migrated("registry"),
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_consumer_group_prefix=f"t{uuid.uuid4().hex[:8]}.",
        daily_sweep=False,
        indicators_interval_s=3600,
    )
    app = create_app(settings, clock=FixedClock.on(today))
    async with running(app) as client:
        yield client, app
