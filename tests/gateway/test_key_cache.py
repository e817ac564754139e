"""The in-memory key cache against real PostgreSQL: a revocation made elsewhere (another gateway
replica) is honoured once the cached entry expires; concurrent lookups of one key share a query."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlmodel import col

from services.gateway.clients.auth import KeyAuthenticator
from services.gateway.clients.keys import hash_api_key, key_prefix, new_api_key
from services.gateway.tables import ApiClient
from services.kit.db import Database, utcnow

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_revocation_by_another_replica_is_honoured_after_the_ttl(gateway_db: str) -> None:
    db = Database(gateway_db)
    clock = Clock()
    try:
        key = new_api_key()
        client = ApiClient(
            name="replica test",
            agency="hrss",
            scopes=["registry:read"],
            key_hash=hash_api_key(key),
            key_prefix=key_prefix(key),
        )
        async with db.sessionmaker() as session:
            session.add(client)
            await session.commit()
        authenticator = KeyAuthenticator(db, ttl_s=5.0, max_entries=100, clock=clock)
        identity = await authenticator.authenticate(key)
        assert identity is not None and identity.client_id == str(client.client_id)

        async with db.sessionmaker() as session:
            await session.execute(
                sa.update(ApiClient).where(col(ApiClient.client_id) == client.client_id).values(revoked_at=utcnow())
            )
            await session.commit()

        clock.now += 4.9
        assert await authenticator.authenticate(key) is not None
        clock.now += 0.2
        assert await authenticator.authenticate(key) is None
    finally:
        await db.dispose()


async def test_concurrent_lookups_of_one_key_share_one_query(gateway_db: str) -> None:
    db = Database(gateway_db)
    queries: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "gateway_api_client" in statement:
            queries.append(statement)

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        authenticator = KeyAuthenticator(db, ttl_s=5.0, max_entries=100)
        results = await asyncio.gather(*(authenticator.authenticate("rk_never-issued") for _ in range(20)))
        assert results == [None] * 20
        assert len(queries) == 1
        # An unknown key is remembered too: a flood of bad keys does not reach the database.
        assert await authenticator.authenticate("rk_never-issued") is None
        assert len(queries) == 1
    finally:
        await db.dispose()


async def test_a_full_cache_still_answers_correctly(gateway_db: str) -> None:
    db = Database(gateway_db)
    try:
        key = new_api_key()
        async with db.sessionmaker() as session:
            session.add(
                ApiClient(
                    name="full cache",
                    agency="hrss",
                    scopes=["admin"],
                    key_hash=hash_api_key(key),
                    key_prefix=key_prefix(key),
                )
            )
            await session.commit()
        authenticator = KeyAuthenticator(db, ttl_s=60.0, max_entries=3)
        assert await authenticator.authenticate(key) is not None
        for n in range(10):
            assert await authenticator.authenticate(f"rk_unknown-{n}") is None
        identity = await authenticator.authenticate(key)
        assert identity is not None and identity.is_admin
    finally:
        await db.dispose()


async def test_a_flood_of_bad_keys_never_pushes_a_good_key_out_and_misses_stay_bounded(gateway_db: str) -> None:
    db = Database(gateway_db)
    queries: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "gateway_api_client" in statement:
            queries.append(statement)

    try:
        key = new_api_key()
        async with db.sessionmaker() as session:
            session.add(
                ApiClient(
                    name="flooded",
                    agency="hrss",
                    scopes=["admin"],
                    key_hash=hash_api_key(key),
                    key_prefix=key_prefix(key),
                )
            )
            await session.commit()
        sa.event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        authenticator = KeyAuthenticator(db, ttl_s=60.0, max_entries=3, max_misses=5)
        assert await authenticator.authenticate(key) is not None
        for n in range(50):
            assert await authenticator.authenticate(f"rk_flood-{n}") is None
        assert len(queries) == 51
        # The good key is still answered from memory; the misses kept are the last five.
        assert authenticator.cached(key)[0] is True
        assert await authenticator.authenticate(key) is not None
        assert [authenticator.cached(f"rk_flood-{n}")[0] for n in (0, 44, 45, 49)] == [False, False, True, True]
        assert len(queries) == 51
    finally:
        await db.dispose()
