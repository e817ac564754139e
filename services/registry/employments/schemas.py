"""Request and response models of the employments feature."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from contracts.registry import ContributionMonth, EmploymentKind, Insurance
from services.kit.identifiers import InvalidIdentifier, normalize_credit_code
from services.kit.fields import Month
from services.kit.text import SingleLine


class EmploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employer_credit_code: str = Field(
        description="Unified social credit code (GB 32100)", examples=["91350100M000100Y43"]
    )
    employer_name: SingleLine = Field(min_length=1, max_length=200)
    started_on: date
    # Strict: JSON `true` is not one month, nor "12" twelve.
    contract_months: StrictInt | None = Field(default=None, ge=1, le=600)
    kind: EmploymentKind

    @field_validator("employer_credit_code")
    @classmethod
    def _valid_credit_code(cls, value: str) -> str:
        try:
            return normalize_credit_code(value)
        except InvalidIdentifier as exc:
            raise ValueError(str(exc)) from None


class EmploymentEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ended_on: date
    reason: SingleLine = Field(min_length=1, max_length=200)


class ContributionsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    months: list[Month] = Field(min_length=1, max_length=600, description="Months paid, `YYYY-MM`")
    insurances: list[Insurance] = Field(min_length=1)

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
    end_reason: str | None
    contribution_months: list[ContributionMonth]
    version: int
    created_at: datetime


class ContributionsRecorded(BaseModel):
    employment_id: uuid.UUID
    recorded: list[str] = Field(description="Months newly recorded by this request")
    already_recorded: list[str] = Field(description="Months that were on record already; left unchanged")
    total_months: int
