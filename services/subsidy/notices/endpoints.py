"""Routes of the public notices (公示) of approved grants."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from contracts.vocabulary import Programme
from services.kit.access import SubsidyReader
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.subsidy.dependencies import NoticeServiceDep
from services.subsidy.money import cny
from services.subsidy.notices.schemas import NoticeRead

router = APIRouter(prefix="/subsidy/v1", tags=["notices"])


@router.get(
    "/notices",
    response_model=Page[NoticeRead],
    summary="Public notices (公示) of approved grants, during their notice period",
    description="Approved grants with masked names, town, payee, amount and dates; no part of an id number "
    "and no birth date. `on` shows the notices of another day (default: the bureau's today).",
)
async def list_notices(
    _: SubsidyReader,
    service: NoticeServiceDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    on: Annotated[date | None, Query(description="The day whose notices to list (YYYY-MM-DD)")] = None,
    programme: Annotated[Programme | None, Query(description="Only this programme")] = None,
    town: Annotated[str | None, Query(max_length=100, description="Only this town")] = None,
) -> Page[NoticeRead]:
    notices, next_cursor = await service.page(limit=limit, cursor=cursor, on=on, programme=programme, town=town)
    return Page[NoticeRead](
        items=[
            NoticeRead(
                notice_id=n.notice_id,
                application_id=n.application_id,
                programme=Programme(n.programme),
                name_masked=n.name_masked,
                town=n.town,
                payee_name=n.payee_name,
                amount=cny(n.amount_fen),
                amount_fen=n.amount_fen,
                approved_on=n.approved_on,
                until=n.until,
            )
            for n in notices
        ],
        next_cursor=next_cursor,
    )
