"""The whole system as real processes: the four services under uvicorn on free ports, fresh
PostgreSQL databases, a tansu broker of their own. Requests go through the gateway over HTTP."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from deploy.embedded import System, SystemConfig
from tests.support import PostgresDatabases, free_port


@dataclass
class RunningSystem:
    config: SystemConfig
    gateway: str
    admin_key: str
    processes: System


def own_config(log_dir: Path, key_prefix: str) -> SystemConfig:
    """Free ports and a broker of its own, as a deployment has: what an integrator reads off its
    topics (tests/e2e/test_wire.py) is what the platform published, not what other tests injected."""
    return SystemConfig(
        gateway_port=free_port(),
        registry_port=free_port(),
        subsidy_port=free_port(),
        sharing_port=free_port(),
        broker_port=free_port(),
        start_broker=True,
        admin_key=key_prefix + secrets.token_urlsafe(24),
        log_dir=log_dir,
    )


@asynccontextmanager
async def started(config: SystemConfig, databases: PostgresDatabases) -> AsyncIterator[RunningSystem]:
    """The four services and the broker as processes on fresh databases, stopped afterwards."""
    for service in ("registry", "subsidy", "sharing", "gateway"):
        config.database_urls[service] = await databases.migrated(service)
    running = System(config)
    await asyncio.to_thread(running.start)
    try:
        yield RunningSystem(config, f"http://127.0.0.1:{config.gateway_port}", config.admin_key, running)
    finally:
        await asyncio.to_thread(running.stop)


@pytest.fixture(scope="session")
def e2e_config(tmp_path_factory: pytest.TempPathFactory) -> SystemConfig:
    return own_config(tmp_path_factory.mktemp("e2e-logs"), "rk_e2e_")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def system(e2e_config: SystemConfig, databases: PostgresDatabases) -> AsyncIterator[RunningSystem]:
    async with started(e2e_config, databases) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client
