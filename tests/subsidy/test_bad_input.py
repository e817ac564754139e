"""Bad input at every step is answered with a precise problem+json and changes nothing."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from tests.subsidy.scenario import (
    ADMIN,
    API,
    PROGRAMME,
    READER,
    REVIEWER,
    SUBMITTER,
    TREASURY,
    Harness,
    eligible_hire,
    problem,
)

pytestmark = pytest.mark.integration

WRONG_CHECK_CHARACTER = "91500226MA5U7K3X2Y"  # the right check character is not Y
NOT_OURS = base64.urlsafe_b64encode(json.dumps({"page": 2}).encode()).decode()


@dataclass
class World:
    """An eligible application, an approved one with its instructed payment, and a settled payment."""

    ids: dict[str, str]

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            return value.format(**self.ids)
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(subsidy: Harness) -> AsyncIterator[World]:
    await subsidy.give_budget_room(2)
    eligible = await subsidy.project(eligible_hire())
    application = (await subsidy.apply(eligible)).json()
    fresh = await subsidy.project(eligible_hire())  # known to the projection, never applied for
    approved, payment = await subsidy.approved(await subsidy.project(eligible_hire()))
    _, settled = await subsidy.approved(await subsidy.project(eligible_hire()))
    await subsidy.settle(settled["payment_id"], outcome="settled", bank_reference="ICBC-1")
    yield World(
        {
            "person": eligible.person_id,
            "employment": eligible.employment_id,
            "employer": eligible.employer,
            "eligible": application["application_id"],
            "approved": approved["application_id"],
            "payment": payment["payment_id"],
            "settled": settled["payment_id"],
            "fresh": fresh.person_id,
            "nobody": str(uuid.uuid4()),
        }
    )


def application(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "programme": PROGRAMME,
        "beneficiary_person_id": "{person}",
        "applicant": {"kind": "employer", "credit_code": "{employer}"},
        "employment_id": "{employment}",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


APPLY = f"{API}/applications"
DECIDE = f"{API}/applications/{{approved}}/decision"
SETTLE = f"{API}/payments/{{payment}}/settlement"
BUDGET = f"{API}/budgets/{PROGRAMME}/2035"

# (method, path, body, caller, status, problem slug, words the detail or first error must hold)
CASES: dict[str, tuple[str, str, Any, dict[str, Any], int, str, str]] = {
    "apply: programme missing": (
        "POST", APPLY, application(programme=None), SUBMITTER, 422, "validation-error", "body.programme"
    ),
    "apply: beneficiary not a uuid": (
        "POST", APPLY, application(beneficiary_person_id="P-1"), SUBMITTER, 422, "validation-error",
        "body.beneficiary_person_id",
    ),
    "apply: unknown field": (
        "POST", APPLY, application(amount="9999.00"), SUBMITTER, 422, "validation-error", "body.amount"
    ),
    "apply: wrong credit-code check character": (
        "POST", APPLY, application(applicant={"kind": "employer", "credit_code": WRONG_CHECK_CHARACTER}), SUBMITTER,
        422, "validation-error", "check character",
    ),
    "apply: employer named by person_id": (
        "POST", APPLY, application(applicant={"kind": "employer", "person_id": "{person}"}), SUBMITTER, 422,
        "validation-error", "credit_code and no person_id",
    ),
    "apply: unknown programme": (
        "POST", APPLY, application(programme="free_money"), SUBMITTER, 422, "unknown-programme", "free_money"
    ),
    "apply: a claim of another programme": (
        "POST", APPLY, application(programme="startup_one_time", applicant={"kind": "person", "person_id": "{person}"}),
        SUBMITTER, 422, "invalid-claim", "body.business_credit_code",
    ),
    "apply: months claimed twice": (
        "POST", APPLY, application(programme="social_insurance", months=["2018-04", "2018-04"]), SUBMITTER, 422,
        "invalid-claim", "2018-04",
    ),
    "apply: a month that is no month": (
        "POST", APPLY, application(programme="social_insurance", months=["2018-13"]), SUBMITTER, 422,
        "validation-error", "body.months",
    ),
    "apply: someone else applying for a person's grant": (
        "POST", APPLY,
        application(programme="job_seeking", employment_id=None, applicant={"kind": "person", "person_id": "{nobody}"}),
        SUBMITTER, 422, "applicant-not-payee", "beneficiary",
    ),
    "apply: a person applying for the employer's subsidy": (
        "POST", APPLY, application(applicant={"kind": "person", "person_id": "{person}"}), SUBMITTER, 422,
        "applicant-not-payee", "pays the employer",
    ),
    "apply: no employment": (
        "POST", APPLY, application(employment_id=None), SUBMITTER, 422, "invalid-claim", "body.employment_id"
    ),
    "apply: without the apply scope": (
        "POST", APPLY, application(), READER, 403, "forbidden", "subsidy:apply"
    ),
    "apply: body not JSON": ("POST", APPLY, "not json", SUBMITTER, 422, "validation-error", "JSON"),
    "decide: unknown application": (
        "POST", f"{API}/applications/{{nobody}}/decision", {"decision": "approve"}, REVIEWER, 404,
        "application-not-found", "{nobody}",
    ),
    "decide: application id not a uuid": (
        "POST", f"{API}/applications/42/decision", {"decision": "approve"}, REVIEWER, 422, "validation-error",
        "path.application_id",
    ),
    "decide: unknown decision": (
        "POST", DECIDE, {"decision": "maybe"}, REVIEWER, 422, "validation-error", "body.decision"
    ),
    "decide: rejection without a note": (
        "POST", f"{API}/applications/{{eligible}}/decision", {"decision": "reject"}, REVIEWER, 422,
        "validation-error", "needs a note",
    ),
    "decide: already approved": (
        "POST", DECIDE, {"decision": "approve"}, REVIEWER, 409, "already-decided", "already approved"
    ),
    "decide: rejecting an approved application": (
        "POST", DECIDE, {"decision": "reject", "note": "no"}, REVIEWER, 409, "already-decided", "cannot be rejected"
    ),
    "settle: unknown payment": (
        "POST", f"{API}/payments/{{nobody}}/settlement", {"outcome": "settled", "bank_reference": "X"}, TREASURY,
        404, "payment-not-found", "{nobody}",
    ),
    "settle: unknown outcome": (
        "POST", SETTLE, {"outcome": "lost"}, TREASURY, 422, "validation-error", "body.outcome"
    ),
    "settle: settled without a bank reference": (
        "POST", SETTLE, {"outcome": "settled"}, TREASURY, 422, "validation-error", "bank_reference"
    ),
    "settle: failed without a reason": (
        "POST", SETTLE, {"outcome": "failed"}, TREASURY, 422, "validation-error", "needs a reason"
    ),
    "settle: a reason on a settled payment": (
        "POST", SETTLE, {"outcome": "settled", "bank_reference": "X", "reason": "why"}, TREASURY, 422,
        "validation-error", "reason is for a failed payment",
    ),
    "settle: without the settle scope": (
        "POST", SETTLE, {"outcome": "settled", "bank_reference": "X"}, REVIEWER, 403, "forbidden", "subsidy:settle"
    ),
    "settle: failing a settled payment": (
        "POST", f"{API}/payments/{{settled}}/settlement", {"outcome": "failed", "reason": "late"}, TREASURY, 409,
        "settlement-conflict", "already settled with bank reference ICBC-1",
    ),
    "budget: negative": ("PUT", BUDGET, {"amount": "-1.00"}, ADMIN, 422, "validation-error", "body.amount"),
    "budget: fractions of a fen": ("PUT", BUDGET, {"amount": "10.001"}, ADMIN, 422, "validation-error", "decimal"),
    "budget: both amounts": (
        "PUT", BUDGET, {"amount": "1.00", "amount_fen": 100}, ADMIN, 422, "validation-error", "exactly one"
    ),
    "budget: no amount": ("PUT", BUDGET, {}, ADMIN, 422, "validation-error", "exactly one"),
    "budget: unknown programme": (
        "PUT", f"{API}/budgets/free_money/2035", {"amount": "1.00"}, ADMIN, 404, "programme-not-found", "free_money"
    ),
    "budget: year out of range": (
        "PUT", f"{API}/budgets/{PROGRAMME}/1999", {"amount": "1.00"}, ADMIN, 422, "validation-error", "path.year"
    ),
    "budget: not an administrator": (
        "PUT", BUDGET, {"amount": "1.00"}, {**REVIEWER, "scopes": ["subsidy:review", "subsidy:read"]}, 403,
        "forbidden", "admin",
    ),
    "list: unknown programme": (
        "GET", f"{API}/budgets?programme=free_money", None, READER, 422, "validation-error", "query.programme"
    ),
    "list: unknown status": (
        "GET", f"{API}/applications?status=won", None, READER, 422, "validation-error", "query.status"
    ),
    "list: a cursor we did not issue": (
        "GET", f"{API}/applications?cursor=%%%", None, READER, 422, "invalid-cursor", "cursor"
    ),
    "list: a well-formed cursor of another list": (
        "GET", f"{API}/budgets?cursor={NOT_OURS}", None, READER, 422, "invalid-cursor", "cursor"
    ),
    "list: limit zero": ("GET", f"{API}/payments?limit=0", None, READER, 422, "validation-error", "query.limit"),
    "list: payment filter not a uuid": (
        "GET", f"{API}/payments?application_id=7", None, READER, 422, "validation-error", "query.application_id"
    ),
    "read: unknown application": (
        "GET", f"{API}/applications/{{nobody}}", None, READER, 404, "application-not-found",
        "{nobody}",
    ),
    "read: unknown payment": (
        "GET", f"{API}/payments/{{nobody}}", None, READER, 404, "payment-not-found", "{nobody}"
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_input_is_a_precise_problem_and_changes_nothing(subsidy: Harness, world: World, case: str) -> None:
    method, path, body, caller, status, slug, words = CASES[case]
    before = await subsidy.state()
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, str) else {"json": world.fill(body)}
    if body is not None:
        kwargs["headers"] = {"content-type": "application/json"}
    response = await subsidy.client.request(method, world.fill(path), **kwargs, **caller)
    found = problem(response, status, slug)
    explained = found["detail"] + json.dumps(found.get("errors", []), ensure_ascii=False)
    assert world.fill(words) in explained, found
    assert await subsidy.state() == before


async def test_a_request_that_did_not_come_through_the_gateway_is_refused(subsidy: Harness, world: World) -> None:
    before = await subsidy.state()
    response = await subsidy.client.http.post(APPLY, json=world.fill(application()))
    problem(response, 401, "unauthorized")
    assert await subsidy.state() == before


async def test_a_retried_application_with_the_same_idempotency_key_gets_the_first_answer(subsidy: Harness) -> None:
    hire = await subsidy.project(eligible_hire())
    key = {"Idempotency-Key": f"apply-{hire.person_id}"}
    first = await subsidy.client.post(APPLY, json=hire.application(), headers=key, **SUBMITTER)
    assert first.status_code == 201
    before = await subsidy.state()
    again = await subsidy.client.post(APPLY, json=hire.application(), headers=key, **SUBMITTER)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await subsidy.state() == before
    other = hire.application(applicant={"kind": "employer", "credit_code": WRONG_CHECK_CHARACTER[:-1] + "0"})
    problem(await subsidy.client.post(APPLY, json=other, headers=key, **SUBMITTER), 422, "idempotency-key-reused")
    assert await subsidy.state() == before
