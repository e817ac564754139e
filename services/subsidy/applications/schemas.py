"""Request and response models of the applications feature."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.fields import Month
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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "programme": "hiring_key_groups",
                    "beneficiary_person_id": "3f2c9a7e-5b1d-4e8f-9a6c-2d7b1e0f4a53",
                    "applicant": {"kind": "employer", "credit_code": "91500226MA5U3P7X13"},
                    "employment_id": "8d41b6e2-07c3-4f5a-b9e1-6a2c3d4e5f70",
                },
                {
                    "programme": "social_insurance",
                    "beneficiary_person_id": "3f2c9a7e-5b1d-4e8f-9a6c-2d7b1e0f4a53",
                    "applicant": {"kind": "person", "person_id": "3f2c9a7e-5b1d-4e8f-9a6c-2d7b1e0f4a53"},
                    "employment_id": "8d41b6e2-07c3-4f5a-b9e1-6a2c3d4e5f70",
                    "months": ["2026-01", "2026-02", "2026-03"],
                },
            ]
        },
    )

    # A string, not the Programme enumeration: an unknown code is answered `unknown-programme` with
    # the list of programmes, not a bare validation error.
    programme: SingleLine = Field(min_length=1, max_length=40, examples=["hiring_key_groups"])
    beneficiary_person_id: uuid.UUID
    applicant: ApplicantIn
    employment_id: uuid.UUID | None = Field(
        default=None, description="`hiring_key_groups`, `social_insurance`: the employment the claim is for"
    )
    business_credit_code: CreditCode | None = Field(
        default=None, description="`startup_one_time`: the founder's business, by unified social credit code"
    )
    training_id: uuid.UUID | None = Field(default=None, description="`skills_upgrade`: the certified training")
    months: list[Month] | None = Field(
        default=None,
        max_length=60,
        description="`social_insurance`: the months claimed (`YYYY-MM`), each paid at most once per beneficiary",
        examples=[["2018-04", "2018-05", "2018-06"]],
    )

    def claim_fields(self) -> dict[str, Any]:
        """The fields naming what is claimed, those that are set."""
        fields = self.model_dump(include={"employment_id", "business_credit_code", "training_id", "months"})
        return {name: value for name, value in fields.items() if value is not None}


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


class PayeeRead(BaseModel):
    kind: Literal["employer", "person"]
    name: str = Field(description="The employer's name, or the person's masked name")
    credit_code: str | None = None
    person_id: uuid.UUID | None = None


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
    business_credit_code: str | None
    training_id: uuid.UUID | None
    months: list[str] | None
    checks: list[CheckRead] = Field(
        description="Every rule of the programme, passed or failed, with its evidence; empty while `submitted`"
    )
    failed_rules: list[str] = Field(description="The rules that failed, in order")
    amount: str = Field(description="The grant in CNY, e.g. `6000.00`; `0.00` while `submitted`")
    amount_fen: int
    payee: PayeeRead | None = Field(description="Who would be paid; null while `submitted`")
    evaluated_on: date | None = Field(description="The bureau date of the last evaluation; null while `submitted`")
    submitted_by: str = Field(description="API client that submitted the application")
    decided_by: str | None
    decision_note: str | None
    decided_at: datetime | None
    payment: PaymentSummary | None = Field(description="The live payment, else the last one (null before approval)")
    created_at: datetime
    updated_at: datetime


class DecisionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "approve", "note": "劳动合同与12个月社保缴费已核实"},
                {"decision": "reject", "note": "材料不全：缺少劳动合同"},
            ]
        },
    )

    decision: Literal["approve", "reject"] = Field(
        description="`approve` an eligible application, or `reject` an eligible or ineligible one"
    )
    note: MultiLine | None = Field(default=None, max_length=2000, description="Required when rejecting")

    @model_validator(mode="after")
    def _reason_for_rejection(self) -> DecisionCreate:
        if self.decision == "reject" and not (self.note and self.note.strip()):
            raise ValueError("a rejection needs a note saying why")
        return self
