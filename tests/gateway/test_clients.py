"""Issuing, listing and revoking API clients through `/gateway/v1/clients`, on real PostgreSQL."""

from __future__ import annotations

import uuid

import httpx
import pytest
from pydantic import SecretStr

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from tests.gateway.conftest import GatewayFactory
from tests.gateway.helpers import ADMIN, ADMIN_KEY, bearer, issue_key
from tests.support import PostgresDatabases

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


async def test_issued_key_is_shown_once_and_carries_agency_and_scopes(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        response = await client.post(
            "/gateway/v1/clients",
            json={"name": "civil affairs dibao feed", "agency": "civil_affairs", "scopes": ["sharing:submit"]},
            headers=ADMIN,
        )
        assert response.status_code == 201
        issued = response.json()
        assert set(issued) >= {"client_id", "api_key", "name", "agency", "scopes", "created_at"}
        assert issued["name"] == "civil affairs dibao feed"
        assert issued["agency"] == "civil_affairs"
        assert issued["scopes"] == ["sharing:submit"]
        assert issued["api_key"].startswith("rk_") and len(issued["api_key"]) >= 40
        assert issued["api_key"].startswith(issued["key_prefix"])

        listed = await client.get("/gateway/v1/clients", params={"limit": 500}, headers=ADMIN)
        assert listed.status_code == 200
        [item] = [i for i in listed.json()["items"] if i["client_id"] == issued["client_id"]]
        assert "api_key" not in item and "key_hash" not in item
        assert issued["api_key"] not in listed.text
        assert item["revoked_at"] is None

        # The new key works at once, and the services see its identity.
        echoed = await client.get("/sharing/v1/agreements", headers=bearer(issued["api_key"]))
        assert echoed.status_code == 200
        assert echoed.json()["caller"] == {
            "client_id": issued["client_id"],
            "agency": "civil_affairs",
            "scopes": ["sharing:submit"],
            "request_id": echoed.headers["x-request-id"],
        }


async def test_duplicate_scopes_are_stored_once_and_sorted(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        issued = await issue_key(client, scopes=["subsidy:read", "registry:read", "subsidy:read"])
        assert issued["scopes"] == ["registry:read", "subsidy:read"]


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"name": "x", "agency": "tax_bureau", "scopes": ["registry:read"]}, "body.agency"),
        ({"name": "x", "agency": "hrss", "scopes": ["registry:delete"]}, "body.scopes.0"),
        ({"name": "x", "agency": "hrss", "scopes": []}, "body.scopes"),
        ({"name": "   ", "agency": "hrss", "scopes": ["registry:read"]}, "body.name"),
        ({"agency": "hrss", "scopes": ["registry:read"]}, "body.name"),
    ],
)
async def test_unknown_agency_or_scope_is_422_and_issues_nothing(
    gateway: GatewayFactory, body: dict[str, object], location: str
) -> None:
    async with gateway() as client:
        before = await client.get("/gateway/v1/clients", params={"limit": 500}, headers=ADMIN)
        response = await client.post("/gateway/v1/clients", json=body, headers=ADMIN)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["status"] == 422
        assert {"type", "title", "detail"} <= set(problem)
        assert location in [e["location"] for e in problem["errors"]]
        after = await client.get("/gateway/v1/clients", params={"limit": 500}, headers=ADMIN)
        assert after.json()["items"] == before.json()["items"]


async def test_list_pages_through_every_client_once(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        created = {(await issue_key(client, scopes=["registry:read"]))["client_id"] for _ in range(3)}
        seen: list[str] = []
        cursor = None
        for _ in range(50):
            params: dict[str, str | int] = {"limit": 1}
            if cursor:
                params["cursor"] = cursor
            page = await client.get("/gateway/v1/clients", params=params, headers=ADMIN)
            assert page.status_code == 200
            body = page.json()
            assert len(body["items"]) <= 1
            seen.extend(item["client_id"] for item in body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert cursor is None
        assert len(seen) == len(set(seen))
        assert created <= set(seen)


async def test_list_filters_by_agency(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        vet = await issue_key(client, scopes=["sharing:submit"], agency="disabled_federation")
        page = await client.get(
            "/gateway/v1/clients", params={"agency": "disabled_federation", "limit": 500}, headers=ADMIN
        )
        items = page.json()["items"]
        assert vet["client_id"] in [i["client_id"] for i in items]
        assert {i["agency"] for i in items} == {"disabled_federation"}


async def test_cursor_not_issued_by_the_gateway_is_422(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        response = await client.get("/gateway/v1/clients", params={"cursor": "not-a-cursor"}, headers=ADMIN)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"].endswith(":invalid-cursor")


async def test_revoked_key_is_refused_at_once(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        issued = await issue_key(client, scopes=["registry:read"])
        key = bearer(issued["api_key"])
        # Used once, so the gateway holds it in its key cache.
        assert (await client.get("/registry/v1/persons", headers=key)).status_code == 200

        revoked = await client.delete(f"/gateway/v1/clients/{issued['client_id']}", headers=ADMIN)
        assert revoked.status_code == 204

        refused = await client.get("/registry/v1/persons", headers=key)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == PROBLEM
        assert refused.headers["www-authenticate"].startswith("Bearer")

        active = await client.get("/gateway/v1/clients", params={"limit": 500}, headers=ADMIN)
        assert issued["client_id"] not in [i["client_id"] for i in active.json()["items"]]
        everything = await client.get(
            "/gateway/v1/clients", params={"limit": 500, "include_revoked": "true"}, headers=ADMIN
        )
        [item] = [i for i in everything.json()["items"] if i["client_id"] == issued["client_id"]]
        assert item["revoked_at"] is not None

        # Revoking again changes nothing.
        again = await client.delete(f"/gateway/v1/clients/{issued['client_id']}", headers=ADMIN)
        assert again.status_code == 204
        everything_again = await client.get(
            "/gateway/v1/clients", params={"limit": 500, "include_revoked": "true"}, headers=ADMIN
        )
        [item_again] = [i for i in everything_again.json()["items"] if i["client_id"] == issued["client_id"]]
        assert item_again["revoked_at"] == item["revoked_at"]


async def test_revocation_holds_for_a_gateway_started_afterwards(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        issued = await issue_key(client, scopes=["registry:read"])
        assert (await client.delete(f"/gateway/v1/clients/{issued['client_id']}", headers=ADMIN)).status_code == 204
    async with gateway() as client:
        response = await client.get("/registry/v1/persons", headers=bearer(issued["api_key"]))
        assert response.status_code == 401


@pytest.mark.parametrize("client_id", [str(uuid.UUID(int=1)), "not-a-uuid"])
async def test_revoking_an_unknown_client_is_404(gateway: GatewayFactory, client_id: str) -> None:
    async with gateway() as client:
        response = await client.delete(f"/gateway/v1/clients/{client_id}", headers=ADMIN)
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["status"] == 404
        assert response.json()["type"].endswith(":client-not-found")


async def test_bootstrap_admin_is_created_once_across_restarts(databases: PostgresDatabases, upstream_url: str) -> None:
    settings = GatewaySettings(
        database_url=await databases.migrated("gateway"),
        registry_url=upstream_url,
        bootstrap_admin_key=SecretStr(ADMIN_KEY),
        log_json=False,
    )
    for _ in range(2):
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
                listed = await client.get("/gateway/v1/clients", params={"include_revoked": "true"}, headers=ADMIN)
                assert listed.status_code == 200
                [admin] = listed.json()["items"]
                assert (admin["name"], admin["agency"], admin["scopes"]) == ("bootstrap-admin", "hrss", ["admin"])
                # Nothing of a key a person chose is shown.
                assert ADMIN_KEY[:6] not in listed.text


async def test_without_a_bootstrap_key_nobody_is_admin(databases: PostgresDatabases) -> None:
    url = await databases.migrated("gateway")
    app = create_app(GatewaySettings(database_url=url, bootstrap_admin_key=None, log_json=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            response = await client.get("/gateway/v1/clients", headers=ADMIN)
            assert response.status_code == 401
