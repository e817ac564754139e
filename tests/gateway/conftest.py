"""Gateway fixtures: a migrated PostgreSQL database, a stand-in service running as a real uvicorn
process, and the gateway itself run in-process with its lifespan."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from tests.gateway.helpers import ADMIN_KEY
from tests.support import ROOT, PostgresDatabases, free_port, wait_for_port

GatewayFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(scope="session")
def upstream_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The stand-in service (tests/gateway/upstream_app.py) on a free port, for the whole session."""
    port = free_port()
    log = (tmp_path_factory.mktemp("upstream") / "upstream.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.gateway.upstream_app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
async def gateway_db(databases: PostgresDatabases) -> str:
    """One migrated gateway database per test module; tests tell their clients apart by id."""
    return await databases.migrated("gateway")


@pytest.fixture
def gateway(gateway_db: str, upstream_url: str) -> GatewayFactory:
    """Runs a gateway (lifespan included) and gives an httpx client on it; settings can be overridden."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        values: dict[str, Any] = {
            "database_url": gateway_db,
            "registry_url": upstream_url,
            "subsidy_url": upstream_url,
            "sharing_url": upstream_url,
            "bootstrap_admin_key": SecretStr(ADMIN_KEY),
            "log_json": False,
            **overrides,
        }
        app = create_app(GatewaySettings(**values))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
                yield client

    return start
