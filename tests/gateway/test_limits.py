"""What the gateway refuses before it reads a body, and how it reads one: per-route body limits
enforced as the bytes arrive, the dataset push's scope and agency checked first, unauthenticated
requests limited per source address, a unique signed request id per hop, the body's digest signed,
large bodies spooled, no slash redirects. Against the stand-in service as a real process, which
verifies the signature and the digest exactly as the real services do."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest

from services.kit.identity import CONTENT_DIGEST, content_digest
from tests.gateway.conftest import GatewayFactory
from tests.gateway.helpers import ADMIN, bearer, issue_key
from tests.gateway.test_proxy import received_headers

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
PUSH = "/sharing/v1/agencies/civil_affairs/datasets/dibao/records"


class CountingBody:
    """A chunked request body that counts how much of it the gateway pulled."""

    def __init__(self, chunks: int, size: int = 1024) -> None:
        self.chunks = chunks
        self.size = size
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield b"x" * self.size


async def test_each_route_has_its_body_limit_enforced_as_the_bytes_arrive(gateway: GatewayFactory) -> None:
    async with gateway(max_request_body_bytes=4096, dataset_push_max_body_bytes=64 * 1024) as client:
        civil = bearer((await issue_key(client, scopes=["sharing:submit"], agency="civil_affairs"))["api_key"])
        small_route = CountingBody(chunks=1000)
        refused = await client.post("/registry/v1/persons", headers=ADMIN, content=small_route)
        push_body = CountingBody(chunks=1000)
        refused_push = await client.post(PUSH, headers=civil, content=push_body)
        declared = await client.post("/registry/v1/persons", headers=ADMIN, content=b"x" * 4097)
        within_push = await client.post(PUSH, headers=civil, content=b"y" * 60_000)
    for response in (refused, refused_push, declared):
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"].endswith(":payload-too-large")
    assert refused.json()["max_bytes"] == 4096
    assert refused_push.json()["max_bytes"] == 64 * 1024
    # Refused as soon as the limit was passed, not after the whole body was read.
    assert small_route.pulled == 5
    assert push_body.pulled == 65
    assert within_push.status_code == 200
    assert within_push.json()["body"] == "y" * 60_000


@pytest.mark.parametrize(
    ("scopes", "agency", "path", "slug"),
    [
        (["registry:write", "sharing:read"], "civil_affairs", PUSH, "forbidden"),
        (
            ["sharing:submit"],
            "civil_affairs",
            "/sharing/v1/agencies/public_security/datasets/identity/records",
            "agency-mismatch",
        ),
        # Judged on the decoded path, as the service routes it.
        (
            ["sharing:submit"],
            "civil_affairs",
            "/sharing/v1/agencies/public%5Fsecurity/datasets/identity/records",
            "agency-mismatch",
        ),
    ],
)
async def test_a_push_the_key_may_not_make_is_403_before_any_of_its_body_is_read(
    gateway: GatewayFactory, scopes: list[str], agency: str, path: str, slug: str
) -> None:
    async with gateway() as client:
        key = bearer((await issue_key(client, scopes=scopes, agency=agency))["api_key"])
        body = CountingBody(chunks=16 * 1024)
        response = await client.post(path, headers=key, content=body)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith(f":{slug}")
    assert body.pulled == 0
    # The gateway's own answer: the service never received the request.
    assert "caller" not in response.json()


async def test_the_own_agency_and_admin_may_push(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        civil = bearer((await issue_key(client, scopes=["sharing:submit"], agency="civil_affairs"))["api_key"])
        own = await client.post(PUSH, headers=civil, json={"records": []})
        other_agency_by_admin = await client.post(
            "/sharing/v1/agencies/public_security/datasets/identity/records", headers=ADMIN, json={"records": []}
        )
    assert own.status_code == 200 and own.json()["caller"]["agency"] == "civil_affairs"
    assert other_agency_by_admin.status_code == 200


async def test_a_large_push_is_spooled_and_arrives_whole_under_its_signed_digest(gateway: GatewayFactory) -> None:
    body = bytes(i % 251 for i in range(3 * 1024 * 1024 + 17)).replace(b'"', b"'").replace(b"\\", b"/")
    text = body.decode("latin-1").encode()
    async with gateway(request_spool_memory_bytes=256 * 1024) as client:
        response = await client.post(
            PUSH, headers={**ADMIN, "Content-Digest": content_digest(b"forged")}, content=CountingBodyOf(text)
        )
    assert response.status_code == 200, response.text[:300]
    echo = response.json()
    assert hashlib.sha256(echo["body"].encode()).digest() == hashlib.sha256(text).digest()
    # The caller's own Content-Digest is dropped; the gateway's covers the body it forwarded.
    assert received_headers(echo, CONTENT_DIGEST) == [content_digest(text)]


class CountingBodyOf:
    def __init__(self, data: bytes, size: int = 64 * 1024) -> None:
        self.data = data
        self.size = size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.size):
            yield self.data[start : start + self.size]


async def test_unauthenticated_requests_are_limited_per_address_before_any_lookup(gateway: GatewayFactory) -> None:
    # One token per 1000 s after a burst of 3: nothing more within the test.
    async with gateway(unauthenticated_rate_limit_per_second=0.001, unauthenticated_rate_limit_burst=3) as client:
        issued = await issue_key(client, scopes=["registry:read"])
        good = bearer(issued["api_key"])
        assert (await client.get("/registry/v1/persons", headers=good)).status_code == 200
        statuses = [
            (await client.get("/registry/v1/persons", headers=headers)).status_code
            for headers in ({}, bearer("rk_not-a-key-1"), bearer("rk_not-a-key-2"))
        ]
        limited = [
            await client.get("/registry/v1/persons", headers=headers)
            for headers in ({}, bearer("rk_not-a-key-3"), bearer("rk_not-a-key-1"))
        ]
        # A key the gateway already knows keeps working from the same address.
        still = await client.get("/registry/v1/persons", headers=good)
    assert statuses == [401, 401, 401]
    for response in limited:
        assert response.status_code == 429, response.text
        assert response.headers["content-type"] == PROBLEM
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["type"].endswith(":rate-limited")
    assert still.status_code == 200


async def test_every_hop_gets_its_own_signed_request_id_and_the_caller_keeps_its_own(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        responses = [
            await client.post("/registry/v1/persons", headers={**ADMIN, "x-request-id": "retry-me"}, json={})
            for _ in range(2)
        ]
    forwarded = [r.json()["caller"]["request_id"] for r in responses]
    assert all(r.status_code == 200 for r in responses)
    assert forwarded[0] != forwarded[1]
    assert all(f.startswith("retry-me.") for f in forwarded)
    assert [r.headers["x-request-id"] for r in responses] == ["retry-me", "retry-me"]


async def test_the_gateway_api_has_a_body_limit_and_no_slash_redirects(gateway: GatewayFactory) -> None:
    async with gateway(max_request_body_bytes=1024) as client:
        large = await client.post(
            "/gateway/v1/clients",
            headers={**ADMIN, "Content-Type": "application/json"},
            content=CountingBody(chunks=100, size=100),
        )
        slash = await client.get("/gateway/v1/clients/", headers=ADMIN)
        fine = await client.get("/gateway/v1/clients", headers=ADMIN)
    assert large.status_code == 413 and large.headers["content-type"] == PROBLEM
    assert slash.status_code == 404 and slash.headers["content-type"] == PROBLEM
    assert "location" not in slash.headers
    assert fine.status_code == 200


async def test_dataset_pushes_in_flight_are_capped_and_the_slot_is_given_back(gateway: GatewayFactory) -> None:
    reading = asyncio.Event()
    release = asyncio.Event()

    async def held_open() -> AsyncIterator[bytes]:
        # Pulled by the gateway only once the push holds its slot.
        reading.set()
        yield b'{"records": '
        await release.wait()
        yield b"[]}"

    async with gateway(dataset_push_max_concurrent=1) as client:
        first = asyncio.create_task(client.post(PUSH, headers=ADMIN, content=held_open()))
        await reading.wait()
        second = await client.post(PUSH, headers=ADMIN, json={"records": []})
        other_route = await client.get("/registry/v1/persons", headers=ADMIN)
        release.set()
        completed = await first
        after = await client.post(PUSH, headers=ADMIN, json={"records": []})
    assert second.status_code == 503, second.text
    assert second.headers["content-type"] == PROBLEM and second.headers["retry-after"] == "1"
    assert other_route.status_code == 200
    assert completed.status_code == 200 and completed.json()["body"] == '{"records": []}'
    assert after.status_code == 200
