"""The CloudEvents 1.0 envelope every event travels in, JSON encoded."""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

PayloadT = TypeVar("PayloadT", bound=BaseModel)

SPECVERSION = "1.0"


class CloudEvent(BaseModel):
    """CloudEvents 1.0 structured-mode event.

    `source` + `id` is unique per event and is the inbox key. `subject` names a person by
    `person_id` or `subject_ref`, never by id number or name.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: str = SPECVERSION
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1)
    source: str = Field(min_length=1, description="URI-reference of the producing service, e.g. /registry")
    type: str = Field(min_length=1, description="Event type, e.g. registry.person.registered")
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = Field(default=None, description="person_id or subject_ref")
    datacontenttype: str = "application/json"
    data: dict[str, Any]

    @field_validator("specversion")
    @classmethod
    def _only_v1(cls, value: str) -> str:
        if value != SPECVERSION:
            raise ValueError(f"unsupported specversion {value!r}")
        return value

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a UTC offset")
        return value.astimezone(UTC)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CloudEvent:
        return cls.model_validate_json(raw)

    def payload(self, model: builtins.type[PayloadT]) -> PayloadT:
        return model.model_validate(self.data)


class TypedEvent(BaseModel, Generic[PayloadT]):
    """Documentation helper: an envelope whose `data` is a known payload model."""

    specversion: str = SPECVERSION
    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = None
    datacontenttype: str = "application/json"
    data: PayloadT


def new_event(*, source: str, type: str, subject: str | None, data: BaseModel) -> CloudEvent:
    return CloudEvent(source=source, type=type, subject=subject, data=data.model_dump(mode="json"))
