"""`/gateway/v1/clients`: issue, list and revoke API keys (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.gateway.clients import service
from services.gateway.clients.schemas import ApiClientCreate, ApiClientIssued, ApiClientRead
from services.gateway.clients.scopes import Agency
from services.kit.db import SessionDep
from services.kit.identity import Caller, require_scope
from services.kit.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/gateway/v1/clients", tags=["clients"])

# The edge already refused non-admins; the dependency says so in each route's signature as well.
AdminDep = Annotated[Caller, Depends(require_scope("admin"))]


@router.post("", status_code=201, summary="Issue an API key (shown only in this response)")
async def issue_client(body: ApiClientCreate, session: SessionDep, _: AdminDep) -> ApiClientIssued:
    return await service.issue_client(session, body)


@router.get("", summary="List API clients (never their keys)")
async def list_clients(
    session: SessionDep,
    _: AdminDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    agency: Annotated[Agency | None, Query(description="Only this agency's clients")] = None,
    include_revoked: Annotated[bool, Query(description="Include revoked clients")] = False,
) -> Page[ApiClientRead]:
    return await service.list_clients(
        session, limit=limit, cursor=cursor, agency=agency, include_revoked=include_revoked
    )


@router.delete("/{client_id}", status_code=204, summary="Revoke an API key at once")
async def revoke_client(client_id: str, session: SessionDep, _: AdminDep) -> Response:
    await service.revoke_client(session, client_id)
    return Response(status_code=204)
