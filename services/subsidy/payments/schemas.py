"""Request and response models of the payments feature."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.subsidy import PaymentStatus
from contracts.vocabulary import Programme
from services.kit.pagination import CursorPosition
from services.kit.text import MultiLine, SingleLine


class Payee(BaseModel):
    kind: Literal["employer", "person"]
    credit_code: str | None = None
    person_id: uuid.UUID | None = None


class PaymentRead(BaseModel):
    payment_id: uuid.UUID
    application_id: uuid.UUID
    programme: Programme
    beneficiary_person_id: uuid.UUID
    payee: Payee
    amount: str = Field(description="CNY, e.g. `6000.00`")
    amount_fen: int
    budget_year: int = Field(description="The budget year the payment is reserved in and spent from")
    status: PaymentStatus
    bank_reference: str | None
    reason: str | None
    instructed_at: datetime
    resolved_at: datetime | None = Field(description="When the treasury settled or failed it")


class PaymentsCursor(CursorPosition):
    """Where a page of payments ends: payments are listed by payment_id."""

    payment_id: uuid.UUID


class SettlementCreate(BaseModel):
    """The treasury's callback: `settled` with its bank reference, or `failed` with a reason."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"outcome": "settled", "bank_reference": "ICBC-500226-20261204-0001"},
                {"outcome": "failed", "reason": "收款账户已销户 (payee account closed)"},
            ]
        },
    )

    outcome: Literal["settled", "failed"]
    bank_reference: SingleLine | None = Field(default=None, min_length=1, max_length=100)
    reason: MultiLine | None = Field(default=None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _evidence(self) -> SettlementCreate:
        if self.outcome == "settled" and self.bank_reference is None:
            raise ValueError("a settled payment needs its bank_reference")
        if self.outcome == "settled" and self.reason is not None:
            raise ValueError("reason is for a failed payment only")
        if self.outcome == "failed" and self.reason is None:
            raise ValueError("a failed payment needs a reason")
        return self
