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
    """One accepted agency record: the person only as `subject_ref`, never an id number or a name."""

    fact_id: uuid.UUID = Field(description="The fact's id, unique per accepted record; a redelivery carries the same")
    agency: Agency = Field(description="The agency that pushed the record (its agency code)")
    dataset: str = Field(description="The dataset's name within its agency; `attributes.dataset` is `agency/dataset`")
    batch_id: uuid.UUID = Field(
        description="The agency's push the record came in: the push's answer names it; `GET /sharing/v1/batches/"
        "{batch_id}` reads it"
    )
    record_index: int = Field(
        ge=0, description="The record's 0-based position in that push, counted as the push's `rejected[].index` is"
    )
    subject_ref: str | None = Field(
        default=None,
        description="HMAC-SHA256 (hex) of the person's id number under the subject key every service shares, the "
        "same as a registry snapshot's `subject_ref`; for `business` the legal representative; null for aggregate "
        "datasets (`statistics/labour_force`)",
    )
    key: str = Field(
        description="The record's supersession key: subject_ref, credit code (`business`) or period "
        "(`labour_force`); a newer fact with the same dataset and key replaces the older"
    )
    valid_from: date | None = Field(
        default=None,
        description="First day the record holds, from the dataset's start date (`since`, `discharged_on`, "
        "`graduated_on`, `established_on`, the period's first day); null when the dataset has none",
    )
    valid_until: date | None = Field(
        default=None,
        description="Last day the record holds (`until`, `exited_on`, `valid_until`, `deregistered_on`, "
        "`deceased_on`, the period's last day); null while open-ended",
    )
    attributes: FactAttributes = Field(
        description="The dataset's agreed fields, one model per dataset told apart by `attributes.dataset`"
    )

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
