"""The hop to a service, against a stand-in service running as a real uvicorn process that checks
the signed identity exactly as the real services do."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from services.kit.identity import SIGNATURE, TIMESTAMP
from tests.gateway.conftest import GatewayFactory
from tests.gateway.helpers import ADMIN, bearer, issue_key
from tests.support import free_port

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


def received_headers(echo: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echo["headers"] if key == name]


async def test_request_arrives_whole_and_signed_as_the_caller(gateway: GatewayFactory) -> None:
    body = json.dumps({"id_number": "11010519491231002X", "name": "张三"}, ensure_ascii=False).encode()
    async with gateway() as client:
        issued = await issue_key(client, scopes=["registry:write", "registry:read"], agency="hrss")
        response = await client.post(
            "/registry/v1/persons?town=%E5%8F%8C%E6%B2%B3&limit=5",
            content=body,
            headers={
                **bearer(issued["api_key"]),
                "Content-Type": "application/json",
                "Idempotency-Key": "person-1",
                "x-request-id": "req-from-caller-1",
                "Accept-Language": "zh-CN",
            },
        )
    assert response.status_code == 200
    echo = response.json()
    forwarded_id = echo["caller"]["request_id"]
    assert echo["caller"] == {
        "client_id": issued["client_id"],
        "agency": "hrss",
        "scopes": ["registry:read", "registry:write"],
        # The caller's id stays in front, searchable in the service's logs; the suffix makes the
        # signed id unique, as the service accepts each id once.
        "request_id": forwarded_id,
    }
    assert forwarded_id.startswith("req-from-caller-1.") and len(forwarded_id) > len("req-from-caller-1.")
    assert echo["method"] == "POST"
    assert echo["path"] == "/registry/v1/persons"
    assert echo["query"] == "town=%E5%8F%8C%E6%B2%B3&limit=5"
    assert echo["body"].encode() == body
    assert received_headers(echo, "idempotency-key") == ["person-1"]
    assert received_headers(echo, "content-type") == ["application/json"]
    assert received_headers(echo, "accept-language") == ["zh-CN"]
    assert received_headers(echo, "x-request-id") == [forwarded_id]
    # A service never sees an API key.
    assert received_headers(echo, "authorization") == []
    assert issued["api_key"] not in response.text
    # The request id is echoed to the caller once.
    assert response.headers.get_list("x-request-id") == ["req-from-caller-1"]


async def test_request_id_is_made_when_the_caller_sends_none(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        first = await client.get("/subsidy/v1/programmes", headers=ADMIN)
        second = await client.get("/subsidy/v1/programmes", headers=ADMIN)
    for response in (first, second):
        assert response.status_code == 200
        request_id = response.headers["x-request-id"]
        assert request_id
        assert response.json()["caller"]["request_id"] == request_id
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_forged_identity_headers_are_stripped(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        issued = await issue_key(client, scopes=["sharing:submit"], agency="civil_affairs")
        response = await client.post(
            "/sharing/v1/agencies/civil_affairs/datasets/dibao/records",
            json={"records": []},
            headers={
                **bearer(issued["api_key"]),
                "x-client-id": "someone-else",
                "x-client-agency": "public_security",
                "x-client-scopes": "admin registry:sensitive",
                "x-client-anything": "forged",
                "x-gateway-timestamp": "1",
                "x-gateway-signature": "0" * 64,
                "x-gateway-whatever": "forged",
            },
        )
    assert response.status_code == 200
    echo = response.json()
    assert echo["caller"]["client_id"] == issued["client_id"]
    assert echo["caller"]["agency"] == "civil_affairs"
    assert echo["caller"]["scopes"] == ["sharing:submit"]
    assert received_headers(echo, "x-client-id") == [issued["client_id"]]
    assert received_headers(echo, "x-client-agency") == ["civil_affairs"]
    assert received_headers(echo, "x-client-scopes") == ["sharing:submit"]
    assert received_headers(echo, "x-client-anything") == []
    assert received_headers(echo, "x-gateway-whatever") == []
    assert len(received_headers(echo, SIGNATURE)) == 1
    assert received_headers(echo, SIGNATURE) != ["0" * 64]
    assert received_headers(echo, TIMESTAMP) != ["1"]


async def test_the_stand_in_service_refuses_unsigned_requests(upstream_url: str) -> None:
    """What makes the tests above meaningful: without the gateway's signature the service says 401."""
    async with httpx.AsyncClient(base_url=upstream_url) as direct:
        unsigned = await direct.get("/registry/v1/persons", headers={"x-client-id": "me", "x-client-scopes": "admin"})
    assert unsigned.status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/registry/v1/households?zero_employment=true"),
        ("PUT", "/subsidy/v1/budgets/hiring_key_groups/2018"),
        ("DELETE", "/sharing/v1/agreements/7"),
        ("PATCH", "/registry/v1/persons/1"),
        ("GET", "/registry/v1"),
    ],
)
async def test_each_prefix_and_method_is_routed_and_signed(gateway: GatewayFactory, method: str, path: str) -> None:
    async with gateway() as client:
        response = await client.request(method, path, headers=ADMIN, content=b'{"amount": 1}')
    assert response.status_code == 200
    echo = response.json()
    assert echo["method"] == method
    assert f"{echo['path']}?{echo['query']}".rstrip("?") == path


async def test_percent_encoded_path_keeps_its_meaning_and_signature(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        response = await client.get("/registry/v1/persons/a%20b%2Fc", headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["path"] == "/registry/v1/persons/a b/c"


async def test_status_and_headers_of_the_service_reach_the_caller(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        response = await client.post("/registry/v1/created", headers=ADMIN, json={})
    assert response.status_code == 201
    assert response.json() == {"created": True}
    assert response.headers["location"] == "/registry/v1/persons/123"
    assert response.headers["x-upstream-note"] == "kept"
    assert response.headers["content-type"] == "application/json"


async def test_answer_of_the_service_passes_through_unchanged(gateway: GatewayFactory) -> None:
    # Signed under another secret than the service's, the request is refused by the service itself.
    async with gateway(internal_secret=SecretStr("not-the-services-secret")) as client:
        response = await client.get("/registry/v1/persons", headers=ADMIN)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert "through the gateway" in response.json()["detail"]


async def test_empty_answer_stays_empty(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        response = await client.delete("/sharing/v1/gone", headers=ADMIN)
    assert response.status_code == 204
    assert response.content == b""
    assert "transfer-encoding" not in response.headers


async def test_body_over_the_limit_is_413_before_any_hop(gateway: GatewayFactory) -> None:
    async with gateway(max_request_body_bytes=16) as client:
        response = await client.post("/registry/v1/persons", headers=ADMIN, content=b"x" * 17)
        within = await client.post("/registry/v1/persons", headers=ADMIN, content=b"x" * 16)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert within.status_code == 200


async def test_body_sent_in_chunks_arrives_whole(gateway: GatewayFactory) -> None:
    parts = [b"a" * 70_000, b"b" * 70_000, b"c" * 70_000]

    async def stream() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    async with gateway() as client:
        response = await client.post(
            "/sharing/v1/agencies/statistics/datasets/labour_force/records", headers=ADMIN, content=stream()
        )
    assert response.status_code == 200
    assert response.json()["body"].encode() == b"".join(parts)


@pytest.mark.parametrize("size", [10, 3 * 1024 * 1024])
async def test_unsized_and_large_responses_stream_through_whole(gateway: GatewayFactory, size: int) -> None:
    async with gateway() as client:
        response = await client.get(f"/registry/v1/stream?size={size}", headers=ADMIN)
    assert response.status_code == 200
    assert response.content == bytes(i % 251 for i in range(size))


async def test_unreachable_service_is_502(gateway: GatewayFactory) -> None:
    async with gateway(registry_url=f"http://127.0.0.1:{free_port()}") as client:
        response = await client.get("/registry/v1/persons", headers=ADMIN)
        other = await client.get("/subsidy/v1/programmes", headers=ADMIN)
    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 502
    assert "registry" in problem["detail"]
    assert response.headers["x-request-id"]
    # Only the unreachable service is affected.
    assert other.status_code == 200


async def test_service_that_does_not_answer_in_time_is_504(gateway: GatewayFactory) -> None:
    async with gateway(upstream_timeout_s=0.2) as client:
        response = await client.get("/subsidy/v1/slow", headers=ADMIN)
    assert response.status_code == 504
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 504


async def test_client_over_its_rate_is_429_with_retry_after(gateway: GatewayFactory) -> None:
    # A refill of one token per 1000 s: after the burst, nothing more within the test.
    async with gateway(rate_limit_per_second=0.001, rate_limit_burst=2) as client:
        issued = await issue_key(client, scopes=["registry:read"])
        other = await issue_key(client, scopes=["registry:read"])
        key = bearer(issued["api_key"])
        statuses = [(await client.get("/registry/v1/persons", headers=key)).status_code for _ in range(2)]
        limited = await client.get("/registry/v1/persons", headers=key)
        unaffected = await client.get("/registry/v1/persons", headers=bearer(other["api_key"]))
    assert statuses == [200, 200]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == PROBLEM
    assert limited.json()["status"] == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert unaffected.status_code == 200


async def test_a_request_id_that_cannot_be_signed_is_replaced_by_a_fresh_one(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        response = await client.get(
            "/registry/v1/persons",
            headers={**ADMIN, "x-request-id": "номер".encode()},
        )
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    assert request_id.isascii() and len(request_id) == 32
    assert response.json()["caller"]["request_id"] == request_id
