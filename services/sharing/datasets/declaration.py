"""What declaring a dataset means: its record model, its key, and the fact an accepted record
becomes. Validation and fact mapping are pure here, so the batch plumbing never changes when an
agency or a dataset is added."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from contracts.facts import FactAttributes
from contracts.sharing import Fact
from contracts.topics import SHARING_FACT, SHARING_SENSITIVE_FACT
from contracts.vocabulary import Agency
from services.kit.identifiers import mask_id_number, subject_ref
from services.kit.text import shown

RecordT = TypeVar("RecordT", bound="AgencyRecord")
_ID_SHAPED = re.compile(r"[0-9]{17}[0-9Xx]")


class AgencyRecord(BaseModel):
    """Base of every dataset's record model: unknown fields are errors, not silently dropped,
    so a misspelt optional column (`untill`) cannot quietly widen a fact's validity."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldError(BaseModel):
    field: str | None = None
    message: str


@dataclass(frozen=True)
class FactContent:
    """The part of a fact a dataset decides: the attributes allowed to leave (the dataset's typed
    model in `contracts.facts`) and the fact's validity."""

    attributes: FactAttributes
    valid_from: date | None = None
    valid_until: date | None = None


@dataclass(frozen=True)
class Retention(Generic[RecordT]):
    """What sharing keeps of an accepted record for a service of its own (identity verification
    keeps a digest of public security's names): `row(record, fact, subject_key)` is a row of `table`,
    which a newer record of the same primary key overwrites."""

    table: type[Any]
    key: tuple[str, ...]
    row: Callable[[RecordT, Fact, bytes], dict[str, Any]]


@dataclass(frozen=True)
class Dataset(Generic[RecordT]):
    """One agency dataset. `subject_field` holds the id number that names the person (pseudonymised
    to `subject_ref`, never sent on); `key_field` is what a newer record supersedes an older one by.
    A `sensitive` dataset says something about a person that only the pushing agency and `admin` may
    read back (special populations: membership alone is the secret); its facts travel only on
    `sharing.sensitive-fact.v1`, which production ACLs restrict."""

    agency: Agency
    name: str
    title: str
    record: type[RecordT]
    to_fact: Callable[[RecordT], FactContent]
    key_field: str = "id_number"
    subject_field: str | None = "id_number"
    sensitive: bool = False
    retained: Retention[RecordT] | None = None

    def __post_init__(self) -> None:
        for name in (self.key_field, self.subject_field):
            if name is not None and name not in self.record.model_fields:
                raise ValueError(f"{self.code}: {name!r} is not a field of {self.record.__name__}")

    @property
    def code(self) -> str:
        return f"{self.agency}/{self.name}"

    @property
    def topic(self) -> str:
        """The topic its facts are published on."""
        return SHARING_SENSITIVE_FACT if self.sensitive else SHARING_FACT

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.record.model_fields)

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(name for name, info in self.record.model_fields.items() if info.is_required())

    def validate_record(self, raw: object) -> RecordT | list[FieldError]:
        """The valid record, or every error it has (one per field, record-level ones with no field)."""
        if not isinstance(raw, dict):
            return [FieldError(message=f"a record is an object of named fields, not {_json_kind(raw)}")]
        try:
            return self.record.model_validate(raw)
        except ValidationError as exc:
            return [self._field_error(err) for err in exc.errors(include_url=False, include_input=False)]

    def _field_error(self, err: Any) -> FieldError:
        # An unknown field is named by the caller's own key: shown escaped, as it is stored and echoed.
        location = shown(".".join(str(part) for part in err["loc"])) or None
        kind = err["type"]
        if kind == "missing":
            message = "is required"
        elif kind == "extra_forbidden":
            message = f"is not a field of {self.code}; its fields are {', '.join(self.fields)}"
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
        return FieldError(field=location, message=message)

    def masked_subject(self, raw: object) -> str | None:
        """The masked id number of a record, valid or not, so an operator can find it; None when the
        value is not id-number shaped (masking it could leave most of it readable)."""
        if self.subject_field is None or not isinstance(raw, dict):
            return None
        value = raw.get(self.subject_field)
        if not isinstance(value, str) or not _ID_SHAPED.fullmatch(value.strip()):
            return None
        return mask_id_number(value.strip().upper())

    def subject_ref_of(self, record: RecordT, subject_key: bytes) -> str | None:
        if self.subject_field is None:
            return None
        return subject_ref(subject_key, str(getattr(record, self.subject_field)))

    def fact_for(self, record: RecordT, *, subject_key: bytes, batch_id: uuid.UUID, record_index: int) -> Fact:
        """The canonical fact of an accepted record: the person named by subject_ref only."""
        subject = self.subject_ref_of(record, subject_key)
        key = subject if self.key_field == self.subject_field else str(getattr(record, self.key_field))
        assert key is not None
        content = self.to_fact(record)
        if content.attributes.dataset != self.code:
            raise TypeError(f"{self.code}: to_fact gave the attributes of {content.attributes.dataset}")
        return Fact(
            fact_id=uuid.uuid4(),
            agency=self.agency,
            dataset=self.name,
            batch_id=batch_id,
            record_index=record_index,
            subject_ref=subject,
            key=key,
            valid_from=content.valid_from,
            valid_until=content.valid_until,
            attributes=content.attributes,
        )


AnyDataset = Dataset[Any]
"""A dataset of any record model, as the catalog holds them."""


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
