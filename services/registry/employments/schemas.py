"""Request and response models of the employments feature."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from contracts.registry import ContributionMonth
from contracts.vocabulary import EmploymentKind, EndReason, Insurance
from services.kit.fields import CreditCode, Month
from services.kit.text import SingleLine


class EmploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employer_credit_code: CreditCode
    employer_name: SingleLine = Field(min_length=1, max_length=200)
    started_on: date
    # Strict: JSON `true` is not one month, nor "12" twelve.
    contract_months: StrictInt | None = Field(default=None, ge=1, le=600)
    kind: EmploymentKind


class EmploymentEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ended_on: date
    reason: EndReason = Field(
        description="All but `retired` and `deceased` count as separations for early warning (SPEC 2.5)"
    )


class ContributionsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    months: list[Month] = Field(
        min_length=1, max_length=600, description="Months paid, `YYYY-MM`", examples=[["2026-09", "2026-10", "2026-11"]]
    )
    insurances: list[Insurance] = Field(min_length=1, examples=[["pension", "medical", "unemployment"]])

    @field_validator("months")
    @classmethod
    def _distinct_months(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("insurances")
    @classmethod
    def _distinct_insurances(cls, value: list[Insurance]) -> list[Insurance]:
        return sorted(set(value))


class EmploymentRead(BaseModel):
    employment_id: uuid.UUID
    person_id: uuid.UUID
    employer_credit_code: str
    employer_name: str
    kind: EmploymentKind
    started_on: date
    contract_months: int | None
    ended_on: date | None
    end_reason: EndReason | None
    contribution_months: list[ContributionMonth]
    version: int
    created_at: datetime


class ContributionsRecorded(BaseModel):
    employment_id: uuid.UUID
    recorded: list[str] = Field(description="Months newly recorded by this request")
    already_recorded: list[str] = Field(description="Months that were on record already; left unchanged")
    total_months: int
