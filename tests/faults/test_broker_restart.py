"""Scenario 4: the broker is SIGKILLed under load and comes back empty (tansu keeps everything in
memory: topics, events, committed offsets and groups are gone).

The four services run as processes; a desk registers people and civil affairs pushes their dibao
records through the gateway before, during and after the broker's absence. Expected: every
acknowledged write reaches every projection (registry facts, the subsidy service's beneficiaries and
their low_income_family category), no dead letter, every outbox empty in the end, readiness 503
while the broker is away, and never 200 from a service whose consumption is stalled.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from contracts.topics import ALL_TOPICS, SHARING_FACT
from deploy.embedded import SERVICES
from tests.faults.conftest import FaultSystem
from tests.faults.harness import (
    Load,
    ReadinessWatch,
    count_rows,
    dead_letters,
    log_count,
    log_lines,
    outcomes,
    phase_statuses,
    settle,
    trace_events,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

BROKER_AWAY_S = 10
DRAIN_WITHIN_S = 120


async def test_a_broker_restarted_empty_under_load_still_delivers_every_acknowledged_event(
    fault_system: FaultSystem, http: httpx.AsyncClient
) -> None:
    system = fault_system
    started = time.monotonic()
    desk = await system.api_key(http, "hrss", "registry:write", "registry:read", "subsidy:read")
    civil = await system.api_key(http, "civil_affairs", "sharing:submit")
    load = Load(system.gateway, desk, civil)
    watch = ReadinessWatch({s: system.url_of(s) for s in SERVICES})
    watch.start()
    load.start()
    try:
        await asyncio.sleep(8)
        acknowledged_before = len(load.acknowledged("dibao"))
        system.broker.kill()
        away_from = time.monotonic()
        await asyncio.sleep(BROKER_AWAY_S)
        away_until = time.monotonic()
        acknowledged_while_away = len(load.acknowledged("dibao")) - acknowledged_before
        system.broker.start()
        back_at = time.monotonic()
        await asyncio.sleep(10)
    finally:
        await load.stop()

    try:
        result = await settle(lambda: outcomes(load, system.database_urls), lambda o: o.complete, within=DRAIN_WITHIN_S)
        settled_at = time.monotonic()
        await asyncio.sleep(2)  # readiness samples of the settled state
    finally:
        await watch.stop()
    unsent = {s: await count_rows(system.database_urls[s], "outbox_message", "sent_at IS NULL") for s in SERVICES}
    dead = await dead_letters(system.broker.bootstrap, ALL_TOPICS)
    dead_count = {topic: len(records) for topic, records in dead.items() if records}
    while_away = {s: phase_statuses(watch.between(s, away_from + 1, away_until)) for s in SERVICES}
    at_the_end = {s: phase_statuses(watch.between(s, settled_at, time.monotonic())) for s in SERVICES}
    logs = {s: system.log(s) for s in SERVICES}
    print(
        f"\n[scenario 4] broker away {BROKER_AWAY_S}s; writes={len(load.writes)} persons {load.statuses('person')} "
        f"dibao {load.statuses('dibao')} (dibao acknowledged while the broker was away: {acknowledged_while_away})\n"
        f"  {result.summary()}\n"
        f"  projections checked {settled_at - back_at:.1f}s after the broker came back; "
        f"unsent outbox rows={unsent} dead letters={dead_count or 0}\n"
        f"  readiness while away={while_away} at the end={at_the_end}\n"
        f"  log lines: "
        + ", ".join(
            f"{s}: relay waits={log_count(text, 'outbox relay waits')} "
            f"relay failed={log_count(text, 'outbox relay round failed')} "
            f"publish failed={log_count(text, 'outbox publish failed')} "
            f"consumer round failed={log_count(text, 'consumer round failed')} "
            f"another cluster={log_count(text, 'another cluster')} "
            f"re-read={log_count(text, 'broker lost its state')}"
            for s, text in logs.items()
        )
        + f"\n  elapsed={time.monotonic() - started:.1f}s",
        flush=True,
    )
    for service, text in logs.items():
        for line in log_lines(text, "outbox publish failed", "consumer round failed", "relay round failed", limit=2):
            print(f"  {service} log:", line, flush=True)

    trace = await trace_events(
        publisher_url=system.database_urls["sharing"],
        consumer_url=system.database_urls["registry"],
        bootstrap=system.broker.bootstrap,
        topic=SHARING_FACT,
        keys=result.facts_missing,
    )
    for line in trace:
        print("  missing fact:", line, flush=True)

    failures = []
    if not result.complete:
        failures.append(f"acknowledged writes missing after {DRAIN_WITHIN_S}s: {result.summary()}")
        ready_anyway = [s for s, statuses in at_the_end.items() if 200 in statuses]
        if ready_anyway:
            failures.append(f"projections incomplete while /readyz said 200: {ready_anyway}")
    if any(unsent.values()):
        failures.append(f"outbox rows never sent: {unsent}")
    if dead_count:
        failures.append(f"dead letters: {dead_count}")
    for service, statuses in while_away.items():
        if not statuses or set(statuses) != {503}:
            failures.append(f"{service} readiness while the broker was away was {dict(statuses)}, not only 503")
    assert not failures, "\n".join(failures)
