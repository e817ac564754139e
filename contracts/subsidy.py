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

    rule: str = Field(
        description="The rule's code, e.g. `beneficiary_known`, `alive`, `key_group`; which rules apply depends on "
        "the programme"
    )
    passed: bool = Field(description="Whether the rule held when the application was last evaluated")


class Applicant(BaseModel):
    """Who applied: an employer by credit code, or a person by `person_id`."""

    kind: Literal["employer", "person"] = Field(
        description="`employer` (then `credit_code` is set) or `person` (then `person_id` is set)"
    )
    credit_code: str | None = Field(
        default=None, description="The employer's unified social credit code (GB 32100); null for a person"
    )
    person_id: uuid.UUID | None = Field(
        default=None, description="The applying person's registry `person_id`; null for an employer"
    )


class ApplicationState(BaseModel):
    """An application's whole current state; no personal data beyond `person_id`s."""

    application_id: uuid.UUID = Field(
        description="The application's id, as in `GET /subsidy/v1/applications/{application_id}`"
    )
    programme: str = Field(
        description="The programme's code: `hiring_key_groups`, `startup_one_time`, `social_insurance`, "
        "`skills_upgrade` or `job_seeking` (`GET /subsidy/v1/programmes`)"
    )
    beneficiary_person_id: uuid.UUID = Field(
        description="The registry `person_id` of the person the subsidy is for (`GET /registry/v1/persons/"
        "{person_id}`); also the Kafka key and `subject`"
    )
    applicant: Applicant = Field(
        description="Who applied, as the programme's payee rule allows: an employer for a person it employs, or a "
        "person (the beneficiary themself)"
    )
    employment_id: uuid.UUID | None = Field(
        default=None,
        description="`hiring_key_groups`, `social_insurance`: the registry employment claimed for (as on "
        "`registry.employment.v1`); else null",
    )
    business_credit_code: str | None = Field(
        default=None, description="`startup_one_time`: the business's unified social credit code; else null"
    )
    training_id: uuid.UUID | None = Field(
        default=None, description="`skills_upgrade`: the registry `training_id` of the certified training; else null"
    )
    months: list[str] | None = Field(
        default=None, description="`social_insurance`: the months claimed (`YYYY-MM`), ascending; else null"
    )
    status: ApplicationStatus = Field(
        description="`submitted` → `eligible` | `ineligible` (evaluated again while undecided) → `approved` | "
        "`rejected` → `paid` | `payment_failed` (→ `approved` again when a new payment is instructed)"
    )
    amount_fen: int = Field(
        ge=0,
        description="The grant in fen (1/100 CNY, so 600000 is 6,000 CNY) as the rules work it out; 0 while "
        "submitted, fixed at approval",
    )
    checks: list[Check] = Field(description="Every rule, passed or failed; empty while submitted")
    failed_rules: list[str] = Field(
        default_factory=list, description="The `rule` of each failed check, in the order of `checks`"
    )


class PaymentState(BaseModel):
    """A payment's whole current state: instructed on approval, then settled or failed by the treasury."""

    payment_id: uuid.UUID = Field(description="The payment's id, as in `GET /subsidy/v1/payments/{payment_id}`")
    application_id: uuid.UUID = Field(
        description="The approved application it pays (`application_id` on `subsidy.application.v1`); after a "
        "failure a new payment may be instructed for the same application"
    )
    programme: str = Field(description="The application's programme code")
    beneficiary_person_id: uuid.UUID = Field(
        description="The registry `person_id` of the application's beneficiary; also the Kafka key and `subject`"
    )
    amount_fen: int = Field(ge=0, description="The amount paid in fen (1/100 CNY): the application's at approval")
    status: PaymentStatus = Field(
        description="`instructed` when approved (or re-instructed), then `settled` or `failed` by the treasury's "
        "callback"
    )
    bank_reference: str | None = Field(
        default=None, description="The treasury's bank reference once `settled`; null otherwise"
    )
    reason: str | None = Field(
        default=None,
        description="Why the treasury failed the payment (free text from its callback) once `failed`; null otherwise",
    )
