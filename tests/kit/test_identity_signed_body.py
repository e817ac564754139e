"""The gateway's signature covers the body (RFC 9530 Content-Digest), checked while the body streams
in; a signed header set is good for 30 s and once; a body over the service's cap is 413 as it
arrives. A small app behind the real middleware, on a clock the test moves."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from services.kit.errors import install_problem_handlers
from services.kit.identity import (
    CONTENT_DIGEST,
    MAX_SKEW_S,
    SIGNATURE,
    Admission,
    GatewayIdentityMiddleware,
    RequestIdCache,
    content_digest,
    parse_content_digest,
    signed_headers,
)
from services.kit.settings import DEV_INTERNAL_SECRET

SECRET = DEV_INTERNAL_SECRET.encode()
START = 1_900_000_000.0
PROBLEM = "application/problem+json"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Person(BaseModel):
    name: str


class Received:
    """What the app behind the middleware got."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.completed: list[bytes] = []
        self.parsed: list[str] = []


def make_app(clock: Clock, received: Received, *, max_body_bytes: int = 1024, cache_entries: int = 1000) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/registry/v1/stream")
    async def stream(request: Request) -> dict[str, int]:
        async for chunk in request.stream():
            received.chunks.append(chunk)
        received.completed.append(b"".join(received.chunks))
        return {"size": len(received.completed[-1])}

    @app.post("/registry/v1/persons")
    async def create(person: Person) -> dict[str, str]:
        received.parsed.append(person.name)
        return {"name": person.name}

    @app.get("/registry/v1/persons")
    async def listing() -> dict[str, list[str]]:
        return {"items": received.parsed}

    app.add_middleware(
        GatewayIdentityMiddleware,
        secret=SECRET,
        max_body_bytes=max_body_bytes,
        replay_cache_entries=cache_entries,
        clock=clock,
    )
    return app


def sign(
    method: str, path: str, body: bytes = b"", *, at: float = START, request_id: str | None = None
) -> dict[str, str]:
    return signed_headers(
        SECRET,
        method=method,
        path=path,
        client_id="client-1",
        agency="hrss",
        scopes=["registry:write"],
        request_id=request_id or uuid.uuid4().hex,
        body=body,
        timestamp=int(at),
    ) | {"content-type": "application/json"}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
async def client(clock: Clock, received: Received) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(clock, received))
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as http:
        yield http


def assert_unauthorized(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["type"] == "urn:rongchang-employment:problem:unauthorized"
    assert detail in problem["detail"]


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_the_digest_is_rfc_9530_sha_256() -> None:
    # RFC 9530 section 2's example body and value; and the digest an empty body is signed with.
    assert content_digest(b'{"hello": "world"}') == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    assert content_digest(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
    assert parse_content_digest(content_digest(b"x")) is not None
    for bad in ("", "sha-256=:abc:", "sha-512=:" + "A" * 88 + ":", "sha-256=:!!!!:", "md5=:AAAA:"):
        assert parse_content_digest(bad) is None


async def test_the_signed_body_passes(client: httpx.AsyncClient, received: Received) -> None:
    body = json.dumps({"name": "刘晓梅"}, ensure_ascii=False).encode()
    response = await client.post(
        "/registry/v1/persons", content=body, headers=sign("POST", "/registry/v1/persons", body)
    )
    assert response.status_code == 200, response.text
    assert received.parsed == ["刘晓梅"]


async def test_another_body_under_the_same_headers_is_401_and_never_reaches_the_handler(
    client: httpx.AsyncClient, received: Received
) -> None:
    signed = sign("POST", "/registry/v1/persons", b'{"name": "A"}')
    # FastAPI would answer 400 for a body it could not read; the refusal is what goes out instead.
    response = await client.post("/registry/v1/persons", content=b'{"name": "B"}', headers=signed)
    assert_unauthorized(response, "body does not match its signature")
    assert received.parsed == []


async def test_a_streamed_body_is_checked_as_it_arrives_and_its_end_withheld_on_mismatch(
    client: httpx.AsyncClient, received: Received
) -> None:
    parts = (b"first part, ", b"second part, ", b"third part")
    good = await client.post(
        "/registry/v1/stream",
        content=chunks_of(*parts),
        headers=sign("POST", "/registry/v1/stream", b"".join(parts)),
    )
    assert good.status_code == 200 and good.json() == {"size": len(b"".join(parts))}
    assert received.completed == [b"".join(parts)]

    received.chunks.clear()
    tampered = await client.post(
        "/registry/v1/stream",
        content=chunks_of(parts[0], parts[1], b"THIRD PART"),
        headers=sign("POST", "/registry/v1/stream", b"".join(parts)),
    )
    assert_unauthorized(tampered, "body does not match its signature")
    # The handler never saw the body end, so it never acted on it.
    assert received.completed == [b"".join(parts)]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_request_without_a_body_signs_the_empty_body(
    client: httpx.AsyncClient, received: Received, method: str
) -> None:
    signed = sign(method, "/registry/v1/stream" if method == "POST" else "/registry/v1/persons")
    assert signed[CONTENT_DIGEST] == content_digest(b"")
    path = "/registry/v1/stream" if method == "POST" else "/registry/v1/persons"
    response = await client.request(method, path, headers=signed)
    assert response.status_code == 200, response.text
    # A body sent under the digest of none is refused.
    with_body = await client.post(
        "/registry/v1/stream", content=b"smuggled", headers=sign("POST", "/registry/v1/stream")
    )
    assert_unauthorized(with_body, "body does not match its signature")


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h: h.pop(CONTENT_DIGEST), id="no digest"),
        pytest.param(lambda h: h.update({CONTENT_DIGEST: content_digest(b"other")}), id="digest not the signed one"),
        pytest.param(lambda h: h.update({CONTENT_DIGEST: "sha-256=:not base64:"}), id="malformed digest"),
        pytest.param(lambda h: h.update({SIGNATURE: "é" * 64}), id="signature not ascii"),
    ],
)
async def test_digest_header_must_be_the_signed_one(client: httpx.AsyncClient, tamper: Any) -> None:
    signed = sign("POST", "/registry/v1/persons", b'{"name": "A"}')
    tamper(signed)
    response = await client.post(
        "/registry/v1/persons", content=b'{"name": "A"}', headers={k: v.encode() for k, v in signed.items()}
    )
    assert_unauthorized(response, "only through the gateway")


async def test_a_replayed_request_id_is_401_within_the_window(client: httpx.AsyncClient, received: Received) -> None:
    body = b'{"name": "once"}'
    signed = sign("POST", "/registry/v1/persons", body)
    first = await client.post("/registry/v1/persons", content=body, headers=signed)
    replay = await client.post("/registry/v1/persons", content=body, headers=signed)
    assert first.status_code == 200
    assert_unauthorized(replay, "already received")
    # Signed anew with the same id (a fresh timestamp): still the same request id, still refused.
    again = await client.post(
        "/registry/v1/persons",
        content=body,
        headers=sign("POST", "/registry/v1/persons", body, at=START + 1, request_id=signed["x-request-id"]),
    )
    assert_unauthorized(again, "already received")
    assert received.parsed == ["once"]


async def test_a_header_set_older_than_30_seconds_is_401(
    client: httpx.AsyncClient, clock: Clock, received: Received
) -> None:
    body = b'{"name": "late"}'
    signed = sign("POST", "/registry/v1/persons", body)
    assert (await client.post("/registry/v1/persons", content=body, headers=signed)).status_code == 200
    clock.now = START + MAX_SKEW_S + 1
    replay = await client.post("/registry/v1/persons", content=body, headers=signed)
    assert_unauthorized(replay, "only through the gateway")
    never_used = sign("POST", "/registry/v1/persons", body)
    assert_unauthorized(
        await client.post("/registry/v1/persons", content=body, headers=never_used), "only through the gateway"
    )
    # Within 30 s either way is fine: the gateway's clock may be a little ahead or behind.
    fresh = sign("POST", "/registry/v1/persons", body, at=clock.now + MAX_SKEW_S)
    assert (await client.post("/registry/v1/persons", content=body, headers=fresh)).status_code == 200
    assert received.parsed == ["late", "late"]


def test_request_ids_are_forgotten_once_their_window_has_passed_and_the_cache_is_bounded() -> None:
    clock = Clock()
    cache = RequestIdCache(window_s=30, max_entries=3, clock=clock)
    assert [cache.admit(f"r{i}", START) for i in range(3)] == [Admission.FIRST] * 3
    assert cache.admit("r0", START) is Admission.REPLAYED
    # Full: a fourth id within the window is refused rather than let through unchecked.
    assert cache.admit("r3", START) is Admission.FULL
    clock.now = START + 31
    assert cache.admit("r3", clock.now) is Admission.FIRST
    assert len(cache) == 1


async def test_a_full_replay_cache_refuses_with_503(clock: Clock, received: Received) -> None:
    transport = httpx.ASGITransport(app=make_app(clock, received, cache_entries=1))
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as http:
        first = await http.get("/registry/v1/persons", headers=sign("GET", "/registry/v1/persons"))
        second = await http.get("/registry/v1/persons", headers=sign("GET", "/registry/v1/persons"))
    assert first.status_code == 200
    assert second.status_code == 503 and second.headers["retry-after"] == "1"
    assert second.headers["content-type"] == PROBLEM


async def test_a_body_over_the_services_cap_is_413_before_it_is_read_whole(clock: Clock, received: Received) -> None:
    pulled: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for n in range(1000):
            pulled.append(n)
            yield b"x" * 100

    transport = httpx.ASGITransport(app=make_app(clock, received, max_body_bytes=1024))
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as http:
        declared = await http.post(
            "/registry/v1/stream", content=b"x" * 1025, headers=sign("POST", "/registry/v1/stream", b"x" * 1025)
        )
        streamed = await http.post(
            "/registry/v1/stream", content=endless(), headers=sign("POST", "/registry/v1/stream", b"x" * 100_000)
        )
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["max_bytes"] == 1024
    assert len(pulled) < 20
    assert received.completed == []
