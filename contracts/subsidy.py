"""Payloads the subsidy service publishes on `subsidy.application.v1` and `subsidy.payment.v1`."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

APPLICATION_SUBMITTED = "subsidy.application.submitted"
APPLICATION_EVALUATED = "subsidy.application.evaluated"
APPLICATION_DECIDED = "subsidy.application.decided"
APPLICATION_PAID = "subsidy.application.paid"
APPLICATION_PAYMENT_FAILED = "subsidy.application.payment-failed"
APPLICATION_PAYMENT_INSTRUCTED = "subsidy.application.payment-instructed"
PAYMENT_INSTRUCTED = "subsidy.payment.instructed"
PAYMENT_SETTLED = "subsidy.payment.settled"
PAYMENT_FAILED = "subsidy.payment.failed"

ApplicationStatus = Literal["submitted", "eligible", "ineligible", "approved", "rejected", "paid", "payment_failed"]
PaymentStatus = Literal["instructed", "settled", "failed"]


class Check(BaseModel):
    """One rule's outcome. The evidence (`detail`) is not published: it names categories and dates of
    the person; the API shows it to those with `subsidy:read`."""

    rule: str
    passed: bool


class Applicant(BaseModel):
    kind: Literal["employer", "person"]
    credit_code: str | None = None
    person_id: uuid.UUID | None = None


class ApplicationState(BaseModel):
    """An application's whole current state; no personal data beyond `person_id`s."""

    application_id: uuid.UUID
    programme: str
    beneficiary_person_id: uuid.UUID
    applicant: Applicant
    employment_id: uuid.UUID | None = None
    business_credit_code: str | None = Field(default=None, description="`startup_one_time`: the business")
    training_id: uuid.UUID | None = Field(default=None, description="`skills_upgrade`: the certified training")
    months: list[str] | None = Field(default=None, description="`social_insurance`: the months claimed (YYYY-MM)")
    status: ApplicationStatus
    amount_fen: int = Field(ge=0, description="Amount in fen (1/100 CNY); 0 while submitted")
    checks: list[Check] = Field(description="Every rule, passed or failed; empty while submitted")
    failed_rules: list[str] = Field(default_factory=list, description="The rules that failed, in order")


class PaymentState(BaseModel):
    payment_id: uuid.UUID
    application_id: uuid.UUID
    programme: str
    beneficiary_person_id: uuid.UUID
    amount_fen: int = Field(ge=0)
    status: PaymentStatus
    bank_reference: str | None = None
    reason: str | None = None
