"""Helpers the tests share: real broker and database plumbing, signed callers, polling."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from fastapi import FastAPI

from contracts.envelope import CloudEvent
from deploy.embedded import port_open, wait_until
from services.kit.db import Database
from services.kit.identity import signed_headers
from services.kit.migrations import upgrade
from services.kit.settings import DEV_INTERNAL_SECRET

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
RUN_ID = uuid.uuid4().hex[:8]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    wait_until(lambda: port_open(port), f"127.0.0.1:{port}", timeout)


class PostgresDatabases:
    """Creates fresh databases named after this run, migrates them, drops them at the end."""

    def __init__(self) -> None:
        self.created: list[str] = []

    async def create(self, label: str) -> str:
        name = f"t_{RUN_ID}_{label}_{len(self.created)}"
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"

    async def migrated(self, service: str) -> str:
        url = await self.create(service)
        await asyncio.to_thread(upgrade, service, url)
        return url

    async def drop_all(self) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            for name in self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


# --------------------------------------------------------------------------------- test databases


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


TEST_DATABASE = re.compile(r"^t_[0-9a-f]{8}_[a-z_]+_\d+$")


@asynccontextmanager
async def database_outage(*db_names: str) -> AsyncIterator[None]:
    """PostgreSQL refuses the named databases while the block runs: no new connection is allowed and
    every open one is terminated. Only a test's own databases (tests.support.PostgresDatabases)."""
    for name in db_names:
        assert TEST_DATABASE.match(name), f"{name} is not a test database"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        for name in db_names:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await terminate_backends(admin, db_names)
        try:
            yield
        finally:
            for name in db_names:
                await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


async def terminate_backends(admin: asyncpg.Connection, db_names: Iterable[str]) -> int:
    return int(
        await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()",
            list(db_names),
        )
    )


async def query(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def execute(url: str, sql: str, *args: object) -> str:
    """Run one statement on a test database (a service's URL); returns its status, e.g. `UPDATE 1`."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return str(await conn.execute(sql, *args))
    finally:
        await conn.close()


def gateway_headers(
    method: str,
    path: str,
    *,
    query: str = "",
    scopes: Iterable[str],
    agency: str = "hrss",
    client_id: str = "test-client",
    secret: str = DEV_INTERNAL_SECRET,
    body: bytes = b"",
) -> dict[str, str]:
    """The signed identity headers the gateway would add for this body (and a new request id);
    lets a test call one service directly. Good for one request: a service accepts each id once."""
    return signed_headers(
        secret.encode(),
        method=method,
        path=path,
        query=query,
        client_id=client_id,
        agency=agency,
        scopes=scopes,
        request_id=uuid.uuid4().hex,
        body=body,
    )


def request_body(json_body: object = None, content: bytes | str | None = None) -> tuple[bytes, dict[str, str]]:
    """The bytes a request will carry, serialised here (as httpx would) so that they can be signed."""
    if content is not None:
        return (content.encode() if isinstance(content, str) else content), {}
    if json_body is not None:
        text = json.dumps(json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode(), {"Content-Type": "application/json"}
    return b"", {}


class ServiceClient:
    """An httpx client on an in-process app that signs each request, body included, as a given
    gateway caller. Bodies are given as `json=` or `content=` (bytes or text)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    async def request(
        self,
        method: str,
        path: str,
        *,
        scopes: Iterable[str] = ("admin",),
        agency: str = "hrss",
        client_id: str = "test-client",
        headers: dict[str, str] | None = None,
        json: object = None,
        content: bytes | str | None = None,
        **kwargs: object,
    ) -> httpx.Response:
        url_path, _, query = path.partition("?")
        body, implied = request_body(json, content)
        signed = gateway_headers(
            method, url_path, query=query, scopes=scopes, agency=agency, client_id=client_id, body=body
        )
        return await self.http.request(
            method,
            path,
            headers={**implied, **signed, **(headers or {})},
            content=body or None,
            **kwargs,  # type: ignore[arg-type]
        )

    async def get(self, path: str, **kwargs: object) -> httpx.Response:
        return await self.request("GET", path, **kwargs)  # type: ignore[arg-type]

    async def post(self, path: str, **kwargs: object) -> httpx.Response:
        return await self.request("POST", path, **kwargs)  # type: ignore[arg-type]

    async def put(self, path: str, **kwargs: object) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)  # type: ignore[arg-type]


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[ServiceClient]:
    """Run the app's lifespan (engine, producer, relay, consumers) and give a signed client."""
    async with app.router.lifespan_context(app):
        # Like a real server: an unhandled error is a 500 response, not an exception in the test.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield ServiceClient(client)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0, interval: float = 0.1) -> None:
    """Poll an asynchronous condition (an event crossing the broker) until it holds."""
    timeout = within
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


# --------------------------------------------------------------------------- reading a topic back


@dataclass(frozen=True)
class TopicRecord:
    partition: int
    offset: int
    key: str | None
    event_id: str | None  # None when the value is not a CloudEvent
    headers: dict[str, str]
    value: bytes = b""


def read_topic_sync(bootstrap: str, topic: str, idle_s: float = 1.5) -> list[TopicRecord]:
    return read_topics_sync(bootstrap, [topic], idle_s)[topic]


def read_topics_sync(bootstrap: str, topics: Sequence[str], idle_s: float = 1.5) -> dict[str, list[TopicRecord]]:
    """Every record of every partition of `topics`, from the beginning until nothing more arrives for
    `idle_s` (confluent-kafka, a second client next to the services' aiokafka; assigned, so no
    consumer group is joined). All topics are read at once, so the idle wait is paid once. Not only up
    to the high watermark: tansu 0.6's ListOffsets answers the base offset of a partition's last
    batch plus one, short of the end whenever that batch holds several records. A topic that never
    falls idle (`outbox.watermark.v1`) is read until every partition is past the high watermark taken
    at the start, and `idle_s` more: the rest of its last batch is in by then."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"tests-read-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    try:
        records: dict[str, list[TopicRecord]] = {topic: [] for topic in topics}
        partitions: list[TopicPartition] = []
        for topic in topics:
            described = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if described is not None and described.error is None:
                partitions.extend(TopicPartition(topic, p, OFFSET_BEGINNING) for p in described.partitions)
        if not partitions:
            return records
        ends = {(tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions}
        consumer.assign(partitions)
        read_up_to = dict.fromkeys(ends, 0)
        deadline = time.monotonic() + 120
        idle_since = time.monotonic()
        passed_ends_at: float | None = None
        while time.monotonic() - idle_since < idle_s and time.monotonic() < deadline:
            if passed_ends_at is None and all(read_up_to[p] >= end for p, end in ends.items()):
                passed_ends_at = time.monotonic()
            if passed_ends_at is not None and time.monotonic() - passed_ends_at >= idle_s:
                break
            messages = consumer.consume(1000, timeout=0.3)
            for message in messages:
                if message.error() is not None:
                    continue
                try:
                    event_id: str | None = CloudEvent.from_bytes(message.value() or b"").id
                except ValueError:
                    event_id = None
                key = message.key()
                where = (message.topic(), message.partition())
                read_up_to[where] = max(read_up_to[where], message.offset() + 1)
                records[where[0]].append(
                    TopicRecord(
                        partition=message.partition(),
                        offset=message.offset(),
                        key=key.decode() if key is not None else None,
                        event_id=event_id,
                        headers={k: (v or b"").decode(errors="replace") for k, v in message.headers() or []},
                        value=message.value() or b"",
                    )
                )
            if messages:
                idle_since = time.monotonic()
        return records
    finally:
        consumer.close()


async def read_topic(bootstrap: str, topic: str) -> list[TopicRecord]:
    return await asyncio.to_thread(read_topic_sync, bootstrap, topic)


async def read_topics(bootstrap: str, topics: Sequence[str]) -> dict[str, list[TopicRecord]]:
    return await asyncio.to_thread(read_topics_sync, bootstrap, topics)


async def create_topics(bootstrap: str, topics: Sequence[NewTopic]) -> None:
    """Create `topics` on the broker, then wait a moment: tansu drops what is produced to a topic in
    its first moments."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(list(topics))
    finally:
        await admin.close()
    await asyncio.sleep(0.5)


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """Every SQL statement `db`'s engine sends while the block runs (the relay and consumers sharing
    the engine included: filter by table when they may run)."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", count)
