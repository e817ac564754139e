"""Scenario 2: 10,000 events through the outbox, two consumer processes in one group, one of them
SIGKILLed three times mid-stream and replaced: every event applied once, each key's events in order.

Two relay processes publish concurrently (so the outbox's per-key hold-back is at work); the kit's
ConsumerRunner applies each event by writing (event id, key, sequence within the key) with a
monotonic apply order into a table with no unique constraint: a duplicate would be a second row.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from pathlib import Path

import pytest

from contracts.topics import dead_letter
from services.kit.db import Database
from services.kit.kafka import ensure_topics
from services.kit.settings import ServiceSettings
from tests.faults.harness import (
    Workers,
    commit_events,
    count_rows,
    create_effect_table,
    effect_event,
    group_lag,
    read_topic,
    settle,
)
from tests.faults.workers import KILLED
from tests.support import PostgresDatabases, query

pytestmark = [pytest.mark.integration, pytest.mark.faults]

EVENTS = 10_000
KEYS = 200
KILLS = 3
CONSUMERS = 2
PARTITIONS = 6
EVENTS_PER_TRANSACTION = 100
SESSION_TIMEOUT_MS = 2000
SERVICE, CONSUMER = "faults", "effects"


def all_events(rng: random.Random) -> list:
    """Each key's events numbered 1..n in the order they are committed; keys interleaved."""
    keys = [f"key-{k:03d}" for k in range(KEYS)]
    events = []
    for seq in range(1, EVENTS // KEYS + 1):
        rng.shuffle(keys)
        events += [effect_event(key, seq) for key in keys]
    return events


async def explain_topic_order(url: str, on_topic: list, pairs: list[tuple[str, str]]) -> None:
    """For events found after a later event of their key: their outbox rows and offsets."""
    if not pairs:
        return
    where = {r.event_id: (r.partition, r.offset) for r in on_topic}
    rows = {
        r["event_id"]: r
        for r in await query(
            url,
            "SELECT id, event_id, key, sent_at, attempts FROM outbox_message WHERE event_id = ANY($1::text[])",
            [e for pair in pairs for e in pair],
        )
    }
    for earlier, later in pairs:
        for label, event_id in (("earlier", earlier), ("later", later)):
            row = rows.get(event_id)
            print(
                f"  topic order: {label} event outbox id={row and row['id']} key={row and row['key']} "
                f"sent_at={row and row['sent_at']:%H:%M:%S.%f} attempts={row and row['attempts']} "
                f"(partition, offset)={where.get(event_id)}",
                flush=True,
            )


def counters_of(files: list[Path]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for file in files:
        if file.exists():
            for name, value in json.loads(file.read_text()).items():
                totals[name] = totals.get(name, 0.0) + value
    return totals


async def test_ten_thousand_events_with_consumers_killed_three_times_arrive_once_and_in_key_order(
    kafka_bootstrap: str, databases: PostgresDatabases, workers: Workers, tmp_path: Path
) -> None:
    started = time.monotonic()
    seed = int(os.environ.get("FAULTS_SEED") or random.randrange(1_000_000))  # FAULTS_SEED repeats a run
    rng = random.Random(seed)
    topic = f"faults.stream.{uuid.uuid4().hex[:8]}"
    prefix = f"faults{uuid.uuid4().hex[:8]}."
    group_id = f"{prefix}{SERVICE}.{CONSUMER}"
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=PARTITIONS)
    await ensure_topics(settings, [topic])
    url = await databases.migrated("registry")
    await create_effect_table(url)
    job = {
        "database_url": url,
        "bootstrap": kafka_bootstrap,
        "group_prefix": prefix,
        "topics": [topic],
        "session_timeout_ms": SESSION_TIMEOUT_MS,
    }
    events = all_events(rng)
    produced = {event.id for event in events}
    # Kill when this many events have been applied: random moments while the stream flows.
    kill_at = sorted(rng.sample(range(EVENTS // 10, EVENTS * 8 // 10), KILLS))
    counter_files: list[Path] = []
    db = Database(url)

    async def start_consumer() -> int:
        counter_files.append(tmp_path / f"counters-{len(counter_files)}.json")
        return await workers.spawn("consume", name="consume", lifetime_s=900, counters=str(counter_files[-1]), **job)

    kills: list[tuple[int, int]] = []  # (applied when killed, exit status)
    try:
        relays = [await workers.spawn("relay", name="relay", until_empty=False, **job) for _ in range(2)]
        consumers = [await start_consumer() for _ in range(CONSUMERS)]

        async def write_all() -> None:
            for start in range(0, EVENTS, EVENTS_PER_TRANSACTION):
                await commit_events(db, topic, events[start : start + EVENTS_PER_TRANSACTION])
                await asyncio.sleep(0.01)

        writer = asyncio.create_task(write_all())
        try:
            deadline = time.monotonic() + 300
            while kill_at and time.monotonic() < deadline:
                applied = await count_rows(url, "fault_effect")
                if applied >= kill_at[0]:
                    kill_at.pop(0)
                    victim = rng.choice(consumers)
                    kills.append((applied, await workers.kill(victim)))
                    consumers[consumers.index(victim)] = await start_consumer()
                await asyncio.sleep(0.2)
        finally:
            await writer

        distinct = await settle(
            lambda: count_rows(url, "(SELECT DISTINCT event_id FROM fault_effect) AS applied"),
            lambda n: n >= EVENTS,
            within=240,
        )
        lag = await settle(lambda: group_lag(kafka_bootstrap, group_id, topic), lambda n: n == 0, within=60)
        await asyncio.sleep(1.0)  # a last counters dump
        counters = counters_of(counter_files)
        for pid in (*relays, *consumers):
            await workers.kill(pid)
    finally:
        await db.dispose()

    rows = await query(url, "SELECT apply_order, event_id, key, seq, pid FROM fault_effect ORDER BY apply_order")
    applied_ids = [row["event_id"] for row in rows]
    lost = produced - set(applied_ids)
    unexpected = set(applied_ids) - produced
    duplicates = len(applied_ids) - len(set(applied_ids))
    last: dict[str, tuple[int, int, int]] = {}  # key -> (seq, apply_order, pid) of its latest applied event
    out_of_order: list[str] = []
    for row in rows:
        seq, order, pid = last.get(row["key"], (0, 0, 0))
        if row["seq"] <= seq:
            out_of_order.append(
                f"{row['key']}: seq {row['seq']} applied (order {row['apply_order']}, pid {row['pid']}) "
                f"after seq {seq} (order {order}, pid {pid})"
            )
        if row["seq"] > seq:
            last[row["key"]] = (row["seq"], row["apply_order"], row["pid"])
    on_topic = await read_topic(kafka_bootstrap, topic)
    # The relays' side of the order: each key's copies in offset order on its partition.
    sequence_of = {event.id: (event.data["key"], event.data["seq"]) for event in events}
    topic_last: dict[str, tuple[int, str]] = {}
    topic_pairs: list[tuple[str, str]] = []  # (earlier event, later event) found in the wrong order
    for record in sorted(on_topic, key=lambda r: (r.partition, r.offset)):
        key, seq = sequence_of.get(record.event_id or "", ("", 0))
        previous_seq, previous_id = topic_last.get(key, (0, ""))
        if seq <= previous_seq:
            topic_pairs.append((record.event_id or "", previous_id))
        else:
            topic_last[key] = (seq, record.event_id or "")
    out_of_order_on_topic = len(topic_pairs)
    await explain_topic_order(url, on_topic, topic_pairs[:5])
    dead = await read_topic(kafka_bootstrap, dead_letter(topic))
    unsent = await count_rows(url, "outbox_message", "sent_at IS NULL")
    print(
        f"\n[scenario 2] seed={seed} events={EVENTS} keys={KEYS} records on topic={len(on_topic)} "
        f"kills={len(kills)} (applied when killed: {[a for a, _ in kills]}) applied rows={len(rows)} "
        f"distinct applied={distinct} lost={len(lost)} duplicated={duplicates} "
        f"applied out of key order={len(out_of_order)} (on the topic: {out_of_order_on_topic}) "
        f"inbox skipped as duplicate>={counters.get('events_duplicate_total', 0):.0f} "
        f"dead letters={len(dead)} group lag={lag} unsent={unsent} elapsed={time.monotonic() - started:.1f}s",
        flush=True,
    )
    assert [status for _, status in kills] == [KILLED] * KILLS, f"kills: {kills}"
    assert not lost, f"{len(lost)} events never applied, e.g. {sorted(lost)[:5]}"
    assert not unexpected
    assert duplicates == 0, f"{duplicates} events applied twice"
    for line in out_of_order[:10]:
        print("  out of order:", line, flush=True)
    assert not out_of_order_on_topic, f"{out_of_order_on_topic} records on the topic out of their key's order"
    assert not out_of_order, f"{len(out_of_order)} events applied out of key order, e.g. {out_of_order[:3]}"
    assert not dead, f"{len(dead)} events dead-lettered"
