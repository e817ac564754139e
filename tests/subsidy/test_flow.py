"""The plan's central flow: a key-group person, registered unemployed, hired and insured for a year,
earns the employer the one-time 6000 CNY hiring subsidy, paid exactly once."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from contracts.envelope import CloudEvent
from contracts.subsidy import (
    APPLICATION_DECIDED,
    APPLICATION_EVALUATED,
    APPLICATION_PAID,
    PAYMENT_INSTRUCTED,
    PAYMENT_SETTLED,
)
from contracts.topics import SUBSIDY_APPLICATION, SUBSIDY_PAYMENT
from tests.subsidy.scenario import API, GRANT_FEN, PROGRAMME, READER, SUBMITTER, Harness, eligible_hire
from tests.support import eventually

pytestmark = pytest.mark.integration

RULES = [
    "beneficiary_known",
    "employment_of_beneficiary",
    "employment_with_applicant",
    "hired_as_employee",
    "registered_unemployed_when_hired",
    "key_group",
    "employed_12_months",
    "insured_12_months",
    "never_paid_before",
    "alive",
]


async def published_for(bootstrap: str, subject: str, expected: int) -> dict[str, list[CloudEvent]]:
    """Read both subsidy topics from the start with a fresh consumer, keeping this subject's events."""
    consumer = AIOKafkaConsumer(
        SUBSIDY_APPLICATION, SUBSIDY_PAYMENT, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: dict[str, list[CloudEvent]] = defaultdict(list)
    try:

        async def all_arrived() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    event = CloudEvent.from_bytes(record.value or b"")
                    if event.subject == subject:
                        assert record.key == subject.encode()
                        found[record.topic].append(event)
            return sum(len(v) for v in found.values()) >= expected

        await eventually(all_arrived)
    finally:
        await consumer.stop()
    return found


async def test_programmes_list_all_five_with_their_amounts(subsidy: Harness) -> None:
    response = await subsidy.client.get(f"{API}/programmes", **READER)
    assert response.status_code == 200
    programmes = {p["code"]: p for p in response.json()["items"]}
    assert programmes[PROGRAMME] == {
        "code": PROGRAMME,
        "name": "一次性吸纳重点群体就业岗位补贴",
        "payee": "employer",
        "one_time": True,
        "open": True,
        "claim": ["employment_id"],
        "amounts": {"amount": "6000.00"},
        "amounts_fen": {"amount": 600000},
        "amount": "6000.00",
        "amount_fen": 600000,
    }
    assert set(programmes) == {
        "hiring_key_groups",
        "startup_one_time",
        "social_insurance",
        "skills_upgrade",
        "job_seeking",
    }
    assert all(p["open"] for p in programmes.values())
    # SPEC 2.3's defaults.
    assert programmes["startup_one_time"]["amount"] == "5000.00"
    assert programmes["job_seeking"]["amount"] == "1000.00"
    assert programmes["social_insurance"]["amount"] is None
    assert programmes["social_insurance"]["amounts"] == {
        "pension": "500.00",
        "medical": "200.00",
        "unemployment": "25.00",
        "work_injury": "10.00",
        "maternity": "10.00",
    }
    assert programmes["social_insurance"]["claim"] == ["employment_id", "months"]
    assert programmes["skills_upgrade"]["amounts_fen"] == {
        "elementary": 100_000,
        "intermediate": 150_000,
        "advanced": 200_000,
        "technician": 250_000,
        "senior_technician": 300_000,
    }


async def test_eligible_hire_is_approved_instructed_settled_and_paid_once(subsidy: Harness) -> None:
    await subsidy.give_budget_room(1)
    before = await subsidy.budget()
    hire = await subsidy.project(eligible_hire())

    applied = await subsidy.apply(hire)
    assert applied.status_code == 201, applied.text
    application = applied.json()
    assert applied.headers["location"] == f"{API}/applications/{application['application_id']}"
    assert application["status"] == "eligible"
    assert [c["rule"] for c in application["checks"]] == RULES
    assert all(c["passed"] for c in application["checks"])
    assert application["amount"] == "6000.00" and application["amount_fen"] == GRANT_FEN
    assert application["submitted_by"] == SUBMITTER["client_id"]
    assert application["evaluated_on"] == subsidy.clock.today().isoformat()
    key_group = next(c for c in application["checks"] if c["rule"] == "key_group")
    assert "low_income_family" in key_group["detail"] and "civil_affairs" in key_group["detail"]

    decided = await subsidy.decide(application["application_id"], note="documents verified")
    assert decided.status_code == 200, decided.text
    approved = decided.json()
    assert approved["status"] == "approved"
    assert approved["decided_by"] == "hrss-reviewer" and approved["decision_note"] == "documents verified"
    [payment] = await subsidy.payments_of(application["application_id"])
    assert approved["payment"] == {"payment_id": payment["payment_id"], "status": "instructed"}
    assert payment["status"] == "instructed"
    assert payment["payee"] == {"kind": "employer", "credit_code": hire.employer, "person_id": None}
    assert payment["amount"] == "6000.00" and payment["budget_year"] == subsidy.clock.today().year
    reserved = await subsidy.budget()
    assert reserved["reserved_fen"] == before["reserved_fen"] + GRANT_FEN
    assert reserved["available_fen"] == before["available_fen"] - GRANT_FEN == 0

    settled = await subsidy.settle(payment["payment_id"], outcome="settled", bank_reference="ICBC-2019-0001")
    assert settled.status_code == 200, settled.text
    assert settled.json()["status"] == "settled" and settled.json()["bank_reference"] == "ICBC-2019-0001"
    assert settled.json()["resolved_at"] is not None
    paid = await subsidy.application(application["application_id"])
    assert paid["status"] == "paid"
    assert paid["payment"]["status"] == "settled"
    spent = await subsidy.budget()
    assert spent["reserved_fen"] == before["reserved_fen"]
    assert spent["spent_fen"] == before["spent_fen"] + GRANT_FEN
    assert spent["spent"] == f"{spent['spent_fen'] // 100}.{spent['spent_fen'] % 100:02d}"

    events = await published_for(subsidy.bootstrap, hire.person_id, expected=5)
    applications = events[SUBSIDY_APPLICATION]
    assert [e.type for e in applications] == [APPLICATION_EVALUATED, APPLICATION_DECIDED, APPLICATION_PAID]
    assert [e.data["status"] for e in applications] == ["eligible", "approved", "paid"]
    assert all(e.source == "/subsidy" and e.data["amount_fen"] == GRANT_FEN for e in applications)
    # The outcome of every rule travels, its evidence (a person's categories and dates) does not.
    assert applications[0].data["checks"] == [{"rule": c["rule"], "passed": True} for c in application["checks"]]
    assert applications[0].data["failed_rules"] == []
    payments = events[SUBSIDY_PAYMENT]
    assert [e.type for e in payments] == [PAYMENT_INSTRUCTED, PAYMENT_SETTLED]
    assert [e.data["status"] for e in payments] == ["instructed", "settled"]
    assert payments[1].data["bank_reference"] == "ICBC-2019-0001"


async def test_applications_list_by_beneficiary_status_and_programme_page_by_page(subsidy: Harness) -> None:
    await subsidy.give_budget_room(1)
    hire = await subsidy.project(eligible_hire())
    first, _ = await subsidy.approved(hire)
    other = await subsidy.project(eligible_hire())
    second = (await subsidy.apply(other)).json()

    async def listing(query: str) -> list[Any]:
        response = await subsidy.client.get(f"{API}/applications?{query}", **READER)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    [only] = await listing(f"beneficiary_person_id={hire.person_id}")
    assert only["application_id"] == first["application_id"] and only["payment"]["status"] == "instructed"
    approved_ids = [a["application_id"] for a in await listing("status=approved&limit=500")]
    assert first["application_id"] in approved_ids and second["application_id"] not in approved_ids
    assert await listing("programme=startup_one_time") == []

    seen: list[str] = []
    cursor = None
    while True:
        query = "limit=1" + (f"&cursor={cursor}" if cursor else "")
        response = await subsidy.client.get(f"{API}/applications?{query}", **READER)
        page = response.json()
        seen.extend(a["application_id"] for a in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert {first["application_id"], second["application_id"]} <= set(seen)
