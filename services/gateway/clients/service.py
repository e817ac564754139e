"""Issuing, listing and revoking API clients, and the bootstrap admin. Services only flush; the
request (or the start-up hook) owns the transaction."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.vocabulary import Agency, Scope
from services.gateway.clients import repository
from services.gateway.clients.auth import mark_revoked
from services.gateway.clients.keys import RECOMMENDED_MIN_KEY_LENGTH, hash_api_key, key_prefix, new_api_key
from services.gateway.clients.schemas import ApiClientCreate, ApiClientIssued, ApiClientRead
from services.gateway.problems import ClientNotFound
from services.gateway.tables import ApiClient
from services.kit.db import Database, utcnow
from services.kit.pagination import Page

log = logging.getLogger(__name__)

BOOTSTRAP_CLIENT_NAME = "bootstrap-admin"


async def issue_client(session: AsyncSession, request: ApiClientCreate) -> ApiClientIssued:
    api_key = new_api_key()
    client = ApiClient(
        name=request.name,
        agency=request.agency.value,
        scopes=[scope.value for scope in request.scopes],
        key_hash=hash_api_key(api_key),
        key_prefix=key_prefix(api_key),
    )
    session.add(client)
    await session.flush()
    return ApiClientIssued(
        client_id=client.client_id,
        api_key=api_key,
        name=client.name,
        agency=Agency(client.agency),
        scopes=[Scope(s) for s in client.scopes],
        key_prefix=client.key_prefix,
        created_at=client.created_at,
    )


def _read(client: ApiClient) -> ApiClientRead:
    return ApiClientRead(
        client_id=client.client_id,
        name=client.name,
        agency=Agency(client.agency),
        scopes=[Scope(s) for s in client.scopes],
        key_prefix=client.key_prefix,
        created_at=client.created_at,
        revoked_at=client.revoked_at,
    )


async def list_clients(
    session: AsyncSession, *, limit: int, cursor: str | None, agency: Agency | None, include_revoked: bool
) -> Page[ApiClientRead]:
    clients, next_cursor = await repository.page(
        session, limit=limit, cursor=cursor, agency=agency, include_revoked=include_revoked
    )
    return Page[ApiClientRead](items=[_read(c) for c in clients], next_cursor=next_cursor)


async def revoke_client(session: AsyncSession, client_id: str) -> None:
    """Revoke at once; revoking a revoked client changes nothing. An unknown id is 404."""
    try:
        parsed = uuid.UUID(client_id)
    except ValueError:
        raise ClientNotFound(f"no API client {client_id!r}") from None
    client = await repository.get(session, parsed, for_update=True)
    if client is None:
        raise ClientNotFound(f"no API client {client_id!r}")
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        await session.flush()
    mark_revoked(session, str(client.client_id))


async def ensure_bootstrap_admin(db: Database, api_key: str) -> None:
    """Make sure an admin client holds the operator's key; idempotent across restarts and replicas.

    A bootstrap client that was revoked stays revoked: the operator revoked it on purpose, and the
    way back is a new BOOTSTRAP_ADMIN_KEY.
    """
    if len(api_key) < RECOMMENDED_MIN_KEY_LENGTH:
        log.warning(
            "BOOTSTRAP_ADMIN_KEY is short; use at least %d random characters outside development",
            RECOMMENDED_MIN_KEY_LENGTH,
        )
    key_hash = hash_api_key(api_key)
    async with db.sessionmaker() as session:
        existing = await repository.find_by_key_hash(session, key_hash)
        if existing is not None:
            if existing.revoked_at is not None:
                log.warning(
                    "the bootstrap admin key was revoked; it stays revoked", extra={"client": str(existing.client_id)}
                )
            return
        session.add(
            ApiClient(
                name=BOOTSTRAP_CLIENT_NAME,
                agency=Agency.hrss.value,
                scopes=[Scope.admin.value],
                key_hash=key_hash,
                key_prefix=key_prefix(api_key),
            )
        )
        try:
            await session.commit()
        except IntegrityError:
            # Another replica created it in the meantime.
            await session.rollback()
            return
    log.info("bootstrap admin client created")
