"""Response models of the programmes feature."""

from __future__ import annotations

from pydantic import BaseModel, Field

from contracts.vocabulary import Programme
from services.subsidy.programmes.base import PayeeRole


class ProgrammeRead(BaseModel):
    code: Programme = Field(examples=["hiring_key_groups"])
    name: str = Field(examples=["一次性吸纳重点群体就业岗位补贴"])
    payee: PayeeRole
    one_time: bool = Field(description="Pays a beneficiary at most once")
    open: bool = Field(description="Takes applications")
    claim: list[str] = Field(
        description="What an application names besides the beneficiary", examples=[["employment_id"]]
    )
    amounts: dict[str, str] = Field(
        description="The configured amounts in CNY by name: `amount` for a fixed grant, else per insurance "
        "(`social_insurance`, per month claimed) or per certificate level (`skills_upgrade`)",
        examples=[{"amount": "6000.00"}],
    )
    amounts_fen: dict[str, int] = Field(description="The same amounts in fen")
    amount: str | None = Field(description="The fixed grant in CNY; null when it depends on the claim")
    amount_fen: int | None = Field(description="The same in fen")
