"""Issue 11: reading a registry of 1,000,000 persons, through the gateway.

10. On the registry seeded by section 7 (seeded here when section 7 did not run), 1,000 persons get
    the blind index of a real id number (the registry's own `IdNumberProtector`, the development
    keys the benchmark's services run with), and the table is vacuumed, as autovacuum would have
    done long before in a deployment. Then, through the gateway, after a warm-up, with the
    load generator of section 1 (aiohttp; a random person of the sample each request):
    `GET /registry/v1/persons?id_number=` and `GET /registry/v1/persons/{id}` at 1 and 16 clients
    (p50 / p99 / requests per second), the person list at `limit` 100 and 500 and the household list
    at `limit` 100 (100 calls each, one after another), each with the CPU milliseconds per request
    of every process. The plans of the registry's own statements are printed: the scans of the
    person and of their records' subqueries. Each is an index scan, but for a table still empty
    (facts and households when section 8 did not run), which PostgreSQL rightly reads whole. Last,
    the daily sweep run from here as a replica would run it, with nobody due and with 1,000 due.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import asyncpg
import httpx
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bench.indicators import PERSONS, _seed
from bench.loadgen import LoadResult, run_load
from deploy.embedded import SystemConfig
from services.kit.clock import BureauClock
from services.kit.db import Database
from services.registry.persons.protection import IdNumberProtector
from services.registry.persons.repository import PERSON_BY_ID, PERSON_BY_INDEX, PERSON_WITH_RECORDS
from services.registry.persons.service import person_services
from services.registry.persons.tasks import sweep
from services.registry.settings import DEV_BLIND_INDEX_KEY, DEV_ID_NUMBER_KEY, RegistrySettings
from services.registry.tables import Person
from tests.support import asyncpg_dsn

SAMPLE = 1000
PERSON_ID = Person.__table__.c.person_id  # type: ignore[attr-defined]
# Calls of each list, one after another (after a second's warm-up).
LIST_CALLS = 100
# Persons due for the daily sweep in its second run (the sample: at most SAMPLE).
SWEEP_DUE = 1000


async def _prepare(dsn: str, id_number: Callable[[int], str]) -> tuple[list[str], list[str]]:
    """(id numbers, person ids) of the sample, their blind indexes written."""
    protector = IdNumberProtector(DEV_ID_NUMBER_KEY, DEV_BLIND_INDEX_KEY)  # what the bench's services run with
    conn = await asyncpg.connect(dsn)
    try:
        if int(await conn.fetchval("SELECT count(*) FROM registry_person")) < PERSONS:
            await conn.close()
            towns = list(RegistrySettings.model_fields["towns"].default)
            started = time.perf_counter()
            await _seed(dsn, towns, BureauClock().today())
            print(f"  ({PERSONS:,} persons seeded with SQL as in section 7, {time.perf_counter() - started:.0f} s)")
            conn = await asyncpg.connect(dsn)
        ids = [
            str(r["person_id"])
            for r in await conn.fetch(
                "SELECT person_id FROM registry_person ORDER BY md5(person_id::text) LIMIT $1", SAMPLE
            )
        ]
        numbers = [id_number(8_000_000 + n) for n in range(SAMPLE)]
        await conn.executemany(
            "UPDATE registry_person SET id_number_index = $1 WHERE person_id = $2::uuid",
            [(protector.blind_index(number), person_id) for number, person_id in zip(numbers, ids, strict=True)],
        )
        # The old versions of the sample's rows cleared away and their index entries with them, as
        # autovacuum would have long since in a deployment: without it, the first look-ups of each
        # row pruned its page and marked its dead index entries, after the checkpoint, in the first
        # phase measured.
        await conn.execute("VACUUM registry_person")
        await conn.execute("CHECKPOINT")
        # The registry's own statements, each with the subqueries of the person's records.
        for label, statement in (
            ("by id number", PERSON_BY_INDEX.params(index=protector.blind_index(numbers[0]))),
            ("by id", PERSON_BY_ID.params(person_id=uuid.UUID(ids[0]))),
            ("a page of 500", PERSON_WITH_RECORDS.order_by(PERSON_ID).limit(501)),
        ):
            sql = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
            plan = [r[0] for r in await conn.fetch(f"EXPLAIN {sql}")]
            # Each scan once, as "Index Scan using <index> on <table>", without its costs.
            scans = dict.fromkeys(line.split("->")[-1].strip().split("  (")[0] for line in plan if "Scan" in line)
            print(f"  plan, {label}: {' / '.join(scans)}")
    finally:
        await conn.close()
    return numbers, ids


async def persons(
    config: SystemConfig,
    admin_key: str,
    *,
    requests: int,
    id_number: Callable[[int], str],
    cpu_of: Callable[[], dict[str, float]],
) -> None:
    print(f"\n10. Reading a registry of {PERSONS:,} persons through the gateway")
    gateway = f"http://127.0.0.1:{config.gateway_port}"
    numbers, ids = await _prepare(asyncpg_dsn(config.database_urls["registry"]), id_number)
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(
            f"{gateway}/gateway/v1/clients",
            headers={"authorization": f"Bearer {admin_key}"},
            json={"name": "bench persons", "agency": "hrss", "scopes": ["registry:read"]},
        )
        response.raise_for_status()
        reader = {"authorization": f"Bearer {response.json()['api_key']}"}
    by_number = [f"/registry/v1/persons?id_number={quote(n)}" for n in numbers]
    by_id = [f"/registry/v1/persons/{person_id}" for person_id in ids]
    picks = random.Random(11)

    def any_of(paths: list[str]) -> Callable[[int], str]:
        return lambda _n: picks.choice(paths)

    def load(paths: Callable[[int], str], clients: int, total: int, warmup_s: float = 1.0) -> Awaitable[LoadResult]:
        return run_load(
            gateway,
            paths=paths,
            method="GET",
            headers=reader,
            connections=clients,
            total_requests=total,
            duration_s=120,
            warmup_s=warmup_s,
            cpu_of=cpu_of,
        )

    # Warm-up, not counted, with as many clients as the most measured below: the pools open their
    # connections (and PostgreSQL its backends) here, not in the first phase measured.
    await load(any_of(by_number + by_id), 16, 800, warmup_s=0)
    for label, paths in (("by id number", by_number), ("by id", by_id)):
        for clients in (1, 16):
            result = await load(any_of(paths), clients, requests)
            _report(
                f"GET persons {label:<13} {clients:>2} client(s)",
                result,
                "   (target p99 <= 10 ms)" if label == "by id number" and clients == 16 else "",
            )
    for label, path, target in (
        ("person list, limit 100", "/registry/v1/persons?limit=100", ""),
        ("person list, limit 500", "/registry/v1/persons?limit=500", "   (target <= 60 ms)"),
        ("household list, limit 100", "/registry/v1/households?limit=100", ""),
    ):
        _report(f"{label:<27} 1 client", await load(lambda _n, p=path: p, 1, LIST_CALLS), target)
    await _sweeps(config.database_urls["registry"], ids)


async def _sweeps(url: str, sample: list[str]) -> None:
    """The daily sweep as a replica runs it (this process as one), over the 1,000,000 persons: with
    nobody due, and with `SWEEP_DUE` of them due today (their day set with SQL; nothing the calendar
    changes for them, so it reads them, works them out and publishes none)."""
    settings = RegistrySettings(database_url=url, development_mode=True)
    persons = person_services(settings, BureauClock())
    db = Database(url)
    try:
        for due in (0, SWEEP_DUE):
            if due:
                async with db.sessionmaker() as session, session.begin():
                    await session.execute(
                        sa.text(
                            "UPDATE registry_person SET categories_due_on = CURRENT_DATE - 1 "
                            "WHERE person_id = ANY(CAST(:ids AS uuid[]))"
                        ),
                        {"ids": sample[:due]},
                    )
            started = time.perf_counter()
            outcome = await sweep(db, persons)
            print(
                f"  daily sweep, {due:,} of {PERSONS:,} persons due: {time.perf_counter() - started:.2f} s "
                f"({outcome.persons_checked:,} read, {outcome.persons_published} published)"
            )
    finally:
        await db.dispose()


def _report(label: str, result: LoadResult, target: str) -> None:
    if result.errors:
        raise RuntimeError(f"{label}: {result.errors} of {result.requests} failed: {result.statuses}")
    print(f"  {label}: p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  {result.rps:7.0f} req/s{target}")
    print(f"    {result.cpu_line()}")
