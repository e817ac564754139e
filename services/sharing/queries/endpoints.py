"""Routes of outward queries."""

from __future__ import annotations

from fastapi import APIRouter

from services.kit.access import SharingQuerier
from services.kit.openapi import problems

from ..dependencies import QueryServiceDep
from ..problems import NotAgreed
from .schemas import QueryAnswer, QueryRequest

router = APIRouter(prefix="/sharing/v1", tags=["queries"])


@router.post(
    "/queries",
    summary="Ask for persons' records under an agreement",
    description=(
        "Up to 10,000 id numbers; each the registry knows is answered with the agreement's fields only, the "
        "others are listed in `not_found`. Without a valid agreement of the caller's agency (none, another "
        "agency's, not yet valid, expired or revoked) the answer is 403 `not-agreed`. Answered or refused, "
        "the query is written to the audit log with the persons answered as `subject_ref`s."
    ),
    responses=problems(NotAgreed),
)
async def query(body: QueryRequest, caller: SharingQuerier, queries: QueryServiceDep) -> QueryAnswer:
    return await queries.answer(caller, body)
