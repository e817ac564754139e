"""A running sharing service on a fresh PostgreSQL database and the session's broker, with the row
counts that show whether a request changed anything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.sharing.app import create_app
from services.sharing.settings import SharingSettings
from tests.support import PostgresDatabases, ServiceClient, eventually, running

TABLES = ("sharing_batch", "sharing_record", "outbox_message")


@dataclass
class SharingService:
    client: ServiceClient
    engine: AsyncEngine

    async def counts(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            return {t: int((await conn.execute(sa.text(f"SELECT count(*) FROM {t}"))).scalar_one()) for t in TABLES}

    async def wait_until_relayed(self) -> None:
        async def relayed() -> bool:
            async with self.engine.connect() as conn:
                unsent = await conn.execute(sa.text("SELECT count(*) FROM outbox_message WHERE sent_at IS NULL"))
                return int(unsent.scalar_one()) == 0

        await eventually(relayed)


@asynccontextmanager
async def sharing_service(databases: PostgresDatabases, kafka_bootstrap: str) -> AsyncIterator[SharingService]:
    url = await databases.migrated("sharing")
    settings = SharingSettings(database_url=url, kafka_bootstrap_servers=kafka_bootstrap, log_json=False)
    engine = create_async_engine(url)
    try:
        async with running(create_app(settings)) as client:
            service = SharingService(client, engine)
            yield service
            # Before the app stops: see tests/sharing/test_batches.py, Sharing.wait_until_relayed.
            await service.wait_until_relayed()
    finally:
        await engine.dispose()
