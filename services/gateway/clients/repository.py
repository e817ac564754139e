"""Every query on API clients."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contracts.vocabulary import Agency
from services.gateway.clients.schemas import ApiClientsCursor
from services.gateway.tables import ApiClient
from services.kit.pagination import paginate


async def find_by_key_hash(session: AsyncSession, key_hash: str) -> ApiClient | None:
    """The client holding a key, revoked or not."""
    result = await session.execute(select(ApiClient).where(col(ApiClient.key_hash) == key_hash))
    return result.scalar_one_or_none()


async def find_active_by_key_hash(session: AsyncSession, key_hash: str) -> ApiClient | None:
    result = await session.execute(
        select(ApiClient).where(col(ApiClient.key_hash) == key_hash, col(ApiClient.revoked_at).is_(None))
    )
    return result.scalar_one_or_none()


async def get(session: AsyncSession, client_id: uuid.UUID, *, for_update: bool = False) -> ApiClient | None:
    query = select(ApiClient).where(col(ApiClient.client_id) == client_id)
    if for_update:
        query = query.with_for_update()
    result = await session.execute(query)
    return result.scalar_one_or_none()


async def page(
    session: AsyncSession, *, limit: int, cursor: str | None, agency: Agency | None, include_revoked: bool
) -> tuple[list[ApiClient], str | None]:
    """One page of clients by creation, then id, and the cursor of the next."""
    query = select(ApiClient)
    if agency is not None:
        query = query.where(col(ApiClient.agency) == agency)
    if not include_revoked:
        query = query.where(col(ApiClient.revoked_at).is_(None))
    return await paginate(
        session,
        query,
        keys=[col(ApiClient.created_at), col(ApiClient.client_id)],
        position=ApiClientsCursor,
        limit=limit,
        cursor=cursor,
    )
