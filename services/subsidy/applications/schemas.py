"""Request and response models of the applications feature."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.subsidy import ApplicationStatus, PaymentStatus
from contracts.vocabulary import Programme
from services.kit.fields import CreditCode
from services.kit.pagination import CursorPosition
from services.kit.text import MultiLine, SingleLine


class ApplicantIn(BaseModel):
    """Who applies: an employer by unified social credit code, or a person by person_id."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["employer", "person"]
    credit_code: CreditCode | None = Field(default=None, description="GB 32100 unified social credit code (employer)")
    person_id: uuid.UUID | None = Field(default=None, description="Registry person_id (person)")

    @model_validator(mode="after")
    def _identity(self) -> ApplicantIn:
        if self.kind == "employer" and (self.credit_code is None or self.person_id is not None):
            raise ValueError("an employer applicant gives credit_code and no person_id")
        if self.kind == "person" and (self.person_id is None or self.credit_code is not None):
            raise ValueError("a person applicant gives person_id and no credit_code")
        return self


class ApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A string, not the Programme enumeration: an unknown code is answered `unknown-programme` with
    # the list of programmes, not a bare validation error.
    programme: SingleLine = Field(min_length=1, max_length=40, examples=["hiring_key_groups"])
    beneficiary_person_id: uuid.UUID
    applicant: ApplicantIn
    employment_id: uuid.UUID | None = Field(default=None, description="The employment a hiring subsidy is for")


class ApplicationsCursor(CursorPosition):
    """Where a page of applications ends: applications are listed by creation, then id."""

    created_at: AwareDatetime
    application_id: uuid.UUID


class Applicant(BaseModel):
    kind: Literal["employer", "person"]
    credit_code: str | None = None
    person_id: uuid.UUID | None = None


class CheckRead(BaseModel):
    rule: str
    passed: bool
    detail: str = Field(description="The evidence the rule used")


class PaymentSummary(BaseModel):
    payment_id: uuid.UUID
    status: PaymentStatus


class ApplicationRead(BaseModel):
    application_id: uuid.UUID
    programme: Programme
    status: ApplicationStatus
    beneficiary_person_id: uuid.UUID
    applicant: Applicant
    employment_id: uuid.UUID | None
    checks: list[CheckRead] = Field(description="Every rule of the programme, passed or failed, with its evidence")
    amount: str = Field(description="The grant in CNY, e.g. `6000.00`")
    amount_fen: int
    evaluated_on: date = Field(description="The bureau date the rules were evaluated on")
    submitted_by: str = Field(description="API client that submitted the application")
    decided_by: str | None
    decision_note: str | None
    decided_at: datetime | None
    payment: PaymentSummary | None = Field(description="The payment instructed on approval")
    created_at: datetime
    updated_at: datetime


class DecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    note: MultiLine | None = Field(default=None, max_length=2000, description="Required when rejecting")

    @model_validator(mode="after")
    def _reason_for_rejection(self) -> DecisionCreate:
        if self.decision == "reject" and not (self.note and self.note.strip()):
            raise ValueError("a rejection needs a note saying why")
        return self
