"""Payloads the registry publishes on `registry.person.v1` and `registry.employment.v1`.

Both topics carry snapshots: each event holds the whole current state of one person or one
employment with a `version` that grows by one per change, so a consumer's projection keeps the
highest version it has seen and needs no other history.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, Field, model_validator

from .fields import Month
from .vocabulary import (
    Category,
    CertificateLevel,
    EmploymentKind,
    EndReason,
    Gender,
    HouseholdKind,
    HukouType,
    Insurance,
    PersonStatus,
    PublishedCategory,
    TrainingKind,
)

PERSON_REGISTERED = "registry.person.registered"
PERSON_UPDATED = "registry.person.updated"
PERSON_DIFFICULTY_CHANGED = "registry.person.difficulty-changed"
PERSON_DECEASED = "registry.person.deceased"
EMPLOYMENT_RECORDED = "registry.employment.recorded"
EMPLOYMENT_ENDED = "registry.employment.ended"
EMPLOYMENT_CONTRIBUTIONS_RECORDED = "registry.employment.contributions-recorded"
HOUSEHOLD_CHANGED = "registry.household.changed"


class DifficultyCategory(BaseModel):
    category: Category
    source: str = Field(description="Where the category came from: `registry` or an agency code")
    valid_from: date
    valid_until: date | None = None


class PublishedDifficulty(BaseModel):
    """A difficulty category as events show it: a sensitive one (released_prisoner, drug_rehab) is
    `restricted_difficulty`, with its validity but neither its kind nor its source, so a programme
    asking for "any difficulty" works without learning which."""

    category: PublishedCategory
    source: str = Field(description="`registry` or an agency code; `restricted` for a restricted difficulty")
    valid_from: date
    valid_until: date | None = None


class UnemploymentRegistrationState(BaseModel):
    registration_id: uuid.UUID
    registered_on: date
    closed_on: date | None = None


class TrainingState(BaseModel):
    training_id: uuid.UUID
    kind: TrainingKind
    completed_on: date
    certificate_level: CertificateLevel | None = None
    provider: str | None = None


class PersonSnapshot(BaseModel):
    """A person as the registry holds them: no name, no part of the id number, no birth date."""

    person_id: uuid.UUID
    subject_ref: str = Field(description="HMAC-SHA256 of the id number under the shared subject key")
    version: int = Field(ge=1)
    name_masked: str = Field(
        description="The name for public notices (公示): first and last character kept, `刘*梅`; `刘*` for two"
    )
    gender: Gender
    birth_year: int
    hukou_type: HukouType
    town: str | None = None
    graduated_on: date | None = Field(
        default=None,
        description="Day a college graduate left school (education `graduate` fact, else the person's own "
        "`graduation_date` at a college level); decides `recent_graduate` and graduating-year programmes",
    )
    status: PersonStatus
    deceased_on: date | None = None
    household_no: str | None = None
    difficulty_categories: list[PublishedDifficulty] = Field(
        description="Active categories; a sensitive one shows only as `restricted_difficulty`"
    )
    unemployment_registrations: list[UnemploymentRegistrationState]
    ended_difficulty_categories: list[PublishedDifficulty] = Field(
        default_factory=list,
        description="Categories from agency facts that have ended, with their real `valid_until` (which may lie "
        "before the event, when an agency reports an end late); a sensitive one as `restricted_difficulty`",
    )
    trainings: list[TrainingState] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_earlier_snapshots(cls, data: Any) -> Any:
        # Snapshots published (and projected) before 2026-12-03 carried the birth date, not the year.
        if isinstance(data, dict) and "birth_year" not in data and isinstance(data.get("birth_date"), str):
            data = {**data, "birth_year": int(data["birth_date"][:4])}
        return data


class ContributionMonth(BaseModel):
    month: Month
    insurances: list[Insurance]


class EmploymentSnapshot(BaseModel):
    employment_id: uuid.UUID
    person_id: uuid.UUID
    version: int = Field(ge=1)
    employer_credit_code: str
    employer_name: str
    kind: EmploymentKind
    started_on: date
    contract_months: int | None = None
    ended_on: date | None = None
    end_reason: EndReason | None = None
    contribution_months: list[ContributionMonth]


class HouseholdSnapshot(BaseModel):
    """A household as the registry derives it (SPEC 2.2), on `registry.household.v1` keyed by
    `household_no`: the street offices' work queue of zero-employment households."""

    household_no: str
    version: int = Field(ge=1)
    members: list[uuid.UUID] = Field(description="Registered persons of the household")
    zero_employment: bool = Field(description="Listed in the work queue (either kind)")
    kind: HouseholdKind | None = Field(
        default=None, description="`zero_employment` or `low_income_all_unemployed` while listed, else null"
    )
    since: date | None = Field(default=None, description="Day the household entered the queue; null when not listed")
    towns: list[str] = Field(default_factory=list, description="Towns its members live in")
