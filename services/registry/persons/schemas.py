"""Request and response models of the persons feature."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.registry import DifficultyCategory, TrainingState, UnemploymentRegistrationState
from contracts.vocabulary import EducationLevel, Gender, HukouType, PersonStatus
from services.kit.fields import IdNumber
from services.kit.pagination import CursorPosition
from services.kit.text import SingleLine


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: IdNumber
    name: SingleLine = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 -]{5,32}$")
    hukou_type: HukouType
    hukou_local: bool | None = Field(default=None, description="Hukou in this district; false for non-local workers")
    town: SingleLine | None = Field(default=None, max_length=100)
    education: EducationLevel | None = Field(
        default=None, description="Highest level; a college level with `graduation_date` gives `recent_graduate`"
    )
    graduation_date: date | None = None

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()


class PersonRead(BaseModel):
    person_id: uuid.UUID
    id_number_masked: str
    id_number: str | None = Field(
        default=None, description="Shown only with `reveal=id_number` and the registry:sensitive scope"
    )
    name: str
    phone: str | None
    gender: Gender
    birth_year: int
    age: int = Field(description="Age on the bureau's today")
    birth_date: date | None = Field(
        default=None, description="Shown only with registry:sensitive: with the masked id number it gives the id back"
    )
    hukou_type: HukouType
    hukou_area_code: str | None = Field(default=None, description="From public security's identity record")
    hukou_local: bool | None
    town: str | None
    education: EducationLevel | None
    graduation_date: date | None
    status: PersonStatus
    deceased_on: date | None
    household_no: str | None
    difficulty_categories: list[DifficultyCategory] = Field(
        description="Categories in force today; released_prisoner and drug_rehab only with registry:sensitive"
    )
    unemployment_registrations: list[UnemploymentRegistrationState]
    trainings: list[TrainingState]
    version: int
    created_at: datetime
    updated_at: datetime


class PersonsCursor(CursorPosition):
    """Where a page of people ends: people are listed by person_id."""

    person_id: uuid.UUID


class UnemploymentRegistrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registered_on: date


class UnemploymentRegistrationRead(UnemploymentRegistrationState):
    person_id: uuid.UUID
