"""Request and response models of the persons feature."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.registry import DifficultyCategory, PersonStatus, UnemploymentRegistrationState
from services.kit.identifiers import InvalidIdentifier, normalize_id_number
from services.kit.pagination import CursorPosition
from services.kit.text import SingleLine


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(description="18-character resident id number (GB 11643)", examples=["11010519491231002X"])
    name: SingleLine = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 -]{5,32}$")
    hukou_type: Literal["urban", "rural"]
    hukou_local: bool | None = Field(default=None, description="Hukou in this district; false for non-local workers")
    town: SingleLine | None = Field(default=None, max_length=100)
    education: SingleLine | None = Field(default=None, max_length=50)
    graduation_date: date | None = None

    @field_validator("id_number")
    @classmethod
    def _valid_id_number(cls, value: str) -> str:
        try:
            return normalize_id_number(value)
        except InvalidIdentifier as exc:
            raise ValueError(str(exc)) from None

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
    gender: Literal["male", "female"]
    birth_date: date
    hukou_type: Literal["urban", "rural"]
    hukou_local: bool | None
    town: str | None
    education: str | None
    graduation_date: date | None
    status: PersonStatus
    deceased_on: date | None
    household_no: str | None
    difficulty_categories: list[DifficultyCategory]
    unemployment_registrations: list[UnemploymentRegistrationState]
    version: int
    created_at: datetime
    updated_at: datetime


class PersonsCursor(CursorPosition):
    """Where a page of people ends: people are listed by person_id."""

    after: uuid.UUID


class UnemploymentRegistrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registered_on: date


class UnemploymentRegistrationRead(UnemploymentRegistrationState):
    person_id: uuid.UUID
