"""Routes of the programme catalogue."""

from __future__ import annotations

from fastapi import APIRouter

from services.kit.access import SubsidyReader
from services.kit.pagination import Page
from services.subsidy.dependencies import CatalogueDep
from services.subsidy.money import cny
from services.subsidy.programmes.schemas import ProgrammeRead

router = APIRouter(prefix="/subsidy/v1", tags=["programmes"])


def _name(setting: str) -> str:
    return setting.removesuffix("_fen")


@router.get("/programmes", response_model=Page[ProgrammeRead], summary="List the subsidy programmes")
async def list_programmes(_: SubsidyReader, catalogue: CatalogueDep) -> Page[ProgrammeRead]:
    # The catalogue is short and fixed: one page, never a next cursor.
    items = [
        ProgrammeRead(
            code=p.code,
            name=p.name,
            payee=p.payee_role,
            one_time=p.one_time,
            open=True,
            claim=list(p.claim_model.model_fields),
            amounts={_name(k): cny(v) for k, v in p.amounts.items()},
            amounts_fen={_name(k): v for k, v in p.amounts.items()},
            amount=cny(p.amounts["amount_fen"]) if "amount_fen" in p.amounts else None,
            amount_fen=p.amounts.get("amount_fen"),
        )
        for p in catalogue
    ]
    return Page[ProgrammeRead](items=items)
