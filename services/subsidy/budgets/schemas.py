"""Request and response models of the budgets feature."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from contracts.vocabulary import Programme
from services.kit.pagination import CursorPosition
from services.subsidy.money import fen_of

# Budgets are kept for these calendar years (the path's `year`, the list filter and its cursor).
FIRST_YEAR, LAST_YEAR = 2000, 2100


class BudgetSet(BaseModel):
    """A programme's budget for a year, in CNY (`amount`, up to two decimals) or in fen (`amount_fen`)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": "600000.00"}, {"amount_fen": 60_000_000}]}
    )

    amount: Decimal | None = Field(
        default=None, ge=0, max_digits=15, decimal_places=2, description='CNY, e.g. `"600000.00"`'
    )
    # Strict: JSON `true` is not 1 fen, nor "100" a number.
    amount_fen: StrictInt | None = Field(default=None, ge=0, le=10**15)

    @model_validator(mode="after")
    def _exactly_one(self) -> BudgetSet:
        if (self.amount is None) == (self.amount_fen is None):
            raise ValueError("give exactly one of amount (CNY) or amount_fen")
        return self

    @property
    def fen(self) -> int:
        if self.amount_fen is not None:
            return self.amount_fen
        assert self.amount is not None
        return fen_of(self.amount)


class BudgetsCursor(CursorPosition):
    """Where a page of budgets ends: budgets are listed by programme, then year."""

    programme: Programme
    year: StrictInt = Field(ge=FIRST_YEAR, le=LAST_YEAR)


class BudgetRead(BaseModel):
    programme: Programme
    year: int
    amount: str = Field(description="The year's budget in CNY")
    amount_fen: int
    reserved: str = Field(description="Held by approved applications whose payment is not settled yet")
    reserved_fen: int
    spent: str = Field(description="Paid out by settled payments")
    spent_fen: int
    available: str = Field(description="amount - reserved - spent")
    available_fen: int
    updated_at: datetime
