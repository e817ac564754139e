"""Monitoring against the four services as real processes, through the gateway: indicators move with
registrations, employments and trainings; 20 separations at one employer within 30 days raise one
blue warning, listed, published on `monitoring.warning.v1` and closed by an operator."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from datetime import timedelta
from typing import Any

import httpx
import pytest

from contracts.envelope import CloudEvent
from contracts.topics import MONITORING_WARNING
from services.kit.clock import SYSTEM_CLOCK
from tests.e2e.agencies import Agency, client
from tests.e2e.conftest import RunningSystem
from tests.registry.people import credit_code, id_number
from tests.support import eventually, read_topic_sync

pytestmark = pytest.mark.e2e


async def hire(desk: Agency, employer: str, started_on: str) -> tuple[str, str]:
    person = await desk.call(
        "POST",
        "/registry/v1/persons",
        {"id_number": id_number(), "name": "荣昌工人", "hukou_type": "urban", "town": "双河街道"},
    )
    assert person.status_code == 201, person.text
    person_id = person.json()["person_id"]
    job = await desk.call(
        "POST",
        f"/registry/v1/persons/{person_id}/employments",
        {
            "employer_credit_code": employer,
            "employer_name": "荣昌某电子有限公司",
            "started_on": started_on,
            "kind": "employee",
        },
    )
    assert job.status_code == 201, job.text
    return person_id, job.json()["employment_id"]


def promtool_check_metrics(page: str) -> subprocess.CompletedProcess[str]:
    """`promtool check metrics` on a /metrics page (lint: names, units, help texts); without promtool
    the test fails and says how to install it."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not on PATH: `make promtool` installs Debian's prometheus package", pytrace=False)
    return subprocess.run([binary, "check", "metrics"], input=page, capture_output=True, text=True, timeout=60)


def values(body: dict[str, Any]) -> dict[str, Any]:
    return {i["code"]: i["value"] for i in body["indicators"]}


async def test_indicators_move_and_twenty_separations_raise_one_blue_warning(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    desk = await client(http, system, "hrss", "registry:read", "registry:write")
    monitor = await client(http, system, "hrss", "monitoring:read")
    operator = await client(http, system, "hrss", "monitoring:write")
    today = SYSTEM_CLOCK.today()
    period = f"{today:%Y-%m}"
    town = "&town=%E5%8F%8C%E6%B2%B3%E8%A1%97%E9%81%93"  # 双河街道

    async def indicators() -> dict[str, Any]:
        response = await monitor.call("GET", f"/registry/v1/indicators?period={period}{town}")
        assert response.status_code == 200, response.text
        return values(response.json())

    before = await indicators()
    employer = credit_code("MA3N4P5Q6")
    started = (today - timedelta(days=1)).isoformat()
    hires = [await hire(desk, employer, started) for _ in range(20)]
    trained = await desk.call(
        "POST",
        f"/registry/v1/persons/{hires[0][0]}/trainings",
        {"kind": "vocational", "completed_on": today.isoformat()},
    )
    assert trained.status_code == 201, trained.text
    registered = await desk.call(
        "POST",
        "/registry/v1/persons",
        {"id_number": id_number(), "name": "荣昌居民", "hukou_type": "urban", "town": "双河街道"},
    )
    unemployed = await desk.call(
        "POST",
        f"/registry/v1/persons/{registered.json()['person_id']}/unemployment-registrations",
        {"registered_on": today.isoformat()},
    )
    assert unemployed.status_code == 201, unemployed.text
    after = await indicators()
    assert after["new_urban_jobs"] == before["new_urban_jobs"] + 20
    assert after["trained"] == before["trained"] + 1
    assert after["registered_unemployed"] == before["registered_unemployed"] + 1

    for _, employment_id in hires:
        ended = await desk.call(
            "POST", f"/registry/v1/employments/{employment_id}/end", {"ended_on": today.isoformat(), "reason": "layoff"}
        )
        assert ended.status_code == 200, ended.text
    listed = await monitor.call("GET", "/registry/v1/warnings?status=open&level=blue&limit=500")
    mine = [w for w in listed.json()["items"] if w["employer_credit_code"] == employer]
    assert [(w["level"], w["separations_30d"]) for w in mine] == [("blue", 20)]
    warning_id = mine[0]["warning_id"]

    closed = await operator.call("POST", f"/registry/v1/warnings/{warning_id}/close", {"note": "已约谈企业"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text

    async def events() -> list[CloudEvent]:
        records = await asyncio.to_thread(read_topic_sync, system.config.bootstrap, MONITORING_WARNING)
        found = (CloudEvent.from_bytes(r.value) for r in records if r.event_id is not None)
        return [e for e in found if e.data.get("warning_id") == warning_id]

    async def both() -> bool:
        return len(await events()) >= 2

    await eventually(both, within=30)
    assert sorted(e.type for e in await events()) == ["monitoring.warning.closed", "monitoring.warning.raised"]


@pytest.mark.parametrize("service", ["gateway", "registry", "subsidy", "sharing"])
async def test_every_metrics_page_passes_promtool_check_metrics(
    system: RunningSystem, http: httpx.AsyncClient, service: str
) -> None:
    port = getattr(system.config, f"{service}_port")
    page = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert page.status_code == 200 and "# HELP" in page.text
    result = promtool_check_metrics(page.text)
    assert result.returncode == 0, f"{service}: {result.stdout}{result.stderr}"


# A route of each service's own, read through the gateway: (path, the route its access line names).
OWN_ROUTES = {
    "gateway": ("/subsidy/v1/programmes", "/subsidy/v1/{path}"),
    "registry": ("/registry/v1/households?limit=1", "/registry/v1/households"),
    "subsidy": ("/subsidy/v1/programmes", "/subsidy/v1/programmes"),
    "sharing": ("/sharing/v1/agreements", "/sharing/v1/agreements"),
}


@pytest.mark.parametrize("service", ["gateway", "registry", "subsidy", "sharing"])
async def test_every_log_line_is_json_without_colour_and_requests_are_logged_by_route(
    system: RunningSystem, http: httpx.AsyncClient, service: str
) -> None:
    desk = await client(http, system, "hrss", "registry:read", "subsidy:read", "sharing:read")
    number = id_number()
    looked_up = await desk.call("GET", f"/registry/v1/persons?id_number={number}")
    assert looked_up.status_code == 200
    # A request to the service's own routes too: the test does not lean on what other tests left
    # in its log (run alone, subsidy's and sharing's logs held no request line).
    own_path, own_route = OWN_ROUTES[service]
    own = await desk.call("GET", own_path)
    assert own.status_code == 200, own.text
    path = system.config.log_dir / f"{service}.log"
    waited = [own.headers["x-request-id"]]
    if service in ("gateway", "registry"):
        waited.append(looked_up.headers["x-request-id"])

    # A line is written once the response has gone out: it may land a moment after the answer.
    async def logged() -> bool:
        text = path.read_text(encoding="utf-8")
        return all(request_id in text for request_id in waited)

    await eventually(logged, within=10)
    log = path.read_text(encoding="utf-8")
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines and "\x1b[" not in log and "\\u001b" not in log, "no colour codes, not even escaped"
    entries = [json.loads(line) for line in lines]  # every line, uvicorn's first ones included
    assert all({"time", "level", "service", "message"} <= entry.keys() for entry in entries)
    assert any(entry["logger"].startswith("uvicorn") for entry in entries), "uvicorn's own lines are JSON too"
    requests = [entry for entry in entries if entry["logger"] == "services.kit.access"]
    assert requests and all({"method", "route", "status", "duration_ms", "request_id"} <= r.keys() for r in requests)
    assert number not in log and number[6:14] not in log, "never a query string with an id number"
    [line] = [r for r in requests if r["request_id"] == own.headers["x-request-id"]]
    assert (line["method"], line["route"], line["status"]) == ("GET", own_route, 200)
    if service in ("gateway", "registry"):
        [mine] = [r for r in requests if r["request_id"] == looked_up.headers["x-request-id"]]
        assert mine["route"] in ("/registry/v1/persons", "/registry/v1/{path}") and mine["status"] == 200
        assert mine["client_id"] and mine["agency"] == "hrss"
