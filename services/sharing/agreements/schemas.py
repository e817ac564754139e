"""Request and response models of agreements."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from contracts.vocabulary import Agency
from services.kit.fields import Instant
from services.kit.pagination import CursorPosition
from services.kit.text import SingleLine


class Direction(StrEnum):
    outward = "outward"
    inbound = "inbound"


class AgreementStatus(StrEnum):
    active = "active"
    not_yet_valid = "not_yet_valid"
    expired = "expired"
    revoked = "revoked"


class AgreementCreate(BaseModel):
    """An outward agreement: `consumer_agency` may ask for `fields` of `dataset` for `purpose`,
    from `valid_from` to `valid_until` (both days included, bureau time)."""

    consumer_agency: Agency
    dataset: str = Field(
        max_length=130, description="An outward dataset, `agency/dataset`", examples=["hrss/employment_status"]
    )
    fields: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=1, max_length=50, description="Fields of the dataset the consumer receives, each once"
    )
    purpose: Annotated[SingleLine, Field(min_length=1, max_length=500)] = Field(examples=["低保复核 dibao review"])
    valid_from: date
    valid_until: date

    @model_validator(mode="after")
    def _check(self) -> AgreementCreate:
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until lies before valid_from")
        if len(set(self.fields)) != len(self.fields):
            raise ValueError("fields names a field twice")
        return self

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "consumer_agency": "civil_affairs",
                    "dataset": "hrss/employment_status",
                    "fields": ["status", "employer_name"],
                    "purpose": "低保复核 dibao review",
                    "valid_from": "2026-01-01",
                    "valid_until": "2026-12-31",
                }
            ]
        }
    }


class AgreementRead(BaseModel):
    agreement_id: uuid.UUID
    direction: Direction = Field(
        description="`outward`: the bureau shares with `consumer_agency`; `inbound`: `provider_agency` pushes "
        "a dataset to the bureau (declared in the dataset catalogue)"
    )
    provider_agency: str
    consumer_agency: str
    dataset: str
    fields: list[str]
    purpose: str
    valid_from: date | None
    valid_until: date | None
    status: AgreementStatus = Field(description="On the bureau's today")
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class AgreementPage(BaseModel):
    items: list[AgreementRead]
    next_cursor: str | None = None


class AgreementsCursor(CursorPosition):
    created_at: Instant
    agreement_id: uuid.UUID
