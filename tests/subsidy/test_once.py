"""A one-time grant is paid at most once: a second application is refused while one is open
(submitted, eligible or ineligible) and found ineligible once one was approved or paid; concurrent
requests give one payment; and the database itself refuses a second open application, a second
grant and a second live payment."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.subsidy.tables import Application, Grant, Payment
from tests.subsidy.scenario import GRANT_FEN, REVIEWER, Harness, eligible_hire, problem

pytestmark = pytest.mark.integration


async def test_a_second_application_while_one_is_open_is_refused_naming_it(subsidy: Harness) -> None:
    await subsidy.give_budget_room(1)
    hire = await subsidy.project(eligible_hire())
    first = (await subsidy.apply(hire)).json()
    assert first["status"] == "eligible"

    before = await subsidy.state()
    body = problem(await subsidy.apply(hire), 409, "application-in-progress")
    assert body["application_id"] == first["application_id"] and body["application_status"] == "eligible"
    assert await subsidy.state() == before

    # Approved, the first holds the grant: a second is judged, and ineligible with it as evidence ...
    await subsidy.decide(first["application_id"])
    second = (await subsidy.apply(hire)).json()
    assert second["status"] == "ineligible" and second["failed_rules"] == ["never_paid_before"]
    never = next(c for c in second["checks"] if c["rule"] == "never_paid_before")
    assert f"application {first['application_id']} (approved)" in never["detail"]
    # ... and, open until a reviewer closes it, it keeps a third one out.
    body = problem(await subsidy.apply(hire), 409, "application-in-progress")
    assert body["application_id"] == second["application_id"] and body["application_status"] == "ineligible"


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
    # One application is approved; the others were refused while it was open, or (submitted after
    # the approval) judged ineligible and then refused approval.
    assert results.count((201, 200)) == 1
    assert set(results) - {(201, 200)} <= {(409, None), (201, 409)}

    # Ten reviewers approving the winner at once: it is approved once, the others are told so.
    async with subsidy.session() as s:
        [winner] = (
            await s.execute(
                select(Application).where(
                    Application.beneficiary_person_id == hire.person.person_id, Application.status == "approved"
                )
            )
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


async def test_the_database_refuses_a_second_open_application_grant_or_live_payment(subsidy: Harness) -> None:
    """The once-only rule holds even for code that skips every check."""
    await subsidy.give_budget_room(1)
    hire = await subsidy.project(eligible_hire())
    application, payment = await subsidy.approved(hire)
    async with subsidy.session() as s:
        original = await s.get(Application, uuid.UUID(application["application_id"]))
        assert original is not None
        fields = original.model_dump(exclude={"application_id", "status"})
        original_id = original.application_id

        # Two open applications of a one-time programme for one beneficiary.
        s.add(Application(**fields, status="eligible"))
        await s.flush()
        s.add(Application(**fields, status="ineligible"))
        with pytest.raises(IntegrityError):
            await s.flush()
        await s.rollback()

        # A second grant of the one-time programme.
        other = Application(**fields, status="rejected")
        s.add(other)
        await s.flush()
        s.add(
            Grant(
                programme=other.programme,
                beneficiary_person_id=other.beneficiary_person_id,
                unit="once",
                application_id=other.application_id,
            )
        )
        with pytest.raises(IntegrityError):
            await s.flush()
        await s.rollback()

        # A second live payment: of another application of the programme, or of the same application.
        other = Application(**fields, status="approved")
        s.add(other)
        await s.flush()
        for application_id, one_time in ((other.application_id, True), (original_id, False)):
            with pytest.raises(IntegrityError):
                async with s.begin_nested():
                    s.add(
                        Payment(
                            application_id=application_id,
                            programme=fields["programme"],
                            one_time=one_time,
                            beneficiary_person_id=fields["beneficiary_person_id"],
                            payee_kind="employer",
                            payee_credit_code=hire.employer,
                            amount_fen=GRANT_FEN,
                            budget_year=payment["budget_year"],
                            status="instructed",
                        )
                    )
        await s.rollback()
        count = await s.scalar(
            select(Payment.payment_id).where(col(Payment.beneficiary_person_id) == hire.person.person_id)
        )
        assert str(count) == payment["payment_id"]
