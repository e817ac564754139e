"""Sharing outward against the four services as real processes, through the gateway: an agreement
made, a query answered with only the agreed fields and refused without one, both in the audit log,
which verifies and names one tampered byte; identity verification (match, no match, deceased, and
the gateway's tighter limit); statistics reports with no small cell and no recoverable one."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.envelope import CloudEvent
from contracts.topics import SHARING_STATISTICS_REPORT
from services.kit.clock import SYSTEM_CLOCK
from services.kit.identifiers import mask_id_number
from tests.e2e.agencies import Agency, client, problem
from tests.e2e.conftest import RunningSystem
from tests.registry.people import credit_code, id_number
from tests.support import eventually, execute, read_topic_sync

pytestmark = pytest.mark.e2e

AGREEMENTS = "/sharing/v1/agreements"
QUERIES = "/sharing/v1/queries"
AUDIT = "/sharing/v1/audit"


async def register(desk: Agency, number: str, name: str, town: str) -> str:
    response = await desk.call(
        "POST", "/registry/v1/persons", {"id_number": number, "name": name, "hukou_type": "urban", "town": town}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["person_id"])


async def all_audit(auditor: Agency, query: str = "") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        response = await auditor.call("GET", f"{AUDIT}?limit=500{query}{cursor}")
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        cursor = f"&cursor={page['next_cursor']}"


async def test_a_query_under_an_agreement_is_answered_refused_audited_and_the_chain_verifies(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    admin = Agency(http, system, system.admin_key)
    desk = await client(http, system, "hrss", "registry:read", "registry:write")
    civil = await client(http, system, "civil_affairs", "sharing:query")
    federation = await client(http, system, "disabled_federation", "sharing:query")
    auditor = await client(http, system, "hrss", "sharing:read")

    unemployed, employed, unknown = (id_number(date(1978, 3, 2), female=True), id_number(), id_number())
    alice = await register(desk, unemployed, "刘小梅", "昌元街道")
    registered = await desk.call(
        "POST", f"/registry/v1/persons/{alice}/unemployment-registrations", {"registered_on": "2026-10-08"}
    )
    assert registered.status_code == 201, registered.text
    bob = await register(desk, employed, "王建国", "昌元街道")
    hired = await desk.call(
        "POST",
        f"/registry/v1/persons/{bob}/employments",
        {
            "employer_credit_code": credit_code("MA7Q2W3E4"),
            "employer_name": "荣昌夏布有限公司",
            "started_on": "2026-11-02",
            "kind": "employee",
        },
    )
    assert hired.status_code == 201, hired.text

    made = await admin.call(
        "POST",
        AGREEMENTS,
        {
            "consumer_agency": "civil_affairs",
            "dataset": "hrss/employment_status",
            "fields": ["status", "employer_name"],
            "purpose": "低保复核 dibao review",
            "valid_from": "2026-01-01",
            "valid_until": "2027-12-31",
        },
    )
    assert made.status_code == 201, made.text
    agreement_id = made.json()["agreement_id"]
    listed = await auditor.call("GET", f"{AGREEMENTS}?direction=outward&consumer_agency=civil_affairs")
    assert agreement_id in [a["agreement_id"] for a in listed.json()["items"]]

    body = {"agreement_id": agreement_id, "id_numbers": [unemployed, employed, unknown]}
    answer: dict[str, Any] = {}

    async def both_known() -> bool:
        nonlocal answer
        response = await civil.call("POST", QUERIES, body)
        assert response.status_code == 200, response.text
        answer = response.json()
        employed_record = [r for r in answer["records"] if r["index"] == 1]
        return len(answer["records"]) == 2 and employed_record[0]["employer_name"] is not None

    # The registry's events reach sharing's projection through the broker.
    await eventually(both_known, within=30)
    assert answer["records"] == [
        {"index": 0, "id_number_masked": mask_id_number(unemployed), "status": "unemployed", "employer_name": None},
        {
            "index": 1,
            "id_number_masked": mask_id_number(employed),
            "status": "employed",
            "employer_name": "荣昌夏布有限公司",
        },
    ]
    assert answer["not_found"] == [{"index": 2, "id_number_masked": mask_id_number(unknown)}]

    refused = await federation.call("POST", QUERIES, body)
    assert problem(refused, 403)["type"].endswith(":not-agreed")

    queries = await all_audit(auditor, "&action=query")
    answered = [e for e in queries if e["agency"] == "civil_affairs" and e["outcome"] == "answered"]
    refusals = [e for e in queries if e["agency"] == "disabled_federation" and e["outcome"] == "refused"]
    assert answered and refusals
    assert answered[-1]["records"] == 2 and len(answered[-1]["subjects"]) == 2
    assert refusals[-1]["records"] == 0 and refusals[-1]["subjects"] == []
    assert unemployed not in str(queries) and employed not in str(queries)

    verified = await auditor.call("GET", f"{AUDIT}/verify")
    assert verified.status_code == 200 and verified.json()["valid"] is True, verified.text
    ours = await _auditors_script(system, auditor)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.startswith(f"{verified.json()['entries']} entries verified")

    # One byte of the refusal's entry flipped behind the database's back: the verification names it.
    url = system.config.database_urls["sharing"]
    seq = refusals[-1]["seq"]
    await execute(url, "ALTER TABLE sharing_audit_entry DISABLE TRIGGER USER")
    try:
        assert await execute(url, "UPDATE sharing_audit_entry SET records = 1 WHERE seq = $1", seq) == "UPDATE 1"
        tampered = (await auditor.call("GET", f"{AUDIT}/verify")).json()
        assert (tampered["valid"], tampered["first_bad_seq"]) == (False, seq)
        theirs = await _auditors_script(system, auditor)
        assert theirs.returncode != 0 and f"the chain breaks at entry {seq}" in theirs.stderr
    finally:
        await execute(url, "UPDATE sharing_audit_entry SET records = 0 WHERE seq = $1", seq)
        await execute(url, "ALTER TABLE sharing_audit_entry ENABLE TRIGGER USER")
    assert (await auditor.call("GET", f"{AUDIT}/verify")).json()["valid"] is True
    refusal = await _refused(url, "UPDATE sharing_audit_entry SET records = 0 WHERE seq = $1", seq)
    assert "append-only" in refusal


async def _auditors_script(system: RunningSystem, auditor: Agency) -> subprocess.CompletedProcess[str]:
    """The README's 20-line verification script, run as an auditor would: its own process, stdlib only."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    script = readme.split("```python\n# verify_audit.py", 1)[1].split("```", 1)[0]
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "# verify_audit.py" + script, system.gateway, auditor.key],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _refused(url: str, sql: str, *args: object) -> str:
    try:
        await execute(url, sql, *args)
    except Exception as exc:
        return str(exc)
    raise AssertionError("the database changed an audit row")


async def test_identity_verification_answers_match_no_match_and_deceased(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    police = await client(http, system, "public_security", "sharing:submit")
    counter = await client(http, system, "civil_affairs", "sharing:verify")
    alive, dead, nobody = id_number(date(1969, 9, 9), female=True), id_number(date(1950, 1, 1)), id_number()
    records = [
        {
            "id_number": alive,
            "name": "赵秀英",
            "hukou_type": "rural",
            "hukou_area_code": "500153",
            "household_no": "H9",
        },
        {
            "id_number": dead,
            "name": "钱国强",
            "hukou_type": "urban",
            "hukou_area_code": "500153",
            "household_no": "H8",
            "deceased_on": "2026-11-15",
        },
    ]
    pushed = await police.call(
        "POST", "/sharing/v1/agencies/public_security/datasets/identity/records", {"records": records}
    )
    assert pushed.status_code == 201 and pushed.json()["accepted"] == 2, pushed.text

    async def verify(number: str, name: str) -> dict[str, Any]:
        response = await counter.call("POST", "/sharing/v1/verifications/identity", {"id_number": number, "name": name})
        assert response.status_code == 200, response.text
        verdict: dict[str, Any] = response.json()
        return verdict

    assert await verify(alive, "赵秀英") == {"match": True, "deceased": False}
    assert await verify(alive, "赵秀") == {"match": False, "deceased": False}
    assert await verify(dead, "钱国强") == {"match": True, "deceased": True}
    assert await verify(nobody, "孙某") == {"match": False, "deceased": False}

    # The gateway allows a client 10 at once on this route, then about one a second.
    prober = await client(http, system, "civil_affairs", "sharing:verify")
    answers = await asyncio.gather(
        *(
            prober.call("POST", "/sharing/v1/verifications/identity", {"id_number": nobody, "name": f"孙{n}"})
            for n in range(15)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(429) >= 4 and set(statuses) == {200, 429}, statuses
    limited = next(a for a in answers if a.status_code == 429)
    assert problem(limited, 429) and int(limited.headers["retry-after"]) >= 1


def _assert_disclosure_controlled(report: dict[str, Any]) -> None:
    """No published cell below 5; with the district totals published, no column hides a single cell
    nor cells whose sum the total fixes at zero (the only ways a hidden one could be worked out)."""
    for row in [*report["rows"], {"town": "total", "cells": report["totals"]}]:
        for cell in row["cells"]:
            assert cell["suppressed"] == (cell["value"] is None)
            assert cell["value"] is None or cell["value"] >= 5, (row["town"], cell)
    for j, measure in enumerate(report["measures"]):
        column = [row["cells"][j] for row in report["rows"]]
        total = report["totals"][j]
        hidden = [c for c in column if c["suppressed"]]
        if hidden and not total["suppressed"]:
            rest = total["value"] - sum(c["value"] for c in column if not c["suppressed"])
            assert len(hidden) >= 2 and rest > 0, measure


async def test_statistics_reports_show_no_small_cell_and_no_recoverable_one(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    desk = await client(http, system, "hrss", "registry:read", "registry:write")
    statistics = await client(http, system, "statistics", "statistics:read")
    # Two new towns of 6 each: a small cell elsewhere (the other tests' one unemployed person of a town,
    # say) may need one of them hidden with it; the other still shows its count.
    towns = [f"清江镇{uuid.uuid4().hex[:4]}", f"仁义镇{uuid.uuid4().hex[:4]}"]
    for n in range(12):
        town = towns[n % 2]
        person_id = await register(desk, id_number(date(1980, 1, 1), female=n % 2 == 0), f"清江居民{n}", town)
        response = await desk.call(
            "POST", f"/registry/v1/persons/{person_id}/unemployment-registrations", {"registered_on": "2026-12-01"}
        )
        assert response.status_code == 201, response.text
    period = f"{SYSTEM_CLOCK.today():%Y-%m}"
    report: dict[str, Any] = {}

    async def counted() -> bool:
        nonlocal report
        response = await statistics.call("GET", f"/sharing/v1/statistics/reports?period={period}")
        assert response.status_code == 200, response.text
        report = response.json()
        rows = {row["town"]: {c["measure"]: c["value"] for c in row["cells"]} for row in report["rows"]}
        shown = [rows.get(town, {}).get("registered_unemployed", "absent") for town in towns]
        return 6 in shown and set(shown) <= {6, None}

    await eventually(counted, within=30)
    assert report["status"] == "draft"
    _assert_disclosure_controlled(report)

    # Last month closed before the system started: its report is final, and was published once.
    closed = (await statistics.call("GET", f"/sharing/v1/statistics/reports?period={_last_month()}")).json()
    assert closed["status"] == "final"
    _assert_disclosure_controlled(closed)
    records = await asyncio.to_thread(read_topic_sync, system.config.bootstrap, SHARING_STATISTICS_REPORT)
    published = [CloudEvent.from_bytes(r.value) for r in records if r.event_id is not None]
    assert [e.data["report_id"] for e in published if e.data.get("period") == closed["period"]].count(
        closed["report_id"]
    ) == 1


def _last_month() -> str:
    first = SYSTEM_CLOCK.today().replace(day=1)
    return f"{date.fromordinal(first.toordinal() - 1):%Y-%m}"
