"""Who is calling: bearer key to API client, with a short in-memory cache in front of the database.

Every request through the gateway is authenticated, so a database round trip per request would be
the hop's largest cost. Lookups (including misses, so a flood of bad keys cannot hammer the
database) are kept for `ttl_s` seconds; concurrent lookups of one key share one query. Misses live
in a cache of their own, bounded by `max_misses` and emptied oldest first, so a flood of distinct bad
keys never evicts a good one (the edge also limits how many misses one address may cause). A
revocation made through this gateway evicts the client as soon as its transaction commits; another
replica of the gateway honours it within `ttl_s`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from contracts.vocabulary import Scope
from services.gateway.clients import repository
from services.gateway.clients.keys import MAX_KEY_LENGTH, hash_api_key
from services.kit.db import Database

REVOKED_CLIENTS = "gateway_revoked_clients"


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    client_id: str
    agency: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return Scope.admin in self.scopes


def bearer_key(authorization: bytes | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header value, or None when there is none."""
    if not authorization:
        return None
    scheme, _, key = authorization.decode("latin-1").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > MAX_KEY_LENGTH:
        return None
    return key


def mark_revoked(session: AsyncSession, client_id: str) -> None:
    """Note a revocation on the transaction; the cache drops the client once it commits."""
    session.info.setdefault(REVOKED_CLIENTS, set()).add(client_id)


class KeyAuthenticator:
    def __init__(
        self,
        db: Database,
        *,
        ttl_s: float,
        max_entries: int,
        max_misses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.max_misses = max_misses
        self.clock = clock
        self._cache: dict[str, tuple[float, ClientIdentity]] = {}
        # Key hash -> until when it is known to match no client; insertion order is expiry order.
        self._misses: dict[str, float] = {}
        self._lookups: dict[str, asyncio.Future[ClientIdentity | None]] = {}
        # Bumped by every eviction: a lookup that started before one may have read the row before
        # the revocation committed, so its answer is used once but not cached.
        self._generation = 0

    def cached(self, api_key: str) -> tuple[bool, ClientIdentity | None]:
        """`(True, identity)` when the answer is known without the database (None: no such
        client), `(False, None)` when authenticating the key would look it up."""
        return self._cached(hash_api_key(api_key))

    def _cached(self, key_hash: str) -> tuple[bool, ClientIdentity | None]:
        now = self.clock()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > now:
            return True, cached[1]
        missed_until = self._misses.get(key_hash)
        if missed_until is not None and missed_until > now:
            return True, None
        return False, None

    async def authenticate(self, api_key: str) -> ClientIdentity | None:
        key_hash = hash_api_key(api_key)
        known, identity = self._cached(key_hash)
        if known:
            return identity
        lookup = self._lookups.get(key_hash)
        if lookup is None:
            # A task of its own, so a caller that goes away does not cancel the others' answer.
            lookup = asyncio.ensure_future(self._lookup(key_hash))
            lookup.add_done_callback(_retrieve_exception)
            self._lookups[key_hash] = lookup
        return await asyncio.shield(lookup)

    async def _lookup(self, key_hash: str) -> ClientIdentity | None:
        generation = self._generation
        try:
            identity = await self._load(key_hash)
        finally:
            del self._lookups[key_hash]
        if generation == self._generation:
            self._remember(key_hash, identity)
        return identity

    async def _load(self, key_hash: str) -> ClientIdentity | None:
        async with self.db.sessionmaker() as session:
            client = await repository.find_active_by_key_hash(session, key_hash)
        if client is None:
            return None
        return ClientIdentity(str(client.client_id), client.agency, frozenset(client.scopes))

    def _remember(self, key_hash: str, identity: ClientIdentity | None) -> None:
        now = self.clock()
        if identity is None:
            self._remember_miss(key_hash, now)
            return
        if len(self._cache) >= self.max_entries:
            self._cache = {h: entry for h, entry in self._cache.items() if entry[0] > now}
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
        self._cache[key_hash] = (now + self.ttl_s, identity)

    def _remember_miss(self, key_hash: str, now: float) -> None:
        misses = self._misses
        misses.pop(key_hash, None)
        while misses:
            oldest = next(iter(misses))
            if misses[oldest] > now and len(misses) < self.max_misses:
                break
            del misses[oldest]
        misses[key_hash] = now + self.ttl_s

    def forget_key(self, key_hash: str) -> None:
        self._generation += 1
        self._cache.pop(key_hash, None)
        self._misses.pop(key_hash, None)

    def evict_client(self, client_id: str) -> None:
        self._generation += 1
        stale = [
            h for h, (_, identity) in self._cache.items() if identity is not None and identity.client_id == client_id
        ]
        for key_hash in stale:
            del self._cache[key_hash]

    def after_commit(self, session: Session) -> None:
        """`Database.on_commit` callback: evict the clients this transaction revoked."""
        for client_id in session.info.pop(REVOKED_CLIENTS, ()):
            self.evict_client(client_id)


def _retrieve_exception(task: asyncio.Future[ClientIdentity | None]) -> None:
    # The callers that awaited the lookup got its exception; this keeps asyncio from also logging it
    # as never retrieved when they had all gone.
    if not task.cancelled():
        task.exception()
