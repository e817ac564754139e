"""Scenario 1: a process SIGKILLed at each of the kit's crash windows, 20 times in a row, loses no
acknowledged event and applies none twice.

Each round commits events through the real outbox (every other round in its bulk lane), runs a
relay or a consumer process that dies at the window (exit 137, like kill -9), then a healthy one.
The effect handler writes one row per application into a table without a unique constraint, so an
effect applied twice would show as two rows; only the kit's inbox stands between a redelivery and a
duplicate.
"""

from __future__ import annotations

import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from services.kit.db import Database
from services.kit.inbox import ConsumerRunner
from services.kit.kafka import ensure_topics
from services.kit.settings import ServiceSettings
from tests.faults.harness import (
    CrashPoint,
    EffectCounts,
    Workers,
    commit_events,
    count_rows,
    create_effect_table,
    effect_counts,
    effect_event,
    group_lag,
    read_topic,
    settle,
)
from tests.faults.workers import KILLED, record_effect
from tests.support import PostgresDatabases

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ROUNDS = 20
KEYS_PER_ROUND = 3
EVENTS_PER_KEY = 2
SERVICE, CONSUMER = "faults", "effects"
# A consumer killed at its crash window stays a member of its group until its session expires, and the
# next consumer's join waits for that. Measured on tansu 0.6 per join after a kill: 1000 ms -> 1.2 s,
# 2000 ms -> 4.3 s, 3000 ms -> 7.2 s, 6000 ms -> 11.3 s; forty joins must stay well under three minutes.
SESSION_TIMEOUT_MS = 1000


def round_events(round_no: int) -> list:
    keys = [f"round{round_no}-key{k}" for k in range(KEYS_PER_ROUND)]
    return [effect_event(key, seq) for seq in range(1, EVENTS_PER_KEY + 1) for key in keys]


def skipped_as_duplicates(topic: str) -> float:
    labels = {"service": SERVICE, "consumer": CONSUMER, "topic": topic}
    return REGISTRY.get_sample_value("events_duplicate_total", labels) or 0.0


@pytest.mark.parametrize(
    "window", [CrashPoint.RELAY_AFTER_CLAIM, CrashPoint.RELAY_AFTER_PUBLISH, CrashPoint.CONSUMER_AFTER_EFFECT]
)
async def test_sigkill_at_a_crash_window_twenty_times_loses_nothing_and_applies_nothing_twice(
    window: str, kafka_bootstrap: str, databases: PostgresDatabases, workers: Workers
) -> None:
    started = time.monotonic()
    topic = f"faults.window.{uuid.uuid4().hex[:8]}"
    prefix = f"faults{uuid.uuid4().hex[:8]}."
    group_id = f"{prefix}{SERVICE}.{CONSUMER}"
    settings = ServiceSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_consumer_group_prefix=prefix,
        kafka_session_timeout_ms=SESSION_TIMEOUT_MS,
    )
    await ensure_topics(settings, [topic])
    url = await databases.migrated("registry")  # any service's schema: it has the outbox and the inbox
    await create_effect_table(url)
    job = {
        "database_url": url,
        "bootstrap": kafka_bootstrap,
        "group_prefix": prefix,
        "topics": [topic],
        "session_timeout_ms": SESSION_TIMEOUT_MS,
    }
    db = Database(url)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()

    def healthy_consumer() -> ConsumerRunner:
        return ConsumerRunner(
            service=SERVICE,
            consumer=CONSUMER,
            topics=[topic],
            handler=record_effect,
            db=db,
            producer=producer,
            settings=settings,
        )

    acknowledged: list[str] = []
    crash_statuses: list[int] = []
    healthy_statuses: list[int] = []
    left_unsent_by_crash = 0
    relay_window = window.startswith("relay.")
    runner = healthy_consumer() if relay_window else None
    try:
        if runner is not None:
            await runner.start()  # the relay dies; the consumer side stays healthy throughout
        for round_no in range(ROUNDS):
            # Every other round in the outbox's bulk lane: both lanes go through the window.
            ids = await commit_events(db, topic, round_events(round_no), bulk=round_no % 2 == 1)
            acknowledged += ids
            if relay_window:
                crash_statuses.append(await workers.run("relay", crash_at=window, name="relay-crash", **job))
                left_unsent_by_crash += await count_rows(url, "outbox_message", "sent_at IS NULL")
                healthy_statuses.append(await workers.run("relay", name="relay", **job))
            else:
                healthy_statuses.append(await workers.run("relay", name="relay", **job))
                crash_statuses.append(
                    await workers.run("consume", crash_at=window, name="consume-crash", lifetime_s=60, **job)
                )
                runner = healthy_consumer()
                await runner.start()
                try:
                    await settle(
                        lambda ids=set(acknowledged): effect_counts(url, ids),
                        lambda counts: counts.applied == counts.acknowledged,
                        within=60,
                    )
                    await settle(lambda: group_lag(kafka_bootstrap, group_id, topic), lambda lag: lag == 0, within=30)
                finally:
                    await runner.stop()
                    runner = None

        lag = await settle(lambda: group_lag(kafka_bootstrap, group_id, topic), lambda lag: lag == 0, within=90)
        counts: EffectCounts = await effect_counts(url, acknowledged)
        on_topic = await read_topic(kafka_bootstrap, topic)
    finally:
        if runner is not None:
            await runner.stop()
        await producer.stop()
        await db.dispose()

    copies: dict[str, int] = {}
    for record in on_topic:
        if record.event_id is not None:
            copies[record.event_id] = copies.get(record.event_id, 0) + 1
    never_published = [e for e in acknowledged if e not in copies]
    published_twice = sum(1 for n in copies.values() if n > 1)
    unsent = await count_rows(url, "outbox_message", "sent_at IS NULL")
    duplicated_rows = sum(n - 1 for n in counts.duplicated.values())
    print(
        f"\n[scenario 1: {window}] rounds={ROUNDS} crashes(137)={crash_statuses.count(KILLED)} "
        f"healthy runs ok={healthy_statuses.count(0)} acknowledged={counts.acknowledged} "
        f"records on topic={len(on_topic)} published more than once={published_twice} "
        f"never published={len(never_published)} left unsent by the crashed relay={left_unsent_by_crash} "
        f"applied={counts.applied} lost={len(counts.lost)} duplicated={duplicated_rows} "
        f"inbox skipped as duplicate={skipped_as_duplicates(topic):.0f} group lag={lag} unsent now={unsent} "
        f"elapsed={time.monotonic() - started:.1f}s",
        flush=True,
    )
    assert crash_statuses == [KILLED] * ROUNDS, f"not every round died at {window}: {crash_statuses}"
    assert healthy_statuses == [0] * ROUNDS, f"a healthy run failed: {healthy_statuses}"
    if relay_window:  # each crashed relay left its round's rows to be sent again, none marked sent
        assert left_unsent_by_crash == counts.acknowledged
    assert never_published == [], f"{len(never_published)} acknowledged events never reached {topic}"
    assert unsent == 0
    assert counts.lost == [], f"{len(counts.lost)} acknowledged events never applied: {counts.lost[:5]}"
    assert counts.duplicated == {}, f"{duplicated_rows} effects applied twice: {list(counts.duplicated.items())[:5]}"
    assert counts.unexpected == 0
