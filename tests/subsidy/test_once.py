"""A one-time grant is paid at most once: a second application is refused while one is in
progress and found ineligible once one was paid; concurrent requests give one payment; and the
database itself refuses a second live application or payment."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.subsidy.tables import Application, Payment
from tests.subsidy.scenario import GRANT_FEN, REVIEWER, Harness, eligible_hire, problem

pytestmark = pytest.mark.integration


async def test_a_second_application_while_one_is_in_progress_is_refused_naming_it(subsidy: Harness) -> None:
    await subsidy.give_budget_room(1)
    hire = await subsidy.project(eligible_hire())
    first = (await subsidy.apply(hire)).json()
    assert first["status"] == "eligible"

    before = await subsidy.state()
    body = problem(await subsidy.apply(hire), 409, "application-in-progress")
    assert body["application_id"] == first["application_id"] and body["application_status"] == "eligible"
    assert await subsidy.state() == before

    await subsidy.decide(first["application_id"])
    body = problem(await subsidy.apply(hire), 409, "application-in-progress")
    assert body["application_id"] == first["application_id"] and body["application_status"] == "approved"


async def test_after_payment_a_second_application_is_ineligible_with_the_paid_one_as_evidence(
    subsidy: Harness,
) -> None:
    await subsidy.give_budget_room(1)
    hire = await subsidy.project(eligible_hire())
    paid, payment = await subsidy.approved(hire)
    await subsidy.settle(payment["payment_id"], outcome="settled", bank_reference="BOC-77")

    again = await subsidy.apply(hire)
    assert again.status_code == 201, again.text
    assert again.json()["status"] == "ineligible"
    [check] = [c for c in again.json()["checks"] if not c["passed"]]
    assert check["rule"] == "never_paid_before"
    assert f"application {paid['application_id']} paid {subsidy.clock.today().isoformat()}" in check["detail"]


async def test_after_a_rejection_the_beneficiary_may_apply_again(subsidy: Harness) -> None:
    hire = await subsidy.project(eligible_hire())
    first = (await subsidy.apply(hire)).json()
    rejected = await subsidy.decide(first["application_id"], "reject", note="contract not on file")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert (await subsidy.apply(hire)).json()["status"] == "eligible"


async def test_ten_concurrent_applications_and_approvals_give_exactly_one_payment(subsidy: Harness) -> None:
    await subsidy.give_budget_room(10)  # budget is not what stops the second payment
    before = await subsidy.budget()
    hire = await subsidy.project(eligible_hire())

    async def apply_and_approve(n: int) -> tuple[int, int | None]:
        applied = await subsidy.apply(hire)
        if applied.status_code != 201:
            return applied.status_code, None
        decided = await subsidy.decide(
            applied.json()["application_id"], client_id=f"reviewer-{n}", scopes=REVIEWER["scopes"]
        )
        return applied.status_code, decided.status_code

    results = await asyncio.gather(*(apply_and_approve(n) for n in range(10)))
    assert sorted(results, key=str) == sorted([(201, 200)] + [(409, None)] * 9, key=str)

    # Ten reviewers approving the winner at once: it is approved once, the others are told so.
    async with subsidy.session() as s:
        [winner] = (
            await s.execute(select(Application).where(Application.beneficiary_person_id == hire.person.person_id))
        ).scalars()
    decisions = await asyncio.gather(
        *(
            subsidy.decide(str(winner.application_id), client_id=f"late-reviewer-{n}", scopes=REVIEWER["scopes"])
            for n in range(10)
        )
    )
    assert {r.status_code for r in decisions} == {409}
    assert {r.json()["type"].rsplit(":", 1)[1] for r in decisions} == {"already-decided"}

    async with subsidy.session() as s:
        payments = (
            await s.execute(select(Payment).where(Payment.beneficiary_person_id == hire.person.person_id))
        ).scalars()
        assert [p.status for p in payments] == ["instructed"]
    assert (await subsidy.budget())["reserved_fen"] == before["reserved_fen"] + GRANT_FEN


async def test_ten_concurrent_approvals_of_one_application_reserve_and_instruct_once(subsidy: Harness) -> None:
    await subsidy.give_budget_room(10)
    before = await subsidy.budget()
    hire = await subsidy.project(eligible_hire())
    application = (await subsidy.apply(hire)).json()

    decisions = await asyncio.gather(
        *(
            subsidy.decide(application["application_id"], client_id=f"reviewer-{n}", scopes=REVIEWER["scopes"])
            for n in range(10)
        )
    )
    assert sorted(r.status_code for r in decisions) == [200] + [409] * 9
    assert len(await subsidy.payments_of(application["application_id"])) == 1
    assert (await subsidy.budget())["reserved_fen"] == before["reserved_fen"] + GRANT_FEN


async def test_the_database_refuses_a_second_live_application_or_payment(subsidy: Harness) -> None:
    """The once-only rule holds even for code that skips every check."""
    await subsidy.give_budget_room(1)
    hire = await subsidy.project(eligible_hire())
    application, payment = await subsidy.approved(hire)
    async with subsidy.session() as s:
        original = await s.get(Application, uuid.UUID(application["application_id"]))
        assert original is not None
        fields = original.model_dump(exclude={"application_id", "status"})
        s.add(Application(**fields, status="eligible"))
        with pytest.raises(IntegrityError):
            await s.flush()
        await s.rollback()

        ineligible = Application(**fields, status="ineligible")
        s.add(ineligible)
        await s.flush()  # an ineligible application holds no grant
        s.add(
            Payment(
                application_id=ineligible.application_id,
                programme=ineligible.programme,
                one_time=True,
                beneficiary_person_id=ineligible.beneficiary_person_id,
                payee_kind="employer",
                payee_credit_code=hire.employer,
                amount_fen=GRANT_FEN,
                budget_year=payment["budget_year"],
                status="instructed",
            )
        )
        with pytest.raises(IntegrityError):
            await s.flush()
        await s.rollback()
        count = await s.scalar(
            select(Payment.payment_id).where(col(Payment.beneficiary_person_id) == hire.person.person_id)
        )
        assert str(count) == payment["payment_id"]
