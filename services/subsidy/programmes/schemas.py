"""Response models of the programmes feature."""

from __future__ import annotations

from pydantic import BaseModel, Field

from contracts.vocabulary import Programme
from services.subsidy.programmes.catalogue import PayeeRole


class ProgrammeRead(BaseModel):
    code: Programme = Field(examples=["hiring_key_groups"])
    name: str = Field(examples=["一次性吸纳重点群体就业岗位补贴"])
    payee: PayeeRole
    one_time: bool = Field(description="Pays a beneficiary at most once")
    open: bool = Field(description="Takes applications now; the others are not yet open")
    amount: str | None = Field(description="Amount per grant in CNY, e.g. `6000.00`; null when not set")
    amount_fen: int | None = Field(description="The same amount in fen")
