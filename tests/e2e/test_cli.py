"""The `rongchang` console script against the four services as processes: API clients created,
listed and revoked; a 20,000-record CSV imported through the gateway with a progress bar, killed
halfway and resumed, with every record kept once and the rejected ones listed in a file.

The import runs against a system of its own, with its own broker: 20,000 facts on the session's
`sharing.fact.v1` would be read again by every later test app that consumes it from the start."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from contracts.topics import SHARING_FACT
from tests.e2e.conftest import RunningSystem, own_config, started
from tests.e2e.test_rebuild import rongchang
from tests.registry.people import id_number
from tests.support import PostgresDatabases, query

pytestmark = pytest.mark.e2e

RECORDS, BATCH, INVALID_EVERY = 20_000, 500, 1000


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def own_system(
    databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    config = own_config(tmp_path_factory.mktemp("cli-logs"), "rk_cli_")
    async with started(config, databases) as running:
        yield running


def cli_env(system: RunningSystem, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "RONGCHANG_GATEWAY_URL": system.gateway,
        "RONGCHANG_ADMIN_KEY": system.admin_key,
        **extra,
    }


def run(system: RunningSystem, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([rongchang(), *args], env=cli_env(system, **env), capture_output=True, text=True, timeout=600)


async def test_clients_are_created_listed_and_revoked(system: RunningSystem, http: httpx.AsyncClient) -> None:
    created = await asyncio.to_thread(
        run, system, "clients", "create", "--name", "民政局 低保系统", "--agency", "civil_affairs",
        "--scope", "sharing:submit", "--scope", "sharing:read",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    client_id = created.stderr.split("client_id ")[1].split()[0]
    pushed = await http.post(
        f"{system.gateway}/sharing/v1/agencies/civil_affairs/datasets/dibao/records",
        json={"records": []},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert pushed.status_code != 401, "the new key works"

    listed = await asyncio.to_thread(run, system, "clients", "list", "--agency", "civil_affairs")
    assert listed.returncode == 0 and client_id in listed.stdout and key not in listed.stdout, listed.stderr

    revoked = await asyncio.to_thread(run, system, "clients", "revoke", client_id)
    assert revoked.returncode == 0, revoked.stderr
    refused = await http.get(f"{system.gateway}/sharing/v1/agreements", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401
    again = await asyncio.to_thread(run, system, "clients", "revoke", "00000000-0000-0000-0000-000000000000")
    assert again.returncode == 1 and "404" in again.stderr

    no_gateway = await asyncio.to_thread(run, system, "clients", "list", RONGCHANG_GATEWAY_URL="http://127.0.0.1:1")
    assert no_gateway.returncode == 1 and "did not answer" in no_gateway.stderr


def write_roster(path: Path) -> int:
    """A monthly dibao roster: valid records, and one in a thousand with an impossible date."""
    invalid = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id_number", "household_no", "since"])
        for n in range(RECORDS):
            bad = n % INVALID_EVERY == 7
            invalid += bad
            writer.writerow([id_number(), f"RC-{n:06d}", "2025-02-30" if bad else "2025-03-01"])
    return invalid


async def test_a_csv_import_killed_halfway_resumes_without_keeping_a_record_twice(
    own_system: RunningSystem, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    system = own_system
    created = await asyncio.to_thread(
        run, system, "clients", "create", "--name", "民政局 月度低保名册", "--agency", "civil_affairs",
        "--scope", "sharing:submit",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    key, client_id = created.stdout.strip(), created.stderr.split("client_id ")[1].split()[0]
    roster = tmp_path / "dibao-2026-11.csv"
    invalid = write_roster(roster)
    state = tmp_path / "dibao-2026-11.csv.import.json"
    args = [rongchang(), "import", "civil_affairs", "dibao", str(roster), "--batch-size", str(BATCH)]
    env = cli_env(system, RONGCHANG_API_KEY=key, TTY_COMPATIBLE="1", COLUMNS="120")

    first = await asyncio.create_subprocess_exec(*args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    halfway = RECORDS // BATCH // 2
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first.returncode is None:
        if state.exists() and len(json.loads(state.read_text())["batches"]) >= halfway:
            break
        await asyncio.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    await asyncio.wait_for(first.wait(), 30)
    done_when_killed = len(json.loads(state.read_text())["batches"])
    assert first.returncode == -signal.SIGKILL and halfway <= done_when_killed < RECORDS // BATCH

    second = await asyncio.to_thread(subprocess.run, args, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "civil_affairs/dibao" in second.stdout and f"{RECORDS}/{RECORDS}" in second.stdout, "the progress bar"
    accepted = RECORDS - invalid
    assert (
        f"{RECORDS} records in {RECORDS // BATCH} batches, {accepted} accepted, {invalid} rejected" in second.stdout
    ), second.stdout
    with (tmp_path / "dibao-2026-11.csv.rejected.csv").open(encoding="utf-8") as listed:
        rows = list(csv.DictReader(listed))
    assert [int(r["record"]) for r in rows] == [n + 1 for n in range(RECORDS) if n % INVALID_EVERY == 7]
    assert all("since" in r["errors"] for r in rows) and rows[0]["household_no"] == "RC-000007"

    sharing = system.config.database_urls["sharing"]
    [kept] = await query(
        sharing,
        "SELECT count(DISTINCT b.id) AS batches, count(*) AS records,"
        " count(*) FILTER (WHERE r.outcome = 'accepted') AS accepted"
        " FROM sharing_batch b JOIN sharing_record r ON r.batch_id = b.id WHERE b.submitted_by = $1",
        client_id,
    )
    # Each batch keeps its records and queues their facts in one transaction: once per record.
    assert (kept["batches"], kept["records"], kept["accepted"]) == (RECORDS // BATCH, RECORDS, accepted)
    [facts] = await query(sharing, "SELECT count(*) AS n FROM outbox_message WHERE topic = $1", SHARING_FACT)
    assert facts["n"] == accepted, "one fact per accepted record: none queued twice"

    rerun = await asyncio.to_thread(subprocess.run, args, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0 and f"{RECORDS // BATCH} batches" in rerun.stdout, "a finished import is done"
