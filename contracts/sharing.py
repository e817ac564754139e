"""Payloads the sharing service publishes on `sharing.fact.v1` and `sharing.sensitive-fact.v1`.

A fact is one accepted agency record, stripped of the raw id number: the person is named by
`subject_ref`, and `attributes` (typed per dataset, `contracts.facts`) keeps only the fields the
consumers are agreed to receive. Facts of a sensitive dataset (special populations) travel only on
`sharing.sensitive-fact.v1`, which production ACLs restrict.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, Field, model_validator

from .facts import FactAttributes
from .vocabulary import Agency

FACT_RECORDED = "sharing.fact.recorded"


class Fact(BaseModel):
    fact_id: uuid.UUID
    agency: Agency
    dataset: str = Field(description="The dataset's name within its agency; `attributes.dataset` is `agency/dataset`")
    batch_id: uuid.UUID
    record_index: int = Field(ge=0)
    subject_ref: str | None = Field(
        default=None, description="HMAC-SHA256 of the id number; absent for aggregate datasets"
    )
    key: str = Field(description="The record's supersession key: subject_ref, credit code or period")
    valid_from: date | None = None
    valid_until: date | None = None
    attributes: FactAttributes

    @model_validator(mode="before")
    @classmethod
    def _name_the_attributes(cls, data: Any) -> Any:
        # Facts published before the attributes were typed carry no `dataset` member in them.
        if isinstance(data, dict) and isinstance(data.get("attributes"), dict) and "dataset" not in data["attributes"]:
            data = {
                **data,
                "attributes": {**data["attributes"], "dataset": f"{data.get('agency')}/{data.get('dataset')}"},
            }
        return data

    @property
    def code(self) -> str:
        """`agency/dataset`."""
        return f"{self.agency}/{self.dataset}"
