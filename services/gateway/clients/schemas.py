"""Request and response models of the client endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from contracts.vocabulary import Agency, Scope
from services.kit.pagination import CursorPosition
from services.kit.text import SingleLine


class ApiClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SingleLine = Field(
        min_length=1, max_length=200, description="Who uses the key, e.g. the agency system's name"
    )
    agency: Agency
    scopes: list[Scope] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("name must not be blank")
        return value

    @field_validator("scopes")
    @classmethod
    def _distinct_sorted(cls, value: list[Scope]) -> list[Scope]:
        return sorted(set(value))


class ApiClientsCursor(CursorPosition):
    """Where a page of clients ends: clients are listed by creation, then id."""

    created_at: AwareDatetime
    client_id: uuid.UUID


class ApiClientBase(BaseModel):
    client_id: uuid.UUID
    name: str
    agency: Agency
    scopes: list[Scope]
    key_prefix: str = Field(description="First characters of the key, to tell keys apart")
    created_at: datetime


class ApiClientIssued(ApiClientBase):
    api_key: str = Field(description="The key; shown only in this response, stored only hashed")


class ApiClientRead(ApiClientBase):
    revoked_at: datetime | None
