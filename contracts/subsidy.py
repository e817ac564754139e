"""Payloads the subsidy service publishes on `subsidy.application.v1` and `subsidy.payment.v1`."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

APPLICATION_EVALUATED = "subsidy.application.evaluated"
APPLICATION_DECIDED = "subsidy.application.decided"
APPLICATION_PAID = "subsidy.application.paid"
APPLICATION_PAYMENT_FAILED = "subsidy.application.payment-failed"
PAYMENT_INSTRUCTED = "subsidy.payment.instructed"
PAYMENT_SETTLED = "subsidy.payment.settled"
PAYMENT_FAILED = "subsidy.payment.failed"

ApplicationStatus = Literal["submitted", "eligible", "ineligible", "approved", "rejected", "paid", "payment_failed"]
PaymentStatus = Literal["instructed", "settled", "failed"]


class Check(BaseModel):
    rule: str
    passed: bool
    detail: str


class Applicant(BaseModel):
    kind: Literal["employer", "person"]
    credit_code: str | None = None
    person_id: uuid.UUID | None = None


class ApplicationState(BaseModel):
    application_id: uuid.UUID
    programme: str
    beneficiary_person_id: uuid.UUID
    applicant: Applicant
    employment_id: uuid.UUID | None = None
    status: ApplicationStatus
    amount_fen: int = Field(ge=0, description="Amount in fen (1/100 CNY)")
    checks: list[Check]


class PaymentState(BaseModel):
    payment_id: uuid.UUID
    application_id: uuid.UUID
    programme: str
    beneficiary_person_id: uuid.UUID
    amount_fen: int = Field(ge=0)
    status: PaymentStatus
    bank_reference: str | None = None
    reason: str | None = None
