"""`/gateway/v1/clients`: issue, list and revoke API keys (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from contracts.vocabulary import Agency
from services.gateway.clients import service
from services.gateway.clients.schemas import ApiClientCreate, ApiClientIssued, ApiClientRead
from services.gateway.problems import ClientNotFound
from services.kit.access import Admin
from services.kit.db import SessionDep
from services.kit.openapi import problems
from services.kit.pagination import CursorQuery, LimitQuery, Page

# The edge already refused non-admins on `/gateway/v1`; `Admin` says so in each route's signature too.
router = APIRouter(prefix="/gateway/v1/clients", tags=["clients"])


@router.post("", status_code=201, summary="Issue an API key (shown only in this response)")
async def issue_client(body: ApiClientCreate, session: SessionDep, _: Admin) -> ApiClientIssued:
    return await service.issue_client(session, body)


@router.get("", summary="List API clients (never their keys)")
async def list_clients(
    session: SessionDep,
    _: Admin,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    agency: Annotated[Agency | None, Query(description="Only this agency's clients")] = None,
    include_revoked: Annotated[bool, Query(description="Include revoked clients")] = False,
) -> Page[ApiClientRead]:
    return await service.list_clients(
        session, limit=limit, cursor=cursor, agency=agency, include_revoked=include_revoked
    )


@router.delete(
    "/{client_id}",
    status_code=204,
    summary="Revoke an API key at once",
    responses=problems(ClientNotFound),
)
async def revoke_client(client_id: str, session: SessionDep, _: Admin) -> Response:
    await service.revoke_client(session, client_id)
    return Response(status_code=204)
