"""Fixtures of the fault suite: killable worker processes, and the whole system as real processes on
fresh PostgreSQL databases with a tansu broker of its own, so a scenario can kill and restart it."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest_asyncio

from deploy.embedded import SERVICES, System, SystemConfig
from tests.faults.harness import Broker, Workers
from tests.support import PostgresDatabases, database_name, free_port

# Consumer groups of the services rebalance within seconds after a member dies or the broker returns.
SESSION_TIMEOUT_MS = 3000


@pytest_asyncio.fixture(loop_scope="session")
async def workers(tmp_path: Path) -> AsyncIterator[Workers]:
    pool = Workers(tmp_path)
    await pool.start()
    try:
        yield pool
    finally:
        await pool.close()


@dataclass
class FaultSystem:
    """The four services as processes, their databases and their own broker."""

    config: SystemConfig
    system: System
    broker: Broker
    database_urls: dict[str, str]
    admin_key: str
    log_dir: Path

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.config.gateway_port}"

    def url_of(self, service: str) -> str:
        return f"http://127.0.0.1:{self.config.port_of(service)}"

    def database_of(self, service: str) -> str:
        return database_name(self.database_urls[service])

    async def api_key(self, http: httpx.AsyncClient, agency: str, *scopes: str) -> str:
        response = await http.post(
            f"{self.gateway}/gateway/v1/clients",
            json={"name": f"{agency} faults", "agency": agency, "scopes": list(scopes)},
            headers={"Authorization": f"Bearer {self.admin_key}"},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["api_key"])

    def log(self, service: str) -> str:
        path = self.log_dir / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest_asyncio.fixture(loop_scope="session")
async def fault_system(databases: PostgresDatabases, tmp_path: Path) -> AsyncIterator[FaultSystem]:
    broker = Broker(free_port(), tmp_path)
    config = SystemConfig(
        gateway_port=free_port(),
        registry_port=free_port(),
        subsidy_port=free_port(),
        sharing_port=free_port(),
        start_broker=False,
        bootstrap_servers=broker.bootstrap,
        admin_key="rk_faults_" + secrets.token_urlsafe(24),
        log_dir=tmp_path / "logs",
        extra_env={f"{s.upper()}_KAFKA_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS) for s in (*SERVICES, "gateway")},
    )
    for service in (*SERVICES, "gateway"):
        config.database_urls[service] = await databases.migrated(service)
    system = System(config)
    broker.start()
    try:
        await asyncio.to_thread(system.start)
        try:
            yield FaultSystem(config, system, broker, dict(config.database_urls), config.admin_key, config.log_dir)
        finally:
            await asyncio.to_thread(system.stop)
    finally:
        broker.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client
