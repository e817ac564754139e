"""One registry app per test module: its consumers join their group once (a join takes seconds)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio

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
