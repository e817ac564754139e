"""Large-scale unemployment warnings (SPEC 2.5) through the running registry, against real PostgreSQL
and tansu: separations at one employer within 30 days cross a tier, a warning is raised once per tier
per episode (also when the separations come at once), listed, published and closed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from prometheus_client import REGISTRY as METRICS

from contracts.envelope import CloudEvent
from contracts.topics import MONITORING_WARNING
from services.registry.indicators.metrics import refresh
from tests.registry.conftest import registry_on
from tests.registry.people import credit_code, id_number
from tests.support import PostgresDatabases, ServiceClient, eventually, read_topic_sync

pytestmark = pytest.mark.integration

TODAY = date(2026, 12, 3)
WRITER = {"scopes": ["registry:write"]}
MONITOR = {"scopes": ["monitoring:read"]}
OPERATOR = {"scopes": ["monitoring:write"]}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def registry(kafka_bootstrap: str, databases: PostgresDatabases) -> AsyncIterator[tuple[ServiceClient, FastAPI]]:
    async with registry_on(TODAY, kafka_bootstrap, databases) as started:
        yield started


async def hire(client: ServiceClient, employer: str, name: str = "荣昌陶瓷有限公司") -> str:
    person = await client.post(
        "/registry/v1/persons", json={"id_number": id_number(), "name": "荣昌工人", "hukou_type": "urban"}
    )
    assert person.status_code == 201, person.text
    employment = await client.post(
        f"/registry/v1/persons/{person.json()['person_id']}/employments",
        json={"employer_credit_code": employer, "employer_name": name, "started_on": "2025-03-01", "kind": "employee"},
    )
    assert employment.status_code == 201, employment.text
    return str(employment.json()["employment_id"])


async def end(client: ServiceClient, employment_id: str, reason: str = "layoff", on: str = "2026-12-01") -> None:
    response = await client.post(
        f"/registry/v1/employments/{employment_id}/end", json={"ended_on": on, "reason": reason}, **WRITER
    )
    assert response.status_code == 200, response.text


async def warnings_of(client: ServiceClient, employer: str, query: str = "") -> list[dict[str, Any]]:
    response = await client.get(f"/registry/v1/warnings?limit=500{query}", **MONITOR)
    assert response.status_code == 200, response.text
    return [w for w in response.json()["items"] if w["employer_credit_code"] == employer]


async def test_twenty_separations_in_thirty_days_raise_one_blue_warning(
    registry: tuple[ServiceClient, FastAPI], kafka_bootstrap: str
) -> None:
    client, _ = registry
    employer = credit_code("MA1B2C3D4")
    jobs = [await hire(client, employer) for _ in range(24)]
    for job in jobs[:3]:
        await end(client, job, reason="retired")  # not separations (SPEC 2.1)
    await end(client, jobs[3], on="2026-10-20")  # outside the 30 days to 3 December
    for job in jobs[4:23]:
        await end(client, job)
    assert await warnings_of(client, employer) == [], "19 separations in the window"
    await end(client, jobs[23])
    [warning] = await warnings_of(client, employer)
    assert (warning["level"], warning["separations_30d"], warning["threshold"]) == ("blue", 20, 20)
    assert (warning["status"], warning["employer_name"], warning["as_of"]) == ("open", "荣昌陶瓷有限公司", "2026-12-03")
    another = await hire(client, employer)
    await end(client, another)
    assert len(await warnings_of(client, employer)) == 1, "21 is still blue: no second warning"

    async def published() -> list[CloudEvent]:
        records = await asyncio.to_thread(read_topic_sync, kafka_bootstrap, MONITORING_WARNING)
        return [
            e
            for e in (CloudEvent.from_bytes(r.value) for r in records if r.event_id is not None)
            if e.data.get("employer_credit_code") == employer
        ]

    async def arrived() -> bool:
        return len(await published()) >= 1

    await eventually(arrived, within=30)
    [event] = await published()
    assert event.type == "monitoring.warning.raised" and event.data["warning_id"] == warning["warning_id"]


async def test_separations_at_once_still_raise_the_tier_once(registry: tuple[ServiceClient, FastAPI]) -> None:
    client, _ = registry
    employer = credit_code("MA5E6F7G8")
    jobs = [await hire(client, employer, "荣昌夏布有限公司") for _ in range(26)]
    await asyncio.gather(*(end(client, job) for job in jobs))
    warnings = await warnings_of(client, employer)
    assert [(w["level"], w["separations_30d"]) for w in warnings] == [("blue", 20)]


async def test_a_warning_is_closed_by_an_operator_once(registry: tuple[ServiceClient, FastAPI]) -> None:
    client, _ = registry
    employer = credit_code("MA9H8J7K6")
    for job in [await hire(client, employer) for _ in range(20)]:
        await end(client, job, reason="dismissed")
    [warning] = await warnings_of(client, employer, "&status=open&level=blue")
    path = f"/registry/v1/warnings/{warning['warning_id']}/close"
    refused = await client.post(path, json={"note": "x"}, **MONITOR)
    assert refused.status_code == 403
    closed = await client.post(path, json={"note": "已约谈企业"}, **OPERATOR)
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["note"]) == ("closed", "已约谈企业")
    again = await client.post(path, json={"note": "again"}, **OPERATOR)
    assert again.json()["closed_at"] == closed.json()["closed_at"] and again.json()["note"] == "已约谈企业"
    assert await warnings_of(client, employer, "&status=open") == []
    missing = await client.post(f"/registry/v1/warnings/{uuid.uuid4()}/close", json={"note": "x"}, **OPERATOR)
    assert missing.status_code == 404 and missing.json()["type"].endswith(":warning-not-found")
    blank = await client.post(path, json={"note": ""}, **OPERATOR)
    assert blank.status_code == 422


async def test_open_warnings_are_a_gauge_by_level(registry: tuple[ServiceClient, FastAPI]) -> None:
    client, app = registry
    await refresh(app.state.db, app.state.settings, app.state.clock)
    listed = await client.get("/registry/v1/warnings?status=open&level=blue&limit=500", **MONITOR)
    open_blue = len(listed.json()["items"])
    assert METRICS.get_sample_value("registry_warnings_open", {"level": "blue"}) == open_blue >= 1
    assert METRICS.get_sample_value("registry_warnings_open", {"level": "red"}) == 0
