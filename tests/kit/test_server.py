"""The kit's server limits (services/kit/server.py) on a real uvicorn server and real sockets: idle and
trickling connections are closed at their deadline, oversized headers get 431, a body that never
ends is cut off, and connections beyond a cap are closed on accept. Other source addresses on
127.0.0.0/8 stand for other clients. Outcomes are counted; the waits only bound the test."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from services.kit.server import ConnectionLimits, bounded_protocol
from tests.support import free_port

DEADLINE_S = 0.5
BOUND_S = 15.0


@dataclass
class Seen:
    disconnects: int = 0
    bodies: list[bytes] = field(default_factory=list)


def make_app(seen: Seen) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                seen.disconnects += 1
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        seen.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


@dataclass
class Server:
    port: int
    seen: Seen


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    overrides = getattr(request, "param", {})
    limits = ConnectionLimits(
        header_timeout_s=DEADLINE_S,
        body_timeout_s=DEADLINE_S,
        max_header_bytes=8 * 1024,
        max_connections=overrides.get("max_connections", 100),
        max_connections_per_address=overrides.get("max_connections_per_address", 50),
    )
    seen = Seen()
    port = free_port()
    config = uvicorn.Config(
        make_app(seen),
        host="127.0.0.1",
        port=port,
        http=bounded_protocol(limits),
        ws="none",
        lifespan="off",
        log_level="warning",
        timeout_keep_alive=1,
    )
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve())
    for _ in range(1000):
        if instance.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield Server(port, seen)
    finally:
        instance.should_exit = True
        await task


async def connect(port: int, source: str = "127.0.0.1") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed the connection (raises TimeoutError if it never does)."""
    received = b""
    try:
        async with asyncio.timeout(BOUND_S):
            while chunk := await reader.read(65536):
                received += chunk
    except ConnectionResetError:
        pass
    return received


async def test_a_plain_request_and_keep_alive_are_unaffected(server: Server) -> None:
    reader, writer = await connect(server.port)
    for _ in range(2):
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert await reader.readexactly(2) == b"ok"
    # Idle after its responses, the connection is closed at uvicorn's keep-alive timeout.
    assert await closed_by_server(reader) == b""
    writer.close()
    assert server.seen.bodies == [b"hello", b"hello"]


async def test_an_idle_connection_is_closed_at_the_header_deadline(server: Server) -> None:
    connections = [await connect(server.port) for _ in range(20)]
    outcomes = await asyncio.gather(*(closed_by_server(reader) for reader, _ in connections))
    assert outcomes == [b""] * 20
    for _, writer in connections:
        writer.close()


async def test_headers_trickled_a_byte_at_a_time_are_cut_off(server: Server) -> None:
    reader, writer = await connect(server.port)
    request = b"GET / HTTP/1.1\r\nhost: x\r\n" + b"x-padding: " + b"a" * 10_000

    async def trickle() -> int:
        sent = 0
        try:
            for byte in request:
                writer.write(bytes([byte]))
                await writer.drain()
                sent += 1
                await asyncio.sleep(0.01)
        except ConnectionError:
            pass
        return sent

    trickler = asyncio.create_task(trickle())
    assert await closed_by_server(reader) == b""
    sent = await trickler
    writer.close()
    # Closed long before the headers could have been finished, and the app never ran.
    assert sent < len(request)
    assert server.seen.bodies == [] and server.seen.disconnects == 0


async def test_headers_over_the_size_cap_are_431(server: Server) -> None:
    reader, writer = await connect(server.port)
    writer.write(b"GET / HTTP/1.1\r\nhost: x\r\nx-padding: " + b"a" * 9000 + b"\r\n")
    answer = await closed_by_server(reader)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431")
    assert b"application/problem+json" in head
    assert json.loads(body)["status"] == 431


async def test_a_body_that_never_ends_is_cut_off_and_the_app_told(server: Server) -> None:
    reader, writer = await connect(server.port)
    writer.write(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\nonly part of it")
    assert await closed_by_server(reader) == b""
    writer.close()
    for _ in range(100):
        if server.seen.disconnects:
            break
        await asyncio.sleep(0.05)
    assert server.seen.disconnects == 1 and server.seen.bodies == []


@pytest.mark.parametrize("server", [{"max_connections_per_address": 3}], indirect=True)
async def test_connections_over_the_per_address_cap_are_closed_on_accept(server: Server) -> None:
    held = [await connect(server.port, "127.0.0.2") for _ in range(3)]
    over = [await connect(server.port, "127.0.0.2") for _ in range(5)]
    refused = await asyncio.gather(*(closed_by_server(reader) for reader, _ in over))
    assert refused == [b""] * 5
    # Another address is served meanwhile.
    reader, writer = await connect(server.port, "127.0.0.3")
    writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    for _, w in (*held, *over, (reader, writer)):
        w.close()


@pytest.mark.parametrize("server", [{"max_connections": 4}], indirect=True)
async def test_connections_over_the_global_cap_are_closed_on_accept_until_some_close(server: Server) -> None:
    held = [await connect(server.port, f"127.0.1.{n}") for n in range(1, 5)]
    reader, writer = await connect(server.port, "127.0.1.9")
    assert await closed_by_server(reader) == b""
    writer.close()
    # The held ones reach their header deadline and close; then there is room again.
    await asyncio.gather(*(closed_by_server(r) for r, _ in held))
    for _, w in held:
        w.close()
    assert await served(server.port, "127.0.1.9")


async def served(port: int, source: str) -> bool:
    """Whether a request from `source` is answered, trying again while the server is still
    releasing the connections it closed."""
    for _ in range(50):
        reader, writer = await connect(port, source)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        try:
            answered = (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        except (asyncio.IncompleteReadError, ConnectionError):
            answered = False
        writer.close()
        if answered:
            return True
        await asyncio.sleep(0.05)
    return False
