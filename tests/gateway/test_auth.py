"""Who may pass the gateway: 401 without a valid key, 403 without admin on /gateway/v1, open
operational routes, 404 for an unknown prefix."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import GatewayFactory
from tests.gateway.helpers import ADMIN, bearer, issue_key

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


@pytest.mark.parametrize("path", ["/registry/v1/persons", "/subsidy/v1/programmes", "/gateway/v1/clients"])
@pytest.mark.parametrize(
    ("authorization", "challenge_error"),
    [
        (None, None),
        ("Bearer", None),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer rk_this-key-was-never-issued", "invalid_token"),
    ],
)
async def test_missing_or_invalid_key_is_401_with_a_bearer_challenge(
    gateway: GatewayFactory, path: str, authorization: str | None, challenge_error: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with gateway() as client:
        response = await client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 401
    assert problem["type"].endswith(":unauthorized")
    assert problem["title"] and problem["detail"]
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    if challenge_error:
        assert f'error="{challenge_error}"' in challenge


async def test_caller_without_admin_is_403_on_the_gateway_api(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        issued = await issue_key(client, scopes=["registry:read", "registry:write"])
        key = bearer(issued["api_key"])
        listing = await client.get("/gateway/v1/clients", headers=key)
        issuing = await client.post(
            "/gateway/v1/clients", json={"name": "mine", "agency": "hrss", "scopes": ["admin"]}, headers=key
        )
        revoking = await client.delete(f"/gateway/v1/clients/{issued['client_id']}", headers=key)
        for response in (listing, issuing, revoking):
            assert response.status_code == 403
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["type"].endswith(":forbidden")
        # Nothing was issued or revoked.
        still = await client.get("/registry/v1/persons", headers=key)
        assert still.status_code == 200


async def test_admin_issued_admin_key_can_manage_clients(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        second_admin = await issue_key(client, scopes=["admin"])
        response = await client.get("/gateway/v1/clients", headers=bearer(second_admin["api_key"]))
        assert response.status_code == 200


async def test_unknown_prefix_is_404_problem(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        for path in ("/payroll/v1/items", "/registry/v2/persons", "/registryx/v1/persons", "/gateway/v1/nothing"):
            response = await client.get(path, headers=ADMIN)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["status"] == 404


async def test_operational_routes_need_no_key(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        await client.get("/registry/v1/persons", headers=ADMIN)
        metrics = await client.get("/metrics")
    assert health.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}
    assert metrics.status_code == 200
    # Proxied requests are labelled by prefix, never by raw path (other services' series, from
    # apps other tests ran in this process, are not the gateway's).
    gateway_lines = [line for line in metrics.text.splitlines() if 'service="gateway"' in line]
    assert any('route="/registry/v1/{path}"' in line for line in gateway_lines)
    assert not any('route="/registry/v1/persons"' in line for line in gateway_lines)


async def test_readyz_reports_an_unreachable_database(gateway: GatewayFactory) -> None:
    async with gateway(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none", bootstrap_admin_key=None) as c:
        response = await c.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unreachable")


async def test_key_lookup_without_a_database_is_503_not_a_crash(gateway: GatewayFactory) -> None:
    async with gateway(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none", bootstrap_admin_key=None) as c:
        response = await c.get("/registry/v1/persons", headers=ADMIN)
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 503
