"""Routes of the programme catalogue."""

from __future__ import annotations

from fastapi import APIRouter

from services.kit.access import SubsidyReader
from services.kit.pagination import Page
from services.subsidy.dependencies import SettingsDep
from services.subsidy.money import cny
from services.subsidy.programmes.catalogue import catalogue
from services.subsidy.programmes.schemas import ProgrammeRead

router = APIRouter(prefix="/subsidy/v1", tags=["programmes"])


@router.get("/programmes", response_model=Page[ProgrammeRead], summary="List the subsidy programmes")
async def list_programmes(_: SubsidyReader, settings: SettingsDep) -> Page[ProgrammeRead]:
    # The catalogue is short and fixed: one page, never a next cursor.
    items = [
        ProgrammeRead(
            code=p.code,
            name=p.name,
            payee=p.payee,
            one_time=p.one_time,
            open=p.open,
            amount=cny(p.amount_fen) if p.amount_fen is not None else None,
            amount_fen=p.amount_fen,
        )
        for p in catalogue(settings)
    ]
    return Page[ProgrammeRead](items=items)
