"""SPEC 2.3: an application is judged on everything the registry had accepted before it. An agency
system records an employment and its contributions and applies at once, with no pause, through
the gateway: 200 times the first decision is `eligible` with 12 months, and 200 times `ineligible`
naming `insured_12_months` with 11; never `unknown-employment`, never a decision on stale facts."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import httpx
import pytest

from contracts.envelope import CloudEvent
from contracts.subsidy import APPLICATION_EVALUATED
from contracts.topics import SUBSIDY_APPLICATION
from tests.e2e.agencies import Agency, client
from tests.e2e.conftest import RunningSystem
from tests.registry.people import id_number
from tests.subsidy.scenario import credit_code
from tests.support import eventually, read_topic

pytestmark = pytest.mark.e2e
# Its hundreds of people would slow the other end-to-end tests that read every event (conftest.py).
RUN_LAST = True

CASES = 200
# Cases run in lanes side by side, each lane one case after another with no pause.
LANES = 4


def months(count: int) -> list[str]:
    return [f"2024-{m:02d}" for m in (11, 12)] + [f"2025-{m:02d}" for m in range(1, count - 1)]


async def key_group_people(desk: Agency, civil: Agency, count: int) -> list[str]:
    """`count` registered unemployed members of dibao families, their category in the registry."""
    numbers = [id_number(date(1975 + i % 20, 1 + i % 12, 1 + i % 28), female=i % 2 == 0) for i in range(count)]
    semaphore = asyncio.Semaphore(8)

    async def register(number: str) -> str:
        async with semaphore:
            person = await desk.call(
                "POST", "/registry/v1/persons", {"id_number": number, "name": "何敏", "hukou_type": "urban"}
            )
            assert person.status_code == 201, person.text
            person_id: str = person.json()["person_id"]
            registered = await desk.call(
                "POST", f"/registry/v1/persons/{person_id}/unemployment-registrations", {"registered_on": "2024-10-08"}
            )
            assert registered.status_code == 201, registered.text
            return person_id

    people = list(await asyncio.gather(*(register(n) for n in numbers)))
    pushed = await civil.call(
        "POST",
        "/sharing/v1/agencies/civil_affairs/datasets/dibao/records",
        {"records": [{"id_number": n, "since": "2023-05-01"} for n in numbers]},
    )
    assert pushed.status_code == 201 and pushed.json()["accepted"] == count, pushed.text

    async def categorised() -> bool:
        async with semaphore:
            for person_id in people:
                found = (await desk.call("GET", f"/registry/v1/persons/{person_id}")).json()
                if "low_income_family" not in {c["category"] for c in found["difficulty_categories"]}:
                    return False
        return True

    await eventually(categorised, within=120, interval=1.0)
    return people


async def hire_and_apply(desk: Agency, person_id: str, insured_months: int) -> dict[str, Any]:
    """Record the employment and its contributions, then apply at once; the first decision."""
    employer = credit_code()
    employment = await desk.call(
        "POST",
        f"/registry/v1/persons/{person_id}/employments",
        {
            "employer_credit_code": employer,
            "employer_name": "荣昌安陶厂",
            "started_on": "2024-11-01",
            "kind": "employee",
        },
    )
    assert employment.status_code == 201, employment.text
    employment_id = employment.json()["employment_id"]
    paid = await desk.call(
        "POST",
        f"/registry/v1/employments/{employment_id}/contributions",
        {"months": months(insured_months), "insurances": ["pension", "medical", "unemployment"]},
    )
    assert paid.status_code == 200, paid.text
    applied = await desk.call(
        "POST",
        "/subsidy/v1/applications",
        {
            "programme": "hiring_key_groups",
            "beneficiary_person_id": person_id,
            "applicant": {"kind": "employer", "credit_code": employer},
            "employment_id": employment_id,
        },
    )
    assert applied.status_code == 201, applied.text
    application: dict[str, Any] = applied.json()
    return application


async def first_decisions(desk: Agency, people: list[str], insured_months: int) -> list[dict[str, Any]]:
    lanes = [people[i::LANES] for i in range(LANES)]

    async def lane(members: list[str]) -> list[dict[str, Any]]:
        return [await hire_and_apply(desk, person_id, insured_months) for person_id in members]

    return [a for decided in await asyncio.gather(*(lane(m) for m in lanes)) for a in decided]


@pytest.mark.parametrize(("insured_months", "status"), [(12, "eligible"), (11, "ineligible")])
async def test_applying_right_after_the_registry_writes_is_judged_on_them(
    system: RunningSystem, http: httpx.AsyncClient, insured_months: int, status: str
) -> None:
    desk = await client(http, system, "hrss", "registry:read", "registry:write", "subsidy:apply", "subsidy:read")
    civil = await client(http, system, "civil_affairs", "sharing:submit")
    people = await key_group_people(desk, civil, CASES)

    answers = await first_decisions(desk, people, insured_months)

    # Most are judged in the request; one answered `submitted` (the projections had not caught up
    # within SUBSIDY_SUBMISSION_WAIT_S) is judged in the background: its first decision is its
    # first evaluated event, whatever it became after.
    waiting = {a["application_id"] for a in answers if a["status"] == "submitted"}
    first = await first_evaluations(system.config.bootstrap, waiting)
    decisions = [first[a["application_id"]] if a["application_id"] in waiting else a for a in answers]
    print(f"\n{CASES} applications right after the writes: {CASES - len(waiting)} judged in the request")
    assert len(decisions) == CASES
    assert [a["status"] for a in decisions] == [status] * CASES, [
        (a["status"], a["failed_rules"]) for a in decisions if a["status"] != status
    ]
    expected_failures = [] if status == "eligible" else ["insured_12_months"]
    assert all(a["failed_rules"] == expected_failures for a in decisions)
    if status == "ineligible":
        judged_here = [a for a in decisions if "detail" in a["checks"][0]]  # events carry no evidence
        assert all(
            "11 months paid in this employment"
            in next(c["detail"] for c in a["checks"] if c["rule"] == "insured_12_months")
            for a in judged_here
        )


async def first_evaluations(bootstrap: str, application_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The first evaluated state of each application, from subsidy.application.v1."""
    if not application_ids:
        return {}
    first: dict[str, dict[str, Any]] = {}

    async def all_judged() -> bool:
        first.clear()
        for record in await read_topic(bootstrap, SUBSIDY_APPLICATION):
            event = CloudEvent.from_bytes(record.value)
            application_id = event.data.get("application_id")
            if application_id in application_ids and event.type == APPLICATION_EVALUATED:
                first.setdefault(application_id, event.data)
        return set(first) == application_ids

    await eventually(all_judged, within=60, interval=1.0)
    return first
