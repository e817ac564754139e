"""Request and response models of outward queries."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field

from services.kit.fields import IdNumber

MAX_ID_NUMBERS = 10_000


class QueryRequest(BaseModel):
    agreement_id: uuid.UUID
    id_numbers: list[IdNumber] = Field(min_length=1, max_length=MAX_ID_NUMBERS, description="Up to 10,000")

    model_config = {
        "json_schema_extra": {
            "examples": [{"agreement_id": "7d1f0c1e-8a53-4c56-9d0e-2a61f3b1c2d4", "id_numbers": ["500226199003150025"]}]
        }
    }


class NotFoundSubject(BaseModel):
    index: int = Field(description="Position in `id_numbers`")
    id_number_masked: str


class QueryAnswer(BaseModel):
    query_id: uuid.UUID = Field(description="This answer's id")
    agreement_id: uuid.UUID
    dataset: str
    fields: list[str] = Field(description="The agreement's fields: every record has exactly these, and index and mask")
    records: list[dict[str, Any]] = Field(
        description="One per id number the registry knows, in request order: `index` (position in `id_numbers`), "
        "`id_number_masked` and the agreed fields only",
        examples=[
            [
                {
                    "index": 0,
                    "id_number_masked": "110105********002X",
                    "status": "employed",
                    "employer_name": "重庆荣昌某某食品有限公司",
                }
            ]
        ],
    )
    not_found: list[NotFoundSubject] = Field(description="Id numbers the registry does not know")
