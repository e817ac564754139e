"""A service warns at start when its PostgreSQL runs without autovacuum (this machine's does: the CI
image turns it off), says nothing on SQLite, and starts anyway when the database is not reachable.
Real PostgreSQL; the expected warning follows what the server itself shows."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
import pytest

from services.kit.app import warn_without_autovacuum
from services.kit.db import Database
from tests.support import PG_ADMIN_DSN, PostgresDatabases

WARNING = "autovacuum is off"


async def server_autovacuum() -> str:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        return str(await conn.fetchval("SHOW autovacuum"))
    finally:
        await conn.close()


@pytest.mark.integration
async def test_the_warning_follows_the_servers_setting(
    databases: PostgresDatabases, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(await databases.create("autovacuum"))
    try:
        with caplog.at_level(logging.WARNING, logger="services.kit.app"):
            await warn_without_autovacuum(db)
        off = await db.autovacuum_off()
    finally:
        await db.dispose()
    assert off == (await server_autovacuum() == "off")
    assert (WARNING in caplog.text) == off


async def test_sqlite_has_no_autovacuum_to_warn_of(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        with caplog.at_level(logging.WARNING, logger="services.kit.app"):
            await warn_without_autovacuum(db)
        assert not await db.autovacuum_off()
    finally:
        await db.dispose()
    assert WARNING not in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",  # not reachable: an infrastructure error
        "postgresql+asyncpg://postgres@127.0.0.1:5432/no_such_database_here",  # 3D000: not one
    ],
    ids=["unreachable", "no-such-database"],
)
async def test_a_database_that_cannot_be_asked_does_not_stop_the_start(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(url)
    try:
        with caplog.at_level(logging.WARNING, logger="services.kit.app"):
            await warn_without_autovacuum(db)  # no exception: /readyz reports the database
    finally:
        await db.dispose()
    assert WARNING not in caplog.text
