"""Each hiring_key_groups rule, failing on facts that arrived as registry events, makes the
application ineligible with that check failed and its evidence; nothing is reserved or paid."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

import pytest

from contracts.registry import UnemploymentRegistrationState
from contracts.vocabulary import EmploymentKind
from tests.subsidy.scenario import (
    Harness,
    Hire,
    category,
    changed,
    credit_code,
    eligible_hire,
    months,
    problem,
)

pytestmark = pytest.mark.integration


def not_registered_when_hired() -> Hire:
    late = UnemploymentRegistrationState(registration_id=uuid.uuid4(), registered_on=date(2018, 5, 1))
    return eligible_hire(unemployment_registrations=[late])


def in_no_key_group() -> Hire:
    return eligible_hire(difficulty_categories=[category("veteran"), category("recent_graduate")])


def employed_six_months() -> Hire:
    return changed(eligible_hire(), ended_on=date(2018, 9, 30), contribution_months=months("2018-04", 6))


def insured_eleven_months() -> Hire:
    return changed(eligible_hire(), contribution_months=months("2018-04", 11))


def deceased() -> Hire:
    return eligible_hire(deceased_on=date(2019, 5, 1))


def self_employed() -> Hire:
    return changed(eligible_hire(), kind=EmploymentKind.self_employed)


def someone_elses_employment() -> Hire:
    return changed(eligible_hire(), person_id=uuid.uuid4())


CASES: dict[str, tuple[Callable[[], Hire], set[str], str]] = {
    "registered_unemployed_when_hired": (
        not_registered_when_hired,
        {"registered_unemployed_when_hired"},
        "no unemployment registration open on the hiring date 2018-04-01",
    ),
    "key_group": (in_no_key_group, {"key_group"}, "in none of the five key groups"),
    # Six months' employment also means only six insured months.
    "employed_12_months": (
        employed_six_months,
        {"employed_12_months", "insured_12_months"},
        "ended 2018-09-30: 6 full months",
    ),
    "insured_12_months": (insured_eleven_months, {"insured_12_months"}, "11 months paid in this employment"),
    "alive": (deceased, {"alive"}, "reported deceased on 2019-05-01"),
    "hired_as_employee": (self_employed, {"hired_as_employee"}, "employment kind is self_employed, not employee"),
    "employment_of_beneficiary": (someone_elses_employment, {"employment_of_beneficiary"}, "not to the beneficiary"),
}


@pytest.mark.parametrize("rule", sorted(CASES))
async def test_a_failing_rule_makes_the_application_ineligible(subsidy: Harness, rule: str) -> None:
    make, failing, evidence = CASES[rule]
    hire = await subsidy.project(make())
    response = await subsidy.apply(hire)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "ineligible"
    assert {c["rule"] for c in body["checks"] if not c["passed"]} == failing
    assert evidence in next(c["detail"] for c in body["checks"] if c["rule"] == rule)
    assert body["payment"] is None
    assert await subsidy.payments_of(body["application_id"]) == []


async def test_an_employment_with_another_employer_is_not_the_applicants(subsidy: Harness) -> None:
    hire = await subsidy.project(eligible_hire())
    applicant = credit_code()
    response = await subsidy.apply(hire, applicant={"kind": "employer", "credit_code": applicant})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "ineligible"
    [check] = [c for c in body["checks"] if not c["passed"]]
    assert check["rule"] == "employment_with_applicant"
    assert f"with {hire.employer}" in check["detail"] and f"not with the applicant {applicant}" in check["detail"]
    # An ineligible application holds no grant, but stays open (judged again as facts change) until a
    # reviewer closes it; then the right employer may apply.
    problem(await subsidy.apply(hire), 409, "application-in-progress")
    closed = await subsidy.decide(body["application_id"], "reject", note="applied by the wrong employer")
    assert closed.status_code == 200 and closed.json()["status"] == "rejected", closed.text
    assert (await subsidy.apply(hire)).json()["status"] == "eligible"


async def test_an_application_waiting_for_its_facts_is_judged_before_it_is_decided(subsidy: Harness) -> None:
    """Neither approved nor rejected while `submitted`: 409 `not-judged-yet`, and nothing changes."""
    hire = eligible_hire()  # not projected: the application waits for the person and the employment
    application = (await subsidy.apply(hire)).json()
    assert application["status"] == "submitted"
    before = await subsidy.state()
    for decision in ("approve", "reject"):
        response = await subsidy.decide(application["application_id"], decision)
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"].endswith(":not-judged-yet")
        assert problem["application_status"] == "submitted"
        assert "judged first" in problem["detail"]
    assert await subsidy.state() == before
    assert (await subsidy.application(application["application_id"]))["status"] == "submitted"


async def test_an_ineligible_application_cannot_be_approved(subsidy: Harness) -> None:
    hire = await subsidy.project(deceased())
    application = (await subsidy.apply(hire)).json()
    before = await subsidy.state()
    response = await subsidy.decide(application["application_id"])
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(":not-eligible")
    assert await subsidy.state() == before
