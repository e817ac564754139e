"""Every query on API clients."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.gateway.tables import ApiClient


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


async def list_page(
    session: AsyncSession,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    agency: str | None,
    include_revoked: bool,
) -> list[ApiClient]:
    """One page in (created_at, client_id) order, starting after the given position."""
    query = select(ApiClient)
    if after is not None:
        created_at, client_id = after
        query = query.where(
            sa.or_(
                col(ApiClient.created_at) > created_at,
                sa.and_(col(ApiClient.created_at) == created_at, col(ApiClient.client_id) > client_id),
            )
        )
    if agency is not None:
        query = query.where(col(ApiClient.agency) == agency)
    if not include_revoked:
        query = query.where(col(ApiClient.revoked_at).is_(None))
    query = query.order_by(col(ApiClient.created_at), col(ApiClient.client_id)).limit(limit)
    result = await session.execute(query)
    return list(result.scalars())
