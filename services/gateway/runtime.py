"""What the gateway holds while it runs: the upstream services, the limits, and the parts opened in
the lifespan (the database with the key authenticator in front of it, the hop's HTTP session).

The edge middleware and the merged OpenAPI document are built with the app, before the lifespan
runs, so they are given this object and read its started parts per request; routes reach it
through `services.gateway.dependencies`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from services.gateway.clients import service as clients_service
from services.gateway.clients.auth import KeyAuthenticator
from services.gateway.proxy import ServiceProxy, Upstream, close_session, new_session
from services.gateway.ratelimit import TokenBucketLimiter
from services.gateway.settings import GatewaySettings
from services.kit.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Per-route request body limits, in bytes."""

    default: int
    dataset_push: int


class Slots:
    """A count of requests in flight with a ceiling; taking a slot never waits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0

    def take(self) -> bool:
        if self.taken >= self.limit:
            return False
        self.taken += 1
        return True

    def give_back(self) -> None:
        self.taken -= 1


def upstreams(settings: GatewaySettings) -> list[Upstream]:
    return [
        Upstream.at("registry", "/registry/v1", settings.registry_url),
        Upstream.at("subsidy", "/subsidy/v1", settings.subsidy_url),
        Upstream.at("sharing", "/sharing/v1", settings.sharing_url),
    ]


@dataclass(frozen=True, slots=True)
class _Opened:
    db: Database
    authenticator: KeyAuthenticator
    proxy: ServiceProxy


class GatewayRuntime:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.upstreams = upstreams(settings)
        # Per API client, and per source address for requests without a valid key.
        self.rate_limiter = TokenBucketLimiter(
            settings.rate_limit_per_second, settings.rate_limit_burst, max_keys=settings.rate_limit_max_tracked
        )
        # Tighter per-client buckets on single routes (settings.route_rate_limits), keyed by method
        # and exact path; the edge takes a token from these as well as from the general bucket.
        self.route_limiters: dict[tuple[str, str], TokenBucketLimiter] = {
            (limit.method, limit.path): TokenBucketLimiter(
                limit.per_second, limit.burst, max_keys=settings.rate_limit_max_tracked
            )
            for limit in settings.route_rate_limits
        }
        self.unauthenticated_limiter = TokenBucketLimiter(
            settings.unauthenticated_rate_limit_per_second,
            settings.unauthenticated_rate_limit_burst,
            max_keys=settings.rate_limit_max_tracked,
        )
        self.body_limits = BodyLimits(
            default=settings.max_request_body_bytes, dataset_push=settings.dataset_push_max_body_bytes
        )
        self.push_slots = Slots(settings.dataset_push_max_concurrent)
        # The merged OpenAPI document and until when it is good (`openapi.merged_document`).
        self.merged_openapi: tuple[float, dict[str, Any]] | None = None
        self._opened: _Opened | None = None

    async def start(self) -> None:
        """Open the database and the hop's session; ensure the bootstrap admin when one is configured."""
        settings = self.settings
        db = Database(settings.database_url, pool_size=settings.database_pool_size)
        authenticator = KeyAuthenticator(
            db,
            ttl_s=settings.key_cache_ttl_s,
            max_entries=settings.key_cache_max_entries,
            max_misses=settings.key_cache_max_misses,
        )
        db.on_commit(authenticator.after_commit)
        session = new_session(
            pool_size=settings.upstream_pool_size,
            keepalive_s=settings.upstream_keepalive_s,
            connect_timeout_s=settings.upstream_connect_timeout_s,
            timeout_s=settings.upstream_timeout_s,
        )
        proxy = ServiceProxy(
            session,
            secret=settings.internal_secret.get_secret_value().encode(),
            spool_memory_bytes=settings.request_spool_memory_bytes,
        )
        self._opened = _Opened(db, authenticator, proxy)
        if settings.bootstrap_admin_key is not None:
            await clients_service.ensure_bootstrap_admin(db, settings.bootstrap_admin_key.get_secret_value())

    async def stop(self) -> None:
        opened, self._opened = self._opened, None
        if opened is None:
            return
        try:
            await close_session(opened.proxy.session)
        finally:
            await opened.db.dispose()

    @property
    def db(self) -> Database:
        return self._started().db

    @property
    def authenticator(self) -> KeyAuthenticator:
        return self._started().authenticator

    @property
    def proxy(self) -> ServiceProxy:
        return self._started().proxy

    def _started(self) -> _Opened:
        if self._opened is None:
            raise RuntimeError("the gateway has not started (its lifespan opens the database and the hop)")
        return self._opened
