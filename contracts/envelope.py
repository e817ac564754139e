"""The CloudEvents 1.0 envelope every event travels in, JSON encoded."""

from __future__ import annotations

import builtins
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

PayloadT = TypeVar("PayloadT", bound=BaseModel)

SPECVERSION = "1.0"
# CloudEvents 1.0 REQUIRED attributes: a record on the wire without them is refused, never defaulted,
# or a redelivery would get a new random id and slip past the inbox.
WIRE_REQUIRED = ("id", "source", "specversion", "type")
_ID_NUMBER_SHAPE = re.compile(r"[0-9]{17}[0-9Xx]")  # fullmatch after strip: `$` would let "…X\n" through


class CloudEvent(BaseModel):
    """CloudEvents 1.0 structured-mode event.

    `source` + `id` is unique per event and is the inbox key. `subject` names a person by
    `person_id` or `subject_ref` (a household by `household_no`), never by id number or name.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: str = SPECVERSION
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1)
    source: str = Field(min_length=1, description="URI-reference of the producing service, e.g. /registry")
    type: str = Field(min_length=1, description="Event type, e.g. registry.person.registered")
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = Field(
        default=None,
        description="Whom the event is about: a `person_id` (person, employment and subsidy events) or `subject_ref` "
        "(facts); the `household_no` on registry.household.v1, the service on outbox.watermark.v1; absent for "
        "warnings, reports and aggregate facts. Never an id number or a name",
    )
    datacontenttype: str = "application/json"
    data: dict[str, Any]

    @field_validator("specversion")
    @classmethod
    def _only_v1(cls, value: str) -> str:
        if value != SPECVERSION:
            raise ValueError(f"unsupported specversion {value!r}")
        return value

    @field_validator("subject")
    @classmethod
    def _no_id_number(cls, value: str | None) -> str | None:
        if value is not None and _ID_NUMBER_SHAPE.fullmatch(value.strip()):
            raise ValueError("subject must be a person_id or subject_ref, never a resident id number")
        return value

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a UTC offset")
        return value.astimezone(UTC)

    def to_bytes(self) -> bytes:
        """The structured-mode JSON. An event without a subject leaves the attribute out: CloudEvents
        attributes are absent, never null, and SDKs refuse `"subject": null`."""
        return self.model_dump_json(exclude={"subject"} if self.subject is None else None).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CloudEvent:
        """Decode a structured-mode event; raises ValidationError when the bytes are not one."""
        return cls.model_validate_json(raw, context={"wire": True})

    @model_validator(mode="before")
    @classmethod
    def _required_on_the_wire(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dict) and (info.context or {}).get("wire"):
            missing = [name for name in WIRE_REQUIRED if name not in value]
            if missing:
                raise ValueError(f"missing required CloudEvents attributes: {', '.join(missing)}")
        return value

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
