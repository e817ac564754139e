"""The fault suite's tools: a broker the test may kill, a database outage, process workers to kill,
counters over databases, topics, readiness and metrics, and a load that records what was acknowledged.

Everything is real (PostgreSQL, tansu, the services as processes); outcomes are counted, never timed.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, TopicPartition

from contracts.envelope import CloudEvent
from contracts.topics import REGISTRY_PERSON, dead_letter
from deploy.embedded import create_topics, tansu_command
from services.kit.db import Database
from services.kit.identifiers import subject_ref
from services.kit.outbox import add_event
from services.kit.settings import DEV_SUBJECT_KEY
from tests.faults.workers import EFFECT_EVENT_TYPE, EFFECT_TABLE_DDL
from tests.registry.people import id_number
from tests.support import ROOT, TopicRecord, execute, query, read_topic, read_topic_sync, wait_for_port


class CrashPoint:
    """The kit's crash windows (`services/kit/faults.py`, set with KIT_CRASH_AT): the one place their
    names live in the tests."""

    RELAY_AFTER_CLAIM = "relay.after_claim"  # committed and claimed, not yet published
    RELAY_AFTER_PUBLISH = "relay.after_publish"  # published, not yet marked sent
    CONSUMER_AFTER_EFFECT = "consumer.after_effect"  # effect committed, offset not yet committed


# --------------------------------------------------------------------------------------- the broker


class Broker:
    """A tansu broker with memory storage that a test may kill and restart, empty, on the same port
    (the session's broker is shared by every test, so a scenario that kills one gets its own)."""

    def __init__(self, port: int, log_dir: Path, topics: Sequence[str] = ()) -> None:
        """`topics`: created at each start besides the contract topics, as provisioning would (a
        topic the relay's first produce to a just-started tansu creates by itself, while the
        consumers create it too, can get overlapping offsets: tansu's bug, not the kit's)."""
        self.topics = list(topics)
        self.port = port
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None, "the broker is running"
        self.starts += 1
        log = (self.log_dir / f"tansu-{self.starts}.log").open("ab")
        try:
            # Each start is empty and has a new cluster id, as under `make run`.
            self.process = subprocess.Popen(tansu_command(self.port), stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        try:
            wait_for_port(self.port)
            create_topics(self.port, extra=self.topics)  # as the embedded runner does
        except BaseException:
            self.kill()  # never leave a broker behind when its start fails
            raise

    def kill(self) -> None:
        """SIGKILL: everything the broker held (topics, events, offsets, groups) is gone."""
        if self.process is not None:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


# ---------------------------------------------------------------------------------- the databases


async def count_rows(url: str, table: str, where: str = "TRUE", *args: object) -> int:
    rows = await query(url, f"SELECT count(*) AS n FROM {table} WHERE {where}", *args)
    return int(rows[0]["n"])


async def create_effect_table(url: str) -> None:
    await execute(url, EFFECT_TABLE_DDL)


@dataclass
class EffectCounts:
    """What the effect table says about a set of acknowledged events."""

    acknowledged: int
    applied: int  # distinct acknowledged events with at least one effect row
    lost: list[str]  # acknowledged, never applied
    duplicated: dict[str, int]  # event id -> rows, where more than one
    unexpected: int  # effect rows of events never acknowledged

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated


async def effect_counts(url: str, acknowledged: Iterable[str]) -> EffectCounts:
    wanted = set(acknowledged)
    rows = await query(url, "SELECT event_id, count(*) AS n FROM fault_effect GROUP BY event_id")
    seen = {r["event_id"]: int(r["n"]) for r in rows}
    return EffectCounts(
        acknowledged=len(wanted),
        applied=len(wanted & seen.keys()),
        lost=sorted(wanted - seen.keys()),
        duplicated={e: n for e, n in seen.items() if n > 1},
        unexpected=sum(n for e, n in seen.items() if e not in wanted),
    )


def effect_event(key: str, seq: int) -> CloudEvent:
    return CloudEvent(source="/faults", type=EFFECT_EVENT_TYPE, subject=key, data={"key": key, "seq": seq})


async def commit_events(db: Database, topic: str, events: list[CloudEvent], *, bulk: bool = False) -> list[str]:
    """Write events through the real outbox in one transaction (in its bulk lane with `bulk`);
    returns their ids once committed."""
    async with db.sessionmaker() as session, session.begin():
        for event in events:
            add_event(session, topic, event.data["key"], event, bulk=bulk)
    return [event.id for event in events]


# --------------------------------------------------------------------------------------- the topics


async def dead_letters(bootstrap: str, topics: Iterable[str]) -> dict[str, list[TopicRecord]]:
    """The records on each topic's `<topic>.dlq`."""
    return {topic: await read_topic(bootstrap, dead_letter(topic)) for topic in topics}


# --------------------------------------------------------------------------- a service's HTTP face


async def readiness(http: httpx.AsyncClient, base_url: str) -> tuple[int, dict[str, Any]]:
    """`/readyz` of one service: (status, body); (0, {"error": ...}) when it does not answer."""
    try:
        response = await http.get(f"{base_url}/readyz", timeout=5)
    except httpx.HTTPError as exc:
        return 0, {"error": repr(exc)}
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"body": response.text[:200]}


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


async def metric_values(http: httpx.AsyncClient, base_url: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of one metric on a service's `/metrics`, by its labels."""
    response = await http.get(f"{base_url}/metrics", timeout=5)
    values: dict[tuple[tuple[str, str], ...], float] = {}
    for line in response.text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or match.group(1) != name:
            continue
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or "")))
        values[labels] = float(match.group(3))
    return values


async def metric_total(http: httpx.AsyncClient, base_url: str, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for k, v in (await metric_values(http, base_url, name)).items() if wanted <= set(k))


# ---------------------------------------------------------------------------- killable processes


class Workers:
    """Relays and consumers as real processes, forked from one pre-imported harness process
    (tests/faults/workers.py). Every child is tracked by pid and killed at `close()`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.process: asyncio.subprocess.Process | None = None
        self.children: set[int] = set()
        self.spawned = 0
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("KIT_CRASH_AT", None)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.faults.workers",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=(self.log_dir / "workers.log").open("ab"),
        )

    async def _ask(self, request: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin is not None and self.process.stdout is not None
        async with self._lock:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            await self.process.stdin.drain()
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"the workers process exited; see {self.log_dir / 'workers.log'}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def spawn(self, role: str, *, crash_at: str | None = None, name: str | None = None, **job: Any) -> int:
        self.spawned += 1
        log = self.log_dir / f"{name or role}-{self.spawned}.log"
        answer = await self._ask({"op": "spawn", "role": role, "crash_at": crash_at, "log": str(log), **job})
        pid = int(answer["pid"])
        self.children.add(pid)
        return pid

    async def wait(self, pid: int, timeout: float = 120.0) -> int:
        """The child's exit status (137 for a crash point or a SIGKILL)."""
        answer = await self._ask({"op": "wait", "pid": pid}, timeout)
        self.children.discard(pid)
        return int(answer["status"])

    async def run(self, role: str, *, crash_at: str | None = None, **job: Any) -> int:
        return await self.wait(await self.spawn(role, crash_at=crash_at, **job))

    async def kill(self, pid: int) -> int:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return await self.wait(pid)

    async def close(self) -> None:
        for pid in list(self.children):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                with suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        self.children.clear()


# -------------------------------------------------------------------------------- load and polling


async def settle(measure: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], within: float) -> Any:
    """Measure until `done` holds or `within` seconds pass, and return the last measurement: the
    caller asserts on the counts, so a failure says how far it got."""
    deadline = time.monotonic() + within
    while True:
        figures = await measure()
        if done(figures) or time.monotonic() >= deadline:
            return figures
        await asyncio.sleep(0.5)


@dataclass
class Write:
    """One write through the gateway and what came of it."""

    kind: str  # "person" or "dibao"
    id_number: str
    status: int  # 0: no answer (connection error, timeout)
    person_id: str | None = None
    problem_type: str | None = None
    retry_after: str | None = None
    error: str | None = None
    at: float = 0.0  # time.monotonic() when the answer came

    @property
    def acknowledged(self) -> bool:
        return 200 <= self.status < 300

    @property
    def subject_ref(self) -> str:
        return subject_ref(DEV_SUBJECT_KEY.encode(), self.id_number)


@dataclass
class Load:
    """Acknowledged writes through the gateway, as a desk and the civil affairs bureau would make
    them: register a person, then push the family's dibao record. Keeps going through every error
    and records each answer, so the test can compare what was acknowledged with what exists."""

    gateway: str
    desk_key: str
    civil_key: str
    workers: int = 3
    writes: list[Write] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._stop.clear()
        self._tasks = [asyncio.create_task(self._worker(n)) for n in range(self.workers)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        self._tasks = []

    async def _worker(self, n: int) -> None:
        rng = random.Random(n)
        async with httpx.AsyncClient(timeout=15) as http:
            while not self._stop.is_set():
                number = id_number(date(1970 + rng.randrange(30), 1 + rng.randrange(12), 1 + rng.randrange(28)))
                await self._call(
                    http,
                    Write("person", number, 0),
                    "/registry/v1/persons",
                    self.desk_key,
                    {"id_number": number, "name": "王五", "hukou_type": "urban", "town": "昌元街道"},
                )
                await self._call(
                    http,
                    Write("dibao", number, 0),
                    "/sharing/v1/agencies/civil_affairs/datasets/dibao/records",
                    self.civil_key,
                    {"records": [{"id_number": number, "household_no": f"RC-F-{number[-8:]}", "since": "2024-01-01"}]},
                )
                await asyncio.sleep(0.02)

    async def _call(self, http: httpx.AsyncClient, write: Write, path: str, key: str, body: Any) -> None:
        try:
            response = await http.post(
                self.gateway + path,
                json=body,
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex},
            )
        except httpx.HTTPError as exc:
            write.error = repr(exc)[:200]
        else:
            write.status = response.status_code
            write.retry_after = response.headers.get("retry-after")
            with suppress(ValueError):
                answer = response.json()
                if isinstance(answer, dict):
                    write.person_id = answer.get("person_id") if write.kind == "person" else None
                    write.problem_type = answer.get("type") if response.status_code >= 400 else None
                    if write.kind == "dibao" and response.status_code == 201 and answer.get("accepted") != 1:
                        write.status = -response.status_code  # answered, but the record was refused
        write.at = time.monotonic()
        self.writes.append(write)

    def acknowledged(self, kind: str) -> list[Write]:
        return [w for w in self.writes if w.kind == kind and w.acknowledged]

    def statuses(self, kind: str) -> Counter[int]:
        return Counter(w.status for w in self.writes if w.kind == kind)


# ---------------------------------------------------------------------------------- consumer groups


def _group_lag(bootstrap: str, group_id: str, topic: str) -> int:
    """Records on the topic beyond the group's committed offsets (a partition never committed counts
    from its start). The ends are read, not asked for: see `read_topic_sync`."""
    ends: dict[int, int] = {}
    for record in read_topic_sync(bootstrap, topic, idle_s=0.6):
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    if not ends:
        return 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        committed = consumer.committed([TopicPartition(topic, p) for p in ends], timeout=10)
    finally:
        consumer.close()
    positions = {tp.partition: max(tp.offset, 0) for tp in committed}
    return sum(max(0, end - positions.get(p, 0)) for p, end in ends.items())


async def group_lag(bootstrap: str, group_id: str, topic: str) -> int:
    return await asyncio.to_thread(_group_lag, bootstrap, group_id, topic)


# ------------------------------------------------------------------------------ readiness over time


@dataclass
class ReadinessSample:
    at: float
    service: str
    status: int
    checks: dict[str, Any]


@dataclass
class ReadinessWatch:
    """Samples each service's `/readyz` every `interval` seconds while it runs."""

    urls: dict[str, str]
    interval: float = 1.0
    samples: list[ReadinessSample] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        async with httpx.AsyncClient() as http:
            while True:
                for service, url in self.urls.items():
                    status, body = await readiness(http, url)
                    self.samples.append(ReadinessSample(time.monotonic(), service, status, body.get("checks", body)))
                await asyncio.sleep(self.interval)

    def between(self, service: str, start: float, end: float) -> list[ReadinessSample]:
        return [s for s in self.samples if s.service == service and start <= s.at <= end]


def phase_statuses(samples: list[ReadinessSample]) -> Counter[int]:
    return Counter(s.status for s in samples)


def log_lines(text: str, *needles: str, limit: int = 5) -> list[str]:
    """The first lines of a service log that contain any of the needles (JSON logs: the raw line)."""
    found = [line for line in text.splitlines() if any(n in line for n in needles)]
    return [line[:400] for line in found[:limit]]


def log_count(text: str, needle: str) -> int:
    return sum(1 for line in text.splitlines() if needle in line)


# ------------------------------------------------------------------- what the load left behind


@dataclass
class Outcomes:
    """Acknowledged writes of a `Load` against what each service's database holds."""

    persons_acknowledged: int
    dibao_acknowledged: int
    persons_missing: list[str]  # acknowledged registrations absent from the registry
    facts_missing: list[str]  # acknowledged dibao records that never became a registry fact
    beneficiaries_missing: list[str]  # acknowledged persons absent from the subsidy projection
    categories_missing: list[str]  # acknowledged person + acknowledged dibao, no low_income_family in subsidy
    unacknowledged_but_committed: list[Write]  # registrations answered with an error that exist anyway

    @property
    def complete(self) -> bool:
        return not (self.persons_missing or self.facts_missing or self.beneficiaries_missing or self.categories_missing)

    def summary(self) -> str:
        return (
            f"persons acknowledged={self.persons_acknowledged} missing in registry={len(self.persons_missing)}; "
            f"dibao acknowledged={self.dibao_acknowledged} facts missing in registry={len(self.facts_missing)}; "
            f"beneficiaries missing in subsidy={len(self.beneficiaries_missing)}; "
            f"low_income_family missing in subsidy={len(self.categories_missing)}; "
            f"answered an error but committed={len(self.unacknowledged_but_committed)}"
        )


async def outcomes(load: Load, database_urls: dict[str, str]) -> Outcomes:
    registry, subsidy = database_urls["registry"], database_urls["subsidy"]
    persons = load.acknowledged("person")
    dibao = {w.subject_ref for w in load.acknowledged("dibao")}
    registered = {r["subject_ref"] for r in await query(registry, "SELECT subject_ref FROM registry_person")}
    facts = {
        r["subject_ref"]
        for r in await query(
            registry,
            "SELECT subject_ref FROM registry_person_fact WHERE agency = 'civil_affairs' AND dataset = 'dibao'",
        )
    }
    projected = {str(r["person_id"]) for r in await query(subsidy, "SELECT person_id FROM subsidy_person")}
    low_income = {
        str(r["person_id"])
        for r in await query(
            subsidy, "SELECT person_id FROM subsidy_person_category WHERE category = 'low_income_family'"
        )
    }
    failed = [w for w in load.writes if w.kind == "person" and not w.acknowledged]
    return Outcomes(
        persons_acknowledged=len(persons),
        dibao_acknowledged=len(dibao),
        persons_missing=[w.subject_ref for w in persons if w.subject_ref not in registered],
        facts_missing=sorted(dibao - facts),
        beneficiaries_missing=[str(w.person_id) for w in persons if str(w.person_id) not in projected],
        categories_missing=[
            str(w.person_id) for w in persons if w.subject_ref in dibao and str(w.person_id) not in low_income
        ],
        unacknowledged_but_committed=[w for w in failed if w.subject_ref in registered],
    )


async def trace_events(
    *, publisher_url: str, consumer_url: str, bootstrap: str, topic: str, keys: Iterable[str], limit: int = 10
) -> list[str]:
    """Where each missing event got to: the publisher's outbox row, the copies on the (current)
    broker's topic, the consumer's inbox. One line per event, for the failure report."""
    wanted = sorted(set(keys))[:limit]
    if not wanted:
        return []
    rows = await query(
        publisher_url,
        "SELECT id, key, event_id, created_at, sent_at, attempts, last_error FROM outbox_message"
        " WHERE topic = $1 AND key = ANY($2::text[]) ORDER BY id",
        topic,
        wanted,
    )
    inbox = {
        r["event_id"]: r
        for r in await query(
            consumer_url,
            'SELECT event_id, partition, "offset", processed_at FROM inbox_entry WHERE event_id = ANY($1::text[])',
            [r["event_id"] for r in rows],
        )
    }
    on_topic: dict[str, list[tuple[int, int]]] = {}
    for record in await read_topic(bootstrap, topic):
        if record.event_id is not None:
            on_topic.setdefault(record.event_id, []).append((record.partition, record.offset))
    lines = []
    for row in rows:
        applied = inbox.get(row["event_id"])
        sent = row["sent_at"] and format(row["sent_at"], "%H:%M:%S.%f")
        in_inbox = applied and (applied["partition"], applied["offset"], format(applied["processed_at"], "%H:%M:%S.%f"))
        lines.append(
            f"key={row['key'][:12]}… outbox id={row['id']} created={row['created_at']:%H:%M:%S.%f} sent={sent} "
            f"attempts={row['attempts']} last_error={(row['last_error'] or '')[:80]!r} "
            f"on topic (partition, offset)={on_topic.get(row['event_id'], [])} inbox={in_inbox}"
        )
    missing_rows = set(wanted) - {r["key"] for r in rows}
    lines += [f"key={key[:12]}… has no outbox row (kept rows purged?)" for key in sorted(missing_rows)]
    return lines


async def trace_categories(
    *, registry_url: str, subsidy_url: str, bootstrap: str, person_ids: Iterable[str], limit: int = 5
) -> list[str]:
    """Where a person's low_income_family category got to: the registry's person (version, what it
    last published), its dibao fact, its snapshots in the registry's outbox and on the topic, the
    subsidy's copy and how far its consumer has committed on that partition."""
    lines: list[str] = []
    person_ids = list(person_ids)
    if not person_ids:
        return lines
    on_topic: dict[str, list[tuple[int, int]]] = {}
    for record in await read_topic(bootstrap, REGISTRY_PERSON):
        if record.event_id is not None:
            on_topic.setdefault(record.event_id, []).append((record.partition, record.offset))
    positions = {
        (r["consumer"], r["partition"]): r["next_offset"]
        for r in await query(
            subsidy_url,
            "SELECT consumer, partition, next_offset FROM consumer_position WHERE topic = $1",
            REGISTRY_PERSON,
        )
    }
    lines.append(f"subsidy consumer positions on {REGISTRY_PERSON}: {positions}")
    for person_id in sorted(set(person_ids))[:limit]:
        person = await query(
            registry_url,
            "SELECT subject_ref, version, published_categories, updated_at FROM registry_person"
            " WHERE person_id = $1::uuid",
            person_id,
        )
        subject = person[0]["subject_ref"] if person else ""
        fact = await query(
            registry_url,
            "SELECT fact_id, valid_from, valid_until, received_at FROM registry_person_fact"
            " WHERE subject_ref = $1 AND dataset = 'dibao'",
            subject,
        )
        outbox = await query(
            registry_url,
            "SELECT id, event_id, created_at, sent_at, convert_from(payload, 'UTF8') AS body FROM outbox_message"
            " WHERE key = $1 ORDER BY id",
            person_id,
        )
        projected = await query(subsidy_url, "SELECT version FROM subsidy_person WHERE person_id = $1::uuid", person_id)
        inbox = await query(
            subsidy_url,
            "SELECT event_id, processed_at FROM inbox_entry WHERE event_id = ANY($1::text[])",
            [r["event_id"] for r in outbox],
        )
        lines.append(
            f"person={person_id} registry={dict(person[0]) if person else None} fact={[dict(r) for r in fact]} "
            f"subsidy version={[r['version'] for r in projected]}"
        )
        applied = {r["event_id"]: r["processed_at"] for r in inbox}
        for row in outbox:
            body = row["body"]
            version = body[body.find('"version"') : body.find('"version"') + 14]
            low = "low_income_family" in body
            lines.append(
                f"    outbox id={row['id']} created={row['created_at']:%H:%M:%S.%f} sent={row['sent_at']} {version} "
                f"low_income={low} on topic (partition, offset)={on_topic.get(row['event_id'], [])} "
                f"subsidy inbox={applied.get(row['event_id'])}"
            )
    return lines
