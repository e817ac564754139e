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
    """A difficulty category (就业困难人员) as the registry holds it, sensitive ones included."""

    category: Category = Field(description="The category's code (SPEC 2.2)")
    source: str = Field(description="Where the category came from: `registry` or an agency code")
    valid_from: date = Field(
        description="First day the category holds. A fact with no start (`disabled`) shows the day the state was "
        "worked out while active, its `valid_until` once ended"
    )
    valid_until: date | None = Field(default=None, description="Last day it holds (inclusive); null when open-ended")


class PublishedDifficulty(BaseModel):
    """A difficulty category as events show it: a sensitive one (released_prisoner, drug_rehab) is
    `restricted_difficulty`, with its validity but neither its kind nor its source, so a programme
    asking for "any difficulty" works without learning which."""

    category: PublishedCategory = Field(
        description="The category's code (SPEC 2.2), or `restricted_difficulty` in place of a sensitive one"
    )
    source: str = Field(description="`registry` or an agency code; `restricted` for a restricted difficulty")
    valid_from: date = Field(
        description="First day the category holds. A fact with no start (`disabled`) shows the day the state was "
        "worked out while active, its `valid_until` once ended"
    )
    valid_until: date | None = Field(default=None, description="Last day it holds (inclusive); null when open-ended")


class UnemploymentRegistrationState(BaseModel):
    """One unemployment registration (就业失业登记) of the person."""

    registration_id: uuid.UUID = Field(
        description="The registration's id, as answered by `POST /registry/v1/persons/{person_id}/"
        "unemployment-registrations`"
    )
    registered_on: date = Field(
        description="Day the person registered as unemployed, a calendar day of the bureau (Asia/Shanghai)"
    )
    closed_on: date | None = Field(
        default=None,
        description="Day it closed: an employment's `started_on` when one is recorded, or the day of death; null "
        "while open",
    )


class TrainingState(BaseModel):
    """A training the person completed."""

    training_id: uuid.UUID = Field(
        description="The training's id, as answered by `POST /registry/v1/persons/{person_id}/trainings`; a "
        "`skills_upgrade` application names it"
    )
    kind: TrainingKind = Field(description="`vocational` or `entrepreneurship` training")
    completed_on: date = Field(description="Day the training was completed")
    certificate_level: CertificateLevel | None = Field(
        default=None, description="The vocational certificate level obtained; null when none"
    )
    provider: str | None = Field(default=None, description="The training provider's name; null when not recorded")


class PersonSnapshot(BaseModel):
    """A person as the registry holds them: no name, no part of the id number, no birth date."""

    person_id: uuid.UUID = Field(
        description="The registry's id of the person, as in `GET /registry/v1/persons/{person_id}`; also the Kafka "
        "key and `subject`"
    )
    subject_ref: str = Field(
        description="HMAC-SHA256 (hex) of the id number under the subject key every service shares: matches the "
        "`subject_ref` of facts about the person; the id number itself never travels"
    )
    version: int = Field(
        ge=1, description="1 when registered, one more with each published change: keep the highest version seen"
    )
    name_masked: str = Field(
        description="The name for public notices (公示): first and last character kept, `刘*梅`; `刘*` for two"
    )
    gender: Gender = Field(description="Derived from the id number")
    birth_year: int = Field(description="Year of birth, from the id number; the full birth date never travels")
    hukou_type: HukouType = Field(
        description="`urban` or `rural` hukou, as registered or as public security's identity record last said"
    )
    town: str | None = Field(
        default=None, description="The town or street (镇/街道) the person lives in, as registered; null when not given"
    )
    graduated_on: date | None = Field(
        default=None,
        description="Day a college graduate left school (education `graduate` fact, else the person's own "
        "`graduation_date` at a college level); decides `recent_graduate` and graduating-year programmes",
    )
    status: PersonStatus = Field(
        description="`employed` with an open employment, `unemployed` with an open unemployment registration, "
        "else `none`"
    )
    deceased_on: date | None = Field(
        default=None, description="Date of death reported by public security; null while alive. No subsidy after it"
    )
    household_no: str | None = Field(
        default=None,
        description="The person's household number (public security's, else civil affairs'), as keyed on "
        "`registry.household.v1`; null when none is known",
    )
    difficulty_categories: list[PublishedDifficulty] = Field(
        description="Active categories; a sensitive one shows only as `restricted_difficulty`"
    )
    unemployment_registrations: list[UnemploymentRegistrationState] = Field(
        description="Every unemployment registration of the person, open and closed; at most one is open"
    )
    ended_difficulty_categories: list[PublishedDifficulty] = Field(
        default_factory=list,
        description="Categories from agency facts that have ended, with their real `valid_until` (which may lie "
        "before the event, when an agency reports an end late); a sensitive one as `restricted_difficulty`",
    )
    trainings: list[TrainingState] = Field(default_factory=list, description="Every training recorded for the person")

    @model_validator(mode="before")
    @classmethod
    def _from_earlier_snapshots(cls, data: Any) -> Any:
        # Snapshots published (and projected) before 2026-12-03 carried the birth date, not the year.
        if isinstance(data, dict) and "birth_year" not in data and isinstance(data.get("birth_date"), str):
            data = {**data, "birth_year": int(data["birth_date"][:4])}
        return data


class ContributionMonth(BaseModel):
    """One month of social-insurance contributions paid in the employment."""

    month: Month = Field(description="The month paid for, `YYYY-MM`, within the employment; recorded at most once")
    insurances: list[Insurance] = Field(description="The insurances paid that month, as first recorded")


class EmploymentSnapshot(BaseModel):
    """An employment as the registry holds it, with its social-insurance months."""

    employment_id: uuid.UUID = Field(
        description="The employment's id, as in `GET /registry/v1/employments/{employment_id}`"
    )
    person_id: uuid.UUID = Field(
        description="The employed person's registry id (`GET /registry/v1/persons/{person_id}`); also the Kafka key "
        "and `subject`"
    )
    version: int = Field(
        ge=1, description="1 when recorded, one more with each published change: keep the highest version seen"
    )
    employer_credit_code: str = Field(
        description="The employer's unified social credit code (GB 32100, 18 characters); for `self_employed` the "
        "person's own business"
    )
    employer_name: str = Field(description="The employer's name as recorded with the employment")
    kind: EmploymentKind = Field(
        description="`employee`, `self_employed` (自主创业, the person's own business), `flexible` (灵活就业) or "
        "`public_welfare_post` (公益性岗位)"
    )
    started_on: date = Field(description="First day of the employment, a calendar day of the bureau (Asia/Shanghai)")
    contract_months: int | None = Field(
        default=None, description="The contract's length in months; null when none was given"
    )
    ended_on: date | None = Field(default=None, description="Day the employment ended; null while it lasts")
    end_reason: EndReason | None = Field(
        default=None,
        description="Why it ended, set with `ended_on`; all but `retired` and `deceased` count as separations",
    )
    contribution_months: list[ContributionMonth] = Field(
        description="The months of social insurance paid in this employment, oldest first"
    )


class HouseholdSnapshot(BaseModel):
    """A household as the registry derives it (SPEC 2.2), on `registry.household.v1` keyed by
    `household_no`: the street offices' work queue of zero-employment households."""

    household_no: str = Field(
        description="Public security's household number (civil affairs' when public security has reported none), "
        "as in `GET /registry/v1/households/{household_no}`; also the Kafka key and `subject`"
    )
    version: int = Field(
        ge=1, description="1 when first worked out, one more with each published change: keep the highest seen"
    )
    members: list[uuid.UUID] = Field(
        description="The `person_id`s of the registered persons of the household, deceased ones included"
    )
    zero_employment: bool = Field(description="Listed in the work queue (either kind)")
    kind: HouseholdKind | None = Field(
        default=None, description="`zero_employment` or `low_income_all_unemployed` while listed, else null"
    )
    since: date | None = Field(default=None, description="Day the household entered the queue; null when not listed")
    towns: list[str] = Field(default_factory=list, description="Towns its members live in")
