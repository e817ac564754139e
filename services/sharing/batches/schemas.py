"""Request and response models of batches."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt

from contracts.vocabulary import Agency
from services.kit.pagination import CursorPosition

from ..datasets.declaration import FieldError

Outcome = Literal["accepted", "rejected"]


class RejectedRecord(BaseModel):
    index: int = Field(description="0-based position of the record in `records`, or of the data row in the CSV")
    errors: list[FieldError] = Field(description="Every error of the record; `field` is null for the whole record")


class BatchReceipt(BaseModel):
    """The answer to a push: the batch kept, how many records became facts, and why others did not."""

    batch_id: uuid.UUID
    agency: Agency
    dataset: str
    record_count: int
    accepted: int = Field(
        description="Records accepted; each was published as a fact on sharing.fact.v1 "
        "(a sensitive dataset's on sharing.sensitive-fact.v1)"
    )
    rejected: list[RejectedRecord]


class RecordOutcome(BaseModel):
    index: int
    outcome: Outcome
    id_number_masked: str | None = Field(description="`500153********123X`; null when the value is not id-shaped")
    fact_id: uuid.UUID | None = None
    fact_key: str | None = Field(default=None, description="subject_ref, credit code or period the fact is keyed by")
    errors: list[FieldError] = Field(default_factory=list)


class RecordsCursor(CursorPosition):
    """Where a page of a batch's record outcomes ends: outcomes are listed by record index."""

    record_index: StrictInt = Field(ge=0, lt=2**31)


class BatchRead(BaseModel):
    batch_id: uuid.UUID
    agency: Agency
    dataset: str
    content_type: str
    submitted_by: str = Field(description="API client id that pushed the batch")
    received_at: datetime
    record_count: int
    accepted_count: int
    rejected_count: int
    records: list[RecordOutcome] = Field(description="One page of per-record outcomes, in record order")
    next_cursor: str | None = None


PUSH_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["records"],
                    "additionalProperties": False,
                    "properties": {
                        "records": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "object", "description": "One record with the dataset's fields"},
                        }
                    },
                },
                "example": {"records": [{"id_number": "500153199001011236", "since": "2018-04-01"}]},
            },
            "text/csv": {
                "schema": {"type": "string", "description": "A header row naming the dataset's fields, then records"},
                "example": "id_number,household_no,since,until\n500153199001011236,H-001,2018-04-01,\n",
            },
        },
    }
}
