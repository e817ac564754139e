"""What the subsidy service knows of a beneficiary: its projection of the registry's events."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from contracts.registry import DifficultyCategory


class ProjectedEmploymentRead(BaseModel):
    employment_id: uuid.UUID
    employer_credit_code: str
    kind: str
    started_on: date
    ended_on: date | None
    contribution_months: int = Field(description="Social-insurance months on record for this employment")
    version: int


class BeneficiaryRead(BaseModel):
    person_id: uuid.UUID
    version: int = Field(description="The registry snapshot version this projection holds")
    status: str
    deceased_on: date | None
    difficulty_categories: list[DifficultyCategory]
    employments: list[ProjectedEmploymentRead]
    updated_at: datetime
