"""Request and response models of identity verification."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from services.kit.fields import IdNumber
from services.kit.text import SingleLine


class IdentityCheck(BaseModel):
    id_number: IdNumber
    name: Annotated[SingleLine, Field(min_length=1, max_length=100)]

    model_config = {"json_schema_extra": {"examples": [{"id_number": "500226199003150025", "name": "刘小梅"}]}}


class IdentityVerdict(BaseModel):
    match: bool = Field(description="Public security's latest identity record has this id number with this name")
    deceased: bool = Field(description="That record gives a death date; always false when `match` is false")

    model_config = {"json_schema_extra": {"examples": [{"match": True, "deceased": False}]}}
