"""The kit's HTTP runtime on a real service app: idempotency keys (SPEC 3), request ids, the gateway
signature, metrics by route template, health and readiness. Real PostgreSQL and broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from fastapi import APIRouter
from pydantic import BaseModel

from services.kit.app import ServiceDefinition, create_service_app
from services.kit.db import SessionDep
from services.kit.errors import Conflict
from services.kit.identity import signed_headers
from services.kit.kafka import broker_reachable
from services.kit.settings import DEV_INTERNAL_SECRET, ServiceSettings
from tests.support import PostgresDatabases, ServiceClient, free_port, gateway_headers, running

pytestmark = pytest.mark.integration


class Order(BaseModel):
    item: str


class Gate:
    """Lets a test hold a request inside its handler."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0


gate = Gate()
router = APIRouter(prefix="/orders/v1")


class ItemConflict(Conflict):
    slug, title = "item-conflict", "Item conflict"


@router.post("/orders", status_code=201)
async def place(order: Order, session: SessionDep) -> dict[str, object]:
    gate.calls += 1
    if order.item == "slow":
        gate.entered.set()
        await gate.release.wait()
    if order.item == "conflict":
        raise ItemConflict("this item conflicts", item=order.item)
    if order.item == "boom":
        raise RuntimeError("handler failed")
    return {"order_id": str(uuid.uuid4()), "item": order.item, "call": gate.calls}


@router.get("/orders/{order_id}")
async def read(order_id: uuid.UUID) -> dict[str, str]:
    return {"order_id": str(order_id)}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(kafka_bootstrap: str, databases: PostgresDatabases) -> AsyncIterator[ServiceClient]:
    url = await databases.migrated("registry")  # any service schema carries the kit's tables
    settings = ServiceSettings(database_url=url, kafka_bootstrap_servers=kafka_bootstrap)
    app = create_service_app(
        ServiceDefinition(name="orders", title="Orders", description="", routers=[router]), settings
    )
    async with running(app) as client:
        yield client


async def test_a_repeat_with_the_same_key_and_body_replays_the_first_response(service: ServiceClient) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await service.post("/orders/v1/orders", json={"item": "tea"}, headers=key)
    again = await service.post("/orders/v1/orders", json={"item": "tea"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


async def test_the_same_key_with_another_body_is_422(service: ServiceClient) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    await service.post("/orders/v1/orders", json={"item": "tea"}, headers=key)
    calls = gate.calls
    changed = await service.post("/orders/v1/orders", json={"item": "coffee"}, headers=key)
    assert changed.status_code == 422
    assert changed.json()["type"].endswith("idempotency-key-reused")
    assert gate.calls == calls


async def test_a_repeat_while_the_first_is_in_flight_is_409(service: ServiceClient) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    gate.entered.clear()
    gate.release.clear()
    first = asyncio.create_task(service.post("/orders/v1/orders", json={"item": "slow"}, headers=key))
    await asyncio.wait_for(gate.entered.wait(), 10)
    during = await service.post("/orders/v1/orders", json={"item": "slow"}, headers=key)
    assert during.status_code == 409 and during.headers["retry-after"] == "1"
    assert during.json()["type"].endswith("idempotency-key-in-flight")
    gate.release.set()
    assert (await first).status_code == 201
    after = await service.post("/orders/v1/orders", json={"item": "slow"}, headers=key)
    assert after.json() == (await first).json()


async def test_keys_belong_to_one_client(service: ServiceClient) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    mine = await service.post("/orders/v1/orders", json={"item": "tea"}, headers=key, client_id="a")
    theirs = await service.post("/orders/v1/orders", json={"item": "tea"}, headers=key, client_id="b")
    assert mine.json()["order_id"] != theirs.json()["order_id"]


async def test_a_domain_error_is_replayed_but_a_crash_frees_the_key(service: ServiceClient) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    conflict = await service.post("/orders/v1/orders", json={"item": "conflict"}, headers=key)
    assert conflict.status_code == 409 and conflict.headers["content-type"] == "application/problem+json"
    assert conflict.json()["item"] == "conflict"
    replay = await service.post("/orders/v1/orders", json={"item": "conflict"}, headers=key)
    assert replay.json() == conflict.json()

    crash_key = {"Idempotency-Key": uuid.uuid4().hex}
    failed = await service.post("/orders/v1/orders", json={"item": "boom"}, headers=crash_key)
    assert failed.status_code == 500 and failed.json()["type"].endswith("internal")
    calls = gate.calls
    retried = await service.post("/orders/v1/orders", json={"item": "boom"}, headers=crash_key)
    assert retried.status_code == 500 and gate.calls == calls + 1  # ran again: the key was released


async def test_an_unsigned_or_forged_request_is_refused(service: ServiceClient) -> None:
    unsigned = await service.http.post("/orders/v1/orders", json={"item": "tea"})
    assert unsigned.status_code == 401
    forged = gateway_headers("POST", "/orders/v1/orders", scopes=["admin"], secret="not-the-secret")
    assert (await service.http.post("/orders/v1/orders", json={"item": "tea"}, headers=forged)).status_code == 401
    other_path = gateway_headers("POST", "/orders/v1/other", scopes=["admin"])
    assert (await service.http.post("/orders/v1/orders", json={"item": "tea"}, headers=other_path)).status_code == 401


async def test_request_ids_are_kept_and_metrics_use_route_templates(service: ServiceClient) -> None:
    order_id = uuid.uuid4()
    signed = signed_headers(
        DEV_INTERNAL_SECRET.encode(),
        method="GET",
        path=f"/orders/v1/orders/{order_id}",
        client_id="c",
        agency="hrss",
        scopes=["admin"],
        request_id="req-from-gateway-1",
    )
    response = await service.http.get(f"/orders/v1/orders/{order_id}", headers=signed)
    assert response.headers["x-request-id"] == "req-from-gateway-1"
    metrics = (await service.http.get("/metrics")).text
    assert 'route="/orders/v1/orders/{order_id}"' in metrics
    assert str(order_id) not in metrics
    assert "http_request_duration_seconds_bucket" in metrics and "outbox_backlog" in metrics


async def test_health_and_readiness(service: ServiceClient) -> None:
    assert (await service.http.get("/healthz")).json() == {"status": "ok"}
    ready = await service.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    assert not await broker_reachable(f"127.0.0.1:{free_port()}")


async def test_a_signature_covers_the_query_string(service: ServiceClient) -> None:
    path = f"/orders/v1/orders/{uuid.uuid4()}"
    signed = gateway_headers("GET", path, query="limit=1", scopes=["admin"])
    assert (await service.http.get(f"{path}?limit=1", headers=signed)).status_code == 200
    assert (await service.http.get(f"{path}?limit=500", headers=signed)).status_code == 401
