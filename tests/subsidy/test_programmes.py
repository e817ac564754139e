"""The programmes side by side on one service: each judged on its own facts, budgets per programme
and year never overspent when approvals of different programmes race, a business from sharing's
facts, and the metrics an operator watches."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import pytest

from contracts.facts import BusinessAttributes
from contracts.registry import EmploymentSnapshot, TrainingState
from contracts.sharing import Fact
from contracts.vocabulary import EmploymentKind
from services.kit.db import Database
from services.subsidy.metrics import refresh_gauges
from tests.subsidy.scenario import (
    ADMIN,
    API,
    READER,
    REVIEWER,
    SUBMITTER,
    Harness,
    category,
    credit_code,
    eligible_hire,
    months,
)

pytestmark = pytest.mark.integration

AMOUNTS = {"hiring_key_groups": 600_000, "job_seeking": 100_000, "social_insurance": 223_500, "skills_upgrade": 150_000}


async def eligible_application(subsidy: Harness, programme: str) -> dict[str, Any]:
    """Publish the facts that make a fresh person eligible for `programme`; apply."""
    year = subsidy.clock.today().year
    hire = eligible_hire(
        graduated_on=date(year, 7, 1),
        trainings=[
            TrainingState(
                training_id=uuid.uuid4(),
                kind="vocational",
                completed_on=date(year, 3, 1),
                certificate_level="intermediate",
            )
        ],
        difficulty_categories=[category("low_income_family")],
    )
    person = hire.person_id

    def employment(**changes: Any) -> EmploymentSnapshot:
        return EmploymentSnapshot.model_validate({**hire.employment.model_dump(), **changes})

    def paid(first: str, count: int, insurances: list[str]) -> list[dict[str, Any]]:
        return [{"month": m.month, "insurances": insurances} for m in months(first, count)]

    if programme == "social_insurance":
        five = ["pension", "medical", "unemployment", "work_injury", "maternity"]
        hire.employment = employment(kind="flexible", contribution_months=paid("2018-04", 3, five))
    if programme == "skills_upgrade":
        hire.employment = employment(
            started_on=date(2016, 1, 1), contribution_months=paid("2016-01", 36, ["unemployment"])
        )
    await subsidy.project(hire)
    body: dict[str, Any] = {
        "programme": programme,
        "beneficiary_person_id": person,
        "applicant": {"kind": "person", "person_id": person},
    }
    if programme == "hiring_key_groups":
        body = hire.application()
    elif programme == "social_insurance":
        body["employment_id"] = hire.employment_id
        body["months"] = ["2018-04", "2018-05", "2018-06"]
    elif programme == "skills_upgrade":
        body["training_id"] = str(hire.person.trainings[0].training_id)
    response = await subsidy.client.post(f"{API}/applications", json=body, **SUBMITTER)
    assert response.status_code == 201, response.text
    application: dict[str, Any] = response.json()
    assert application["status"] == "eligible", application["checks"]
    assert application["amount_fen"] == AMOUNTS[programme]
    return application


async def test_twenty_concurrent_approvals_across_programmes_never_overspend(subsidy: Harness) -> None:
    year = subsidy.clock.today().year
    room = 2  # grants that fit in each programme's budget; five applications each compete for them
    budgets_before = {}
    for programme, amount in AMOUNTS.items():
        current = (await subsidy.client.get(f"{API}/budgets?programme={programme}&year={year}", **READER)).json()[
            "items"
        ]
        committed = current[0]["reserved_fen"] + current[0]["spent_fen"] if current else 0
        put = await subsidy.client.put(
            f"{API}/budgets/{programme}/{year}", json={"amount_fen": committed + room * amount}, **ADMIN
        )
        assert put.status_code == 200, put.text
        budgets_before[programme] = put.json()
    applications = [await eligible_application(subsidy, programme) for programme in AMOUNTS for _ in range(5)]

    decisions = await asyncio.gather(
        *(
            subsidy.client.post(
                f"{API}/applications/{a['application_id']}/decision",
                json={"decision": "approve", "note": "ok"},
                client_id=f"reviewer-{n}",
                scopes=REVIEWER["scopes"],
            )
            for n, a in enumerate(applications)
        )
    )

    by_programme: dict[str, list[int]] = {}
    for application, decision in zip(applications, decisions, strict=True):
        by_programme.setdefault(application["programme"], []).append(decision.status_code)
        if decision.status_code == 409:
            assert decision.json()["type"].endswith(":budget-exhausted"), decision.text
    for programme, amount in AMOUNTS.items():
        assert sorted(by_programme[programme]) == [200] * room + [409] * 3, (programme, by_programme[programme])
        budget = (await subsidy.client.get(f"{API}/budgets?programme={programme}&year={year}", **READER)).json()[
            "items"
        ][0]
        before = budgets_before[programme]
        assert budget["reserved_fen"] == before["reserved_fen"] + room * amount
        assert budget["available_fen"] == 0 and budget["amount_fen"] == before["amount_fen"]


async def test_a_business_from_market_supervision_makes_its_founder_eligible(subsidy: Harness) -> None:
    """startup_one_time reads the business sharing published and the employments at its code; the
    open application is judged again when the business's facts change."""
    founder = eligible_hire()
    code = credit_code()
    own = EmploymentSnapshot(
        employment_id=uuid.uuid4(),
        person_id=founder.person.person_id,
        version=1,
        employer_credit_code=code,
        employer_name="荣昌夏布坊",
        kind="self_employed",
        started_on=date(2018, 5, 1),
        contribution_months=months("2018-05", 12),
    )
    await subsidy.publish_person(founder.person)
    await subsidy.publish_employment(own)
    for _ in range(3):
        await subsidy.publish_employment(
            own.model_copy(
                update={"employment_id": uuid.uuid4(), "person_id": uuid.uuid4(), "kind": EmploymentKind.employee}
            )
        )

    async def business(established_on: date) -> None:
        fact = Fact(
            fact_id=uuid.uuid4(),
            agency="market_supervision",
            dataset="business",
            batch_id=uuid.uuid4(),
            record_index=0,
            subject_ref=founder.person.subject_ref,
            key=code,
            attributes=BusinessAttributes(credit_code=code, name="荣昌夏布坊", established_on=established_on),
        )
        await subsidy.publish_fact(fact)

    # Established before the founder was registered unemployed (2018-03-01 .. 2018-04-01): not her group.
    await business(date(2017, 6, 1))
    await subsidy.wait_applied_all()
    body = {
        "programme": "startup_one_time",
        "beneficiary_person_id": founder.person_id,
        "applicant": {"kind": "person", "person_id": founder.person_id},
        "business_credit_code": code,
    }
    applied = (await subsidy.client.post(f"{API}/applications", json=body, **SUBMITTER)).json()
    assert applied["status"] == "ineligible" and applied["failed_rules"] == ["founder_group"], applied["checks"]

    # Market supervision corrects the date: registered unemployed that day, with a dibao family.
    await business(date(2018, 3, 15))
    await subsidy.wait_applied_all()
    current = (await subsidy.client.get(f"{API}/applications/{applied['application_id']}", **READER)).json()
    assert current["status"] == "eligible", current["checks"]
    assert current["amount"] == "5000.00" and current["payee"]["name"] == founder.person.name_masked


async def test_the_metrics_count_applications_amounts_budgets_and_decision_time(subsidy: Harness) -> None:
    await subsidy.give_budget_room(1)
    await subsidy.approved(await subsidy.project(eligible_hire()))
    # The gauges are counted on a timer; count them now.
    db = Database(subsidy.settings.database_url)
    try:
        await refresh_gauges(db, list(AMOUNTS), subsidy.clock.today())
    finally:
        await db.dispose()
    metrics = (await subsidy.client.http.get("/metrics")).text
    held = [line for line in metrics.splitlines() if line.startswith("subsidy_categories_held{")]
    assert any(line.startswith('subsidy_categories_held{category="low_income_family"}') for line in held)
    assert float(next(line for line in held if "low_income_family" in line).split()[-1]) >= 1
    assert not [line for line in held if "released_prisoner" in line or "drug_rehab" in line or "restricted" in line]
    assert 'subsidy_budget_cny{programme="hiring_key_groups"' in metrics
    assert 'subsidy_applications{programme="hiring_key_groups",status="approved"}' in metrics
    assert 'subsidy_applications{programme="job_seeking",status="paid"} 0.0' in metrics
    assert 'subsidy_approved_cny_total{programme="hiring_key_groups"}' in metrics
    assert 'subsidy_budget_available_cny{programme="hiring_key_groups"' in metrics
    assert 'subsidy_first_decision_seconds_count{programme="hiring_key_groups"}' in metrics
