"""Payloads the registry publishes on `registry.person.v1` and `registry.employment.v1`.

Both topics carry snapshots: each event holds the whole current state of one person or one
employment with a `version` that grows by one per change, so a consumer's projection keeps the
highest version it has seen and needs no other history.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

PERSON_REGISTERED = "registry.person.registered"
PERSON_UPDATED = "registry.person.updated"
PERSON_DIFFICULTY_CHANGED = "registry.person.difficulty-changed"
EMPLOYMENT_RECORDED = "registry.employment.recorded"
EMPLOYMENT_ENDED = "registry.employment.ended"
EMPLOYMENT_CONTRIBUTIONS_RECORDED = "registry.employment.contributions-recorded"

DifficultyCategoryCode = Literal[
    "age_4050",
    "low_income_family",
    "zero_employment_family",
    "recent_graduate",
    "rural_poor",
    "disabled",
    "veteran",
    "released_prisoner",
    "drug_rehab",
    "capacity_reduction_worker",
    "extreme_poverty",
]
SENSITIVE_CATEGORIES: frozenset[str] = frozenset({"released_prisoner", "drug_rehab"})
EmploymentKind = Literal["employee", "self_employed", "flexible", "public_welfare_post"]
Insurance = Literal["pension", "medical", "unemployment", "work_injury", "maternity"]
PersonStatus = Literal["none", "unemployed", "employed"]


class DifficultyCategory(BaseModel):
    category: DifficultyCategoryCode
    source: str = Field(description="Where the category came from: `registry` or an agency code")
    valid_from: date
    valid_until: date | None = None


class UnemploymentRegistrationState(BaseModel):
    registration_id: uuid.UUID
    registered_on: date
    closed_on: date | None = None


class PersonSnapshot(BaseModel):
    """A person as the registry holds them, without the id number or name."""

    person_id: uuid.UUID
    subject_ref: str = Field(description="HMAC-SHA256 of the id number under the shared subject key")
    version: int = Field(ge=1)
    name_masked: str = Field(description="Name with all but the first character masked, for public notices")
    id_number_masked: str = Field(
        pattern=r"^[0-9]{6}\*{8}[0-9]{3}[0-9X]$", description="`500153********123X`: never the raw id number"
    )
    gender: Literal["male", "female"]
    birth_date: date
    hukou_type: Literal["urban", "rural"]
    status: PersonStatus
    deceased_on: date | None = None
    household_no: str | None = None
    difficulty_categories: list[DifficultyCategory] = Field(
        description="Active categories; sensitive ones (released_prisoner, drug_rehab) are never published"
    )
    unemployment_registrations: list[UnemploymentRegistrationState]
    ended_difficulty_categories: list[DifficultyCategory] = Field(
        default_factory=list,
        description="Categories from agency facts that have ended, with their real `valid_until` (which may lie "
        "before the event, when an agency reports an end late); sensitive ones are never published",
    )


class ContributionMonth(BaseModel):
    # ASCII digits: `\d` would take any script's digits (services.kit.text.Month is the same shape).
    month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")
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
    end_reason: str | None = None
    contribution_months: list[ContributionMonth]
