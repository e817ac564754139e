"""Response models of the public notices (公示)."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, Field

from contracts.vocabulary import Programme
from services.kit.pagination import CursorPosition


class NoticesCursor(CursorPosition):
    approved_on: date
    notice_id: uuid.UUID


class NoticeRead(BaseModel):
    notice_id: uuid.UUID
    application_id: uuid.UUID = Field(description="The approved application")
    programme: Programme
    name_masked: str = Field(description="First and last character kept (`刘*梅`); a two-character name `刘*`")
    town: str | None = Field(description="The beneficiary's town (镇街), when the registry knows it")
    payee_name: str = Field(description="The employer's name, or the masked name when a person is paid")
    amount: str = Field(description="CNY, e.g. `6000.00`")
    amount_fen: int
    approved_on: date
    until: date = Field(description="Last day of the notice period")
