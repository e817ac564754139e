"""Payloads the sharing service publishes on `sharing.fact.v1`.

A fact is one accepted agency record, stripped of the raw id number: the person is named by
`subject_ref`, and `attributes` keeps only the fields the consumers are agreed to receive.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, Field

FACT_RECORDED = "sharing.fact.recorded"


class Fact(BaseModel):
    fact_id: uuid.UUID
    agency: str
    dataset: str
    batch_id: uuid.UUID
    record_index: int = Field(ge=0)
    subject_ref: str | None = Field(
        default=None, description="HMAC-SHA256 of the id number; absent for aggregate datasets"
    )
    key: str = Field(description="The record's supersession key: subject_ref, credit code or period")
    valid_from: date | None = None
    valid_until: date | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
