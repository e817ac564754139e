"""The processes the fault scenarios kill: outbox relays and consumers, each a real OS process.

Started once as `python -m tests.faults.workers`, this module imports the kit and the registry and
then forks a child per request (a JSON line on stdin), so a scenario can start dozens of relays
and consumers without paying Python's start-up each time. The parent never runs an event loop:
every child starts a fresh one. A child dies at its crash point (KIT_CRASH_AT) with exit 137, or
by the test's SIGKILL, and nothing of it survives: no offset commit, no rollback, no goodbye.

Requests: {"op": "spawn", "role": ..., "crash_at": ..., "log": path, ...} answers {"pid": n};
{"op": "wait", "pid": n} answers {"pid": n, "status": exit code, 137 for a crash point or SIGKILL}.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import CloudEvent
from services.kit.db import Database
from services.kit.inbox import ConsumerRunner, EventHandler
from services.kit.kafka import make_producer
from services.kit.outbox import OutboxRelay
from services.kit.settings import ServiceSettings
from services.registry.facts.handlers import fact_handler
from services.registry.persons.service import person_services
from services.registry.settings import RegistrySettings

PR_SET_PDEATHSIG = 1
KILLED = 137

# One row per application, and no unique constraint on event_id: an effect applied twice shows as
# two rows. `apply_order` is taken at insert time, inside the applying transaction.
EFFECT_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS fault_effect (
    apply_order bigserial PRIMARY KEY,
    event_id text NOT NULL,
    key text NOT NULL,
    seq integer NOT NULL,
    pid integer NOT NULL
)
"""
EFFECT_EVENT_TYPE = "faults.effect.v1"


def settings_for(job: dict[str, Any]) -> ServiceSettings:
    return ServiceSettings(
        database_url=job["database_url"],
        kafka_bootstrap_servers=job["bootstrap"],
        kafka_consumer_group_prefix=job.get("group_prefix", ""),
        kafka_session_timeout_ms=job.get("session_timeout_ms", 3000),
    )


async def record_effect(session: AsyncSession, event: CloudEvent, topic: str) -> None:
    """The test handler: one row per applied event."""
    await session.execute(
        sa.text("INSERT INTO fault_effect (event_id, key, seq, pid) VALUES (:event_id, :key, :seq, :pid)"),
        {"event_id": event.id, "key": event.data["key"], "seq": event.data["seq"], "pid": os.getpid()},
    )


def handler_for(job: dict[str, Any]) -> EventHandler:
    if job.get("handler") == "facts":
        return fact_handler(person_services(RegistrySettings(database_url=job["database_url"])))
    return record_effect


async def relay(job: dict[str, Any]) -> None:
    """Relay until the outbox is empty (`until_empty`), or for ever."""
    settings = settings_for(job)
    db = Database(settings.database_url)
    producer = make_producer(settings)
    await producer.start()
    outbox = OutboxRelay(db, producer, service="faults", batch_size=job.get("batch_size", 200))
    try:
        if job.get("until_empty", True):
            while await outbox.relay_once() > 0:
                pass
        else:
            await outbox.run()
    finally:
        await producer.stop()
        await db.dispose()


async def consume(job: dict[str, Any]) -> None:
    """Run one kit ConsumerRunner until killed, or until `lifetime_s` pass (then leave the group)."""
    settings = settings_for(job)
    db = Database(settings.database_url)
    producer = make_producer(settings)
    await producer.start()
    runner = ConsumerRunner(
        service=job.get("service", "faults"),
        consumer=job.get("consumer", "effects"),
        topics=job["topics"],
        handler=handler_for(job),
        db=db,
        producer=producer,
        settings=settings,
    )
    await runner.start()
    dumping = asyncio.create_task(dump_counters(job["counters"])) if job.get("counters") else None
    try:
        await asyncio.sleep(job.get("lifetime_s", 60))
    finally:
        if dumping is not None:
            dumping.cancel()
        await runner.stop()
        await producer.stop()
        await db.dispose()


def write_atomically(path: str, text: str) -> None:
    Path(path + ".tmp").write_text(text)
    os.replace(path + ".tmp", path)


async def dump_counters(path: str) -> None:
    """Write the inbox's counters to a file twice a second: a SIGKILLed consumer cannot report at exit."""
    while True:
        counters = {
            name: sum(sample.value for metric in REGISTRY.collect() for sample in metric.samples if sample.name == name)
            for name in ("events_consumed_total", "events_duplicate_total", "events_dead_lettered_total")
        }
        await asyncio.to_thread(write_atomically, path, json.dumps(counters))
        await asyncio.sleep(0.5)


ROLES = {"relay": relay, "consume": consume}


def run_child(job: dict[str, Any]) -> None:
    """In the forked child: never returns."""
    code = 1
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the harness gone, the child goes too
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.environ.pop("KIT_CRASH_AT", None)
        if job.get("crash_at"):
            os.environ["KIT_CRASH_AT"] = job["crash_at"]
        asyncio.run(ROLES[job["role"]](job))
        code = 0
    except BaseException as exc:
        print(f"worker {job['role']} failed: {exc!r}", file=sys.stderr, flush=True)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def exit_status(status: int) -> int:
    """Like a shell: a child killed by signal N is 128 + N (SIGKILL: 137, as the crash points)."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main() -> None:
    reply = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "spawn":
            pid = os.fork()
            if pid == 0:
                run_child(request)
            answer: dict[str, Any] = {"pid": pid}
        elif request["op"] == "wait":
            _, status = os.waitpid(request["pid"], 0)
            answer = {"pid": request["pid"], "status": exit_status(status)}
        else:
            answer = {"error": f"unknown op {request['op']!r}"}
        reply.write(json.dumps(answer) + "\n")
        reply.flush()


if __name__ == "__main__":
    main()
