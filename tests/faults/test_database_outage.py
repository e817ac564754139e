"""Scenario 3: PostgreSQL refuses the registry's and the subsidy's databases for 30 s under load.

The four services run as processes. A desk registers people and civil affairs pushes their dibao
records through the gateway the whole time; sharing and the gateway keep their databases, so dibao
facts keep being acknowledged while the registry, which consumes them, cannot reach its database.
Expected: no dead letter, every acknowledged write in its database, every acknowledged event in the
projections, both services not ready (503) while their database is out and ready (200) after, and
no error answer for a registration that was committed without saying its outcome is unknown.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest

from contracts.topics import ALL_TOPICS, SHARING_FACT
from tests.faults.conftest import FaultSystem
from tests.faults.harness import (
    Load,
    ReadinessWatch,
    Write,
    dead_letters,
    log_count,
    log_lines,
    outcomes,
    phase_statuses,
    settle,
    trace_categories,
    trace_events,
)
from tests.support import database_outage

pytestmark = [pytest.mark.integration, pytest.mark.faults]

OUTAGE_S = 30
OUTAGE_SERVICES = ("registry", "subsidy")
COMMIT_OUTCOME_UNKNOWN = "commit-outcome-unknown"


async def test_a_thirty_second_database_outage_loses_no_acknowledged_write_and_dead_letters_nothing(
    fault_system: FaultSystem, http: httpx.AsyncClient
) -> None:
    system = fault_system
    started = time.monotonic()
    desk = await system.api_key(http, "hrss", "registry:write", "registry:read", "subsidy:read")
    civil = await system.api_key(http, "civil_affairs", "sharing:submit")
    load = Load(system.gateway, desk, civil)
    watch = ReadinessWatch({s: system.url_of(s) for s in ("registry", "subsidy", "sharing", "gateway")})
    watch.start()
    load.start()
    try:
        await asyncio.sleep(8)
        before = len(load.writes)
        async with database_outage(*(system.database_of(s) for s in OUTAGE_SERVICES)):
            out_from = time.monotonic()
            await asyncio.sleep(OUTAGE_S)
            out_until = time.monotonic()
        during = load.writes[before:]
        await asyncio.sleep(10)
    finally:
        await load.stop()

    try:
        result = await settle(lambda: outcomes(load, system.database_urls), lambda o: o.complete, within=120)
        drained_at = time.monotonic()
        ready_after = await settle(
            lambda: _ready(watch, OUTAGE_SERVICES, since=time.monotonic()),
            lambda ready: ready,
            within=60,
        )
    finally:
        await watch.stop()
    dead = await dead_letters(system.broker.bootstrap, ALL_TOPICS)
    dead_count = {topic: len(records) for topic, records in dead.items() if records}

    # Readiness while the database was out, from one second after it went (a probe in flight may pass).
    during_status = {s: phase_statuses(watch.between(s, out_from + 1, out_until)) for s in OUTAGE_SERVICES}
    registry_errors = [w for w in during if w.kind == "person" and not w.acknowledged]
    registry_answers = sorted({(w.status, w.problem_type or "", w.retry_after is not None) for w in registry_errors})
    silent = [w for w in result.unacknowledged_but_committed if not outcome_unknown(w)]
    not_503 = [w for w in registry_errors if w.status != 503 and not outcome_unknown(w)]
    registry_log, subsidy_log = system.log("registry"), system.log("subsidy")
    print(
        f"\n[scenario 3] outage={OUTAGE_S}s of {OUTAGE_SERVICES} writes={len(load.writes)} "
        f"(persons {load.statuses('person')} dibao {load.statuses('dibao')}; during the outage {len(during)}: "
        f"persons {Counter(w.status for w in during if w.kind == 'person')} "
        f"dibao {Counter(w.status for w in during if w.kind == 'dibao')})\n"
        f"  {result.summary()}; checked {drained_at - out_until:.1f}s after the outage\n"
        f"  dead letters={dead_count or 0} readiness during={dict(during_status)} ready after={ready_after}\n"
        f"  registry answers during the outage (status, problem, Retry-After)={registry_answers}\n"
        f"  registry log: dead-lettered={log_count(registry_log, 'event dead-lettered')} "
        f"waits on the database={log_count(registry_log, 'database unavailable')}; "
        f"subsidy log: dead-lettered={log_count(subsidy_log, 'event dead-lettered')}\n"
        f"  elapsed={time.monotonic() - started:.1f}s",
        flush=True,
    )
    for line in log_lines(registry_log, "event dead-lettered") + log_lines(subsidy_log, "event dead-lettered"):
        print("  log:", line, flush=True)
    for topic, records in dead.items():
        for record in records[:3]:
            error, attempts = record.headers.get("dlq_error", "")[:200], record.headers.get("dlq_attempts")
            print(f"  dlq {topic}: {error} attempts={attempts}", flush=True)

    trace = await trace_events(
        publisher_url=system.database_urls["sharing"],
        consumer_url=system.database_urls["registry"],
        bootstrap=system.broker.bootstrap,
        topic=SHARING_FACT,
        keys=result.facts_missing,
    )
    for line in trace:
        print("  missing fact:", line, flush=True)
    for line in await trace_categories(
        registry_url=system.database_urls["registry"],
        subsidy_url=system.database_urls["subsidy"],
        bootstrap=system.broker.bootstrap,
        person_ids=result.categories_missing,
    ):
        print("  missing category:", line, flush=True)

    failures = []
    if dead_count:
        failures.append(f"dead letters: {dead_count}")
    if not result.complete:
        failures.append(f"acknowledged writes missing: {result.summary()}")
    for service, statuses in during_status.items():
        if not statuses or set(statuses) != {503}:
            failures.append(f"{service} readiness during the outage was {dict(statuses)}, not only 503")
    if not ready_after:
        failures.append(f"{OUTAGE_SERVICES} not ready after the outage")
    if silent:
        failures.append(
            f"{len(silent)} registrations answered {sorted({(w.status, w.problem_type) for w in silent})} "
            f"but were committed, without {COMMIT_OUTCOME_UNKNOWN}"
        )
    if not_503:
        failures.append(
            f"{len(not_503)} registrations during the outage answered "
            f"{sorted({(w.status, w.problem_type) for w in not_503})}, not 503 with Retry-After"
        )
    if any(w.status == 503 and w.retry_after is None for w in registry_errors):
        failures.append("a 503 during the outage came without Retry-After")
    assert not failures, "\n".join(failures)


def outcome_unknown(write: Write) -> bool:
    return (write.problem_type or "").endswith(COMMIT_OUTCOME_UNKNOWN)


async def _ready(watch: ReadinessWatch, services: tuple[str, ...], since: float) -> bool:
    await asyncio.sleep(1.5)
    latest = [phase_statuses(watch.between(s, since, time.monotonic())) for s in services]
    return all(statuses and set(statuses) == {200} for statuses in latest)
