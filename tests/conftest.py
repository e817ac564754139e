"""Test session fixtures: a real tansu broker on a free port and fresh PostgreSQL databases
migrated by Alembic. Nothing here mocks the database or the broker."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings as hypothesis_settings

from deploy.embedded import tansu_command
from tests.support import PostgresDatabases, free_port, wait_for_port

# The tests run the services with the public development secrets; so do the processes they start.
os.environ["DEVELOPMENT_MODE"] = "1"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tansu broker with memory storage, started for this test session and stopped after it."""
    port = free_port()
    log = (tmp_path_factory.mktemp("tansu") / "tansu.log").open("wb")
    process = subprocess.Popen(tansu_command(port), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
async def databases() -> AsyncIterator[PostgresDatabases]:
    dbs = PostgresDatabases()
    yield dbs
    await dbs.drop_all()


# Hypothesis's per-example deadline is a timing threshold; on a shared 2-core machine it only flakes.
hypothesis_settings.register_profile("project", deadline=None)
hypothesis_settings.load_profile("project")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end tests run last: their system stays up for the rest of the session and leaves
    thousands of events on the session's broker, which every in-process subsidy or registry app
    started after them would first read through (their consumer groups start at the beginning).
    Among them, a module with `RUN_LAST = True` (hundreds of people) runs after the others, whose
    rebuild and all-topics reads would otherwise go through its events too."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("e2e") is not None,
            bool(getattr(getattr(item, "module", None), "RUN_LAST", False)),
        )
    )
