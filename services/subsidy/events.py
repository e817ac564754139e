"""What the subsidy service publishes: `subsidy.application.v1` on every application status change
and `subsidy.payment.v1` on every payment status change, through the outbox, keyed by the
beneficiary's person_id so one person's events keep their order. No evidence text travels: it names
a person's categories and dates."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import new_event
from contracts.subsidy import Applicant, ApplicationState, Check, PaymentState
from contracts.topics import SUBSIDY_APPLICATION, SUBSIDY_PAYMENT
from services.kit.outbox import add_event
from services.subsidy.tables import Application, Payment

SOURCE = "/subsidy"


def application_state(application: Application) -> ApplicationState:
    checks = [Check(rule=c["rule"], passed=c["passed"]) for c in application.checks]
    return ApplicationState(
        application_id=application.application_id,
        programme=application.programme,
        beneficiary_person_id=application.beneficiary_person_id,
        applicant=Applicant.model_validate(
            {
                "kind": application.applicant_kind,
                "credit_code": application.applicant_credit_code,
                "person_id": application.applicant_person_id,
            }
        ),
        employment_id=application.employment_id,
        business_credit_code=application.business_credit_code,
        training_id=application.training_id,
        months=application.months,
        status=application.status,
        amount_fen=application.amount_fen,
        checks=checks,
        failed_rules=[c.rule for c in checks if not c.passed],
    )


def payment_state(payment: Payment) -> PaymentState:
    return PaymentState(
        payment_id=payment.payment_id,
        application_id=payment.application_id,
        programme=payment.programme,
        beneficiary_person_id=payment.beneficiary_person_id,
        amount_fen=payment.amount_fen,
        status=payment.status,
        bank_reference=payment.bank_reference,
        reason=payment.reason,
    )


def application_changed(session: AsyncSession, application: Application, event_type: str) -> None:
    key = str(application.beneficiary_person_id)
    event = new_event(source=SOURCE, type=event_type, subject=key, data=application_state(application))
    add_event(session, SUBSIDY_APPLICATION, key, event)


def payment_changed(session: AsyncSession, payment: Payment, event_type: str) -> None:
    key = str(payment.beneficiary_person_id)
    event = new_event(source=SOURCE, type=event_type, subject=key, data=payment_state(payment))
    add_event(session, SUBSIDY_PAYMENT, key, event)
