"""W3C Trace Context end to end: a caller's `traceparent` on a dibao push through the gateway is the
trace of the fact sharing publishes and of the person snapshot the registry publishes when it applies
that fact (a `traceparent` header on each record, same trace id, a span of its own); the services'
access log lines name the trace. A malformed `traceparent` starts a new trace instead of failing."""

from __future__ import annotations

import json
import secrets

import httpx
import pytest

from contracts.topics import REGISTRY_PERSON, SHARING_FACT
from tests.e2e.agencies import client
from tests.e2e.conftest import RunningSystem
from tests.registry.people import id_number
from tests.support import eventually, read_topics

pytestmark = pytest.mark.e2e


def trace_id_of(traceparent: str) -> str:
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00" and len(trace_id) == 32 and len(span_id) == 16 and len(flags) == 2
    return trace_id


async def test_a_push_s_trace_reaches_the_fact_and_the_registry_s_snapshot(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    desk = await client(http, system, "hrss", "registry:read", "registry:write")
    civil = await client(http, system, "civil_affairs", "sharing:submit")
    number = id_number()
    created = await desk.call(
        "POST", "/registry/v1/persons", {"id_number": number, "name": "谢红", "hukou_type": "urban"}
    )
    assert created.status_code == 201, created.text
    person_id = created.json()["person_id"]

    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    pushed = await civil.call(
        "POST",
        "/sharing/v1/agencies/civil_affairs/datasets/dibao/records",
        {"records": [{"id_number": number, "since": "2024-06-01"}]},
        headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
    )
    assert pushed.status_code == 201 and pushed.json()["accepted"] == 1, pushed.text

    async def categorised() -> bool:
        person = await desk.call("GET", f"/registry/v1/persons/{person_id}")
        return "low_income_family" in person.text

    await eventually(categorised, within=30)
    records = await read_topics(system.config.bootstrap, [SHARING_FACT, REGISTRY_PERSON])
    facts = [r for r in records[SHARING_FACT] if trace_id in r.headers.get("traceparent", "")]
    snapshots = [
        r for r in records[REGISTRY_PERSON] if r.key == person_id and trace_id in r.headers.get("traceparent", "")
    ]
    assert len(facts) == 1, "the pushed record's fact carries the caller's trace"
    assert [json.loads(r.value)["type"] for r in snapshots] == ["registry.person.difficulty-changed"]
    spans = {trace_id_of(r.headers["traceparent"]) for r in (*facts, *snapshots)}
    assert spans == {trace_id}
    assert caller_span not in facts[0].headers["traceparent"], "the fact is a span of sharing's, not the caller's"
    # The registration before it was a trace of its own.
    registered = [r for r in records[REGISTRY_PERSON] if r.key == person_id and r is not snapshots[0]]
    assert registered and all(trace_id not in r.headers.get("traceparent", "") for r in registered)

    logged = [
        json.loads(line)
        for service in ("gateway", "sharing")
        for line in (system.config.log_dir / f"{service}.log").read_text(encoding="utf-8").splitlines()
        if trace_id in line
    ]
    requests = {(entry["service"], entry["route"]) for entry in logged if entry.get("message") == "request"}
    assert ("sharing", "/sharing/v1/agencies/{agency}/datasets/{dataset}/records") in requests, requests
    assert "gateway" in {service for service, _ in requests}, requests


async def test_a_malformed_traceparent_starts_a_new_trace(system: RunningSystem, http: httpx.AsyncClient) -> None:
    desk = await client(http, system, "hrss", "registry:read", "registry:write")
    response = await desk.call("GET", "/registry/v1/persons?limit=1", headers={"traceparent": "00-not-a-trace-01"})
    assert response.status_code == 200
