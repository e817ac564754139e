"""What the subsidy service knows of a beneficiary: its projection of the registry's events."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from contracts.registry import PublishedDifficulty, TrainingState
from contracts.vocabulary import EmploymentKind, PersonStatus


class ProjectedEmploymentRead(BaseModel):
    employment_id: uuid.UUID
    employer_credit_code: str
    kind: EmploymentKind
    started_on: date
    ended_on: date | None
    contribution_months: int = Field(description="Social-insurance months on record for this employment")
    version: int


class BeneficiaryRead(BaseModel):
    person_id: uuid.UUID
    version: int = Field(description="The registry snapshot version this projection holds")
    status: PersonStatus
    deceased_on: date | None
    town: str | None
    graduated_on: date | None = Field(description="Day a college graduate left school, when known")
    difficulty_categories: list[PublishedDifficulty] = Field(
        description="Active categories; a sensitive one shows only as `restricted_difficulty`"
    )
    trainings: list[TrainingState]
    employments: list[ProjectedEmploymentRead]
    updated_at: datetime
