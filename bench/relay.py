"""Issue 11: the outbox relay with a backlog.

9. `--relay-rows` unsent rows (100,000) are written straight into a migrated registry database, in
   one multi-row insert per 10,000 and with no ANALYZE (a young table, as after a bulk push), 1 key
   in 50 waiting for a retry. Printed: the plan and time of each statement of the relay's claim
   (`EXPLAIN (ANALYZE, BUFFERS)`), the time of a whole claim by the relay's own code, before and after
   ANALYZE; then the relay drains the backlog to the benchmark's broker and prints rows per second.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.envelope import CloudEvent
from services.kit.db import Database, utcnow
from services.kit.outbox import OUTBOX, OutboxRelay, claim_statements, steady_plans
from tests.support import asyncpg_dsn

TOPIC = "bench.relay.v1"
CHUNK = 10_000
HELD_EVERY = 50


async def _explain(db: Database, statements: dict[str, str]) -> None:
    """Each statement's plan in a transaction set up as the relay's (`steady_plans`)."""
    async with db.sessionmaker() as session, session.begin():
        await steady_plans(session)
        for name, statement in statements.items():
            plan = (await session.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {statement}"))).scalars().all()
            print(f"     {name}:")
            for line in plan:
                print(f"       {line}")


async def _claim_ms(relay: OutboxRelay, db: Database, repeat: int = 5) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        async with db.sessionmaker() as session, session.begin():
            await steady_plans(session)  # as the relay's round sets them (`RELAY_ROUND_START`)
            await relay._claim(session)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def relay(database_url: str, bootstrap: str, *, rows: int) -> None:
    print(f"\n9. Outbox relay with {rows:,} unsent rows (a young table, 1 key in {HELD_EVERY} waiting for a retry)")
    db = Database(database_url)
    dsn = asyncpg_dsn(database_url)
    payload = CloudEvent(source="/bench", type="bench.e", data={"n": 0, "text": "x" * 400}).to_bytes()
    later = utcnow() + timedelta(hours=1)
    try:
        async with db.engine.begin() as connection:
            for start in range(0, rows, CHUNK):
                await connection.execute(
                    sa.insert(OUTBOX),
                    [
                        {
                            "topic": TOPIC,
                            "key": f"person-{n % (rows // 2 or 1)}",
                            "event_id": f"e{n}",
                            "payload": payload,
                            "attempts": 0,
                            "bulk": n % 2 == 0,  # half in each lane
                        }
                        for n in range(start, min(rows, start + CHUNK))
                    ],
                )
            # The first row of 1 key in 50 waits for a retry an hour away (its key waits with it).
            await connection.execute(
                sa.update(OUTBOX)
                .where(OUTBOX.c.id % HELD_EVERY == 1, OUTBOX.c.id <= rows // 2)
                .values(attempts=1, next_attempt_at=later)
            )
        statements = claim_statements({"person-2", "person-3", "person-4"}, now=utcnow())
        relay_ = OutboxRelay(db, producer=None, service="bench", batch_size=200)  # type: ignore[arg-type]
        print("   young table (never analyzed):")
        await _explain(db, statements)
        young = await _claim_ms(relay_, db)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("ANALYZE outbox_message")
        finally:
            await conn.close()
        analyzed = await _claim_ms(relay_, db)
        print(
            f"   one claim of 200 by the relay's code: young {min(young):.1f}-{max(young):.1f} ms, "
            f"analyzed {min(analyzed):.1f}-{max(analyzed):.1f} ms"
        )

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(TOPIC, 3, 1)])
        finally:
            await admin.close()
        await asyncio.sleep(0.5)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_batch_size=512 * 1024)
        await producer.start()
        try:
            sender = OutboxRelay(db, producer, service="bench", batch_size=200, watermark_interval_s=0)
            due = rows - rows // 2 // HELD_EVERY * 2  # about: the held keys' rows stay
            started = time.perf_counter()
            sent = 0
            while True:
                count = await sender.relay_once()
                sent += count
                if count == 0:
                    break
            elapsed = time.perf_counter() - started
            print(
                f"   drained to the broker: {sent:,} rows in {elapsed:.1f} s = {sent / elapsed:,.0f} rows/s "
                f"(about {due:,} due)"
            )
        finally:
            await producer.stop()
    finally:
        await db.dispose()
