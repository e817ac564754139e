"""The gateway's composition root: `python -m services.kit.serve gateway` (or any ASGI server on
`create_app`, without the kit server's connection limits).

Unlike the three services it has no broker, outbox or consumers, so it does not use
`create_service_app`; it shares the kit's problem handlers, request ids, metrics, logging,
database and health routes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.gateway.clients import service as clients_service
from services.gateway.clients.auth import KeyAuthenticator
from services.gateway.clients.endpoints import router as clients_router
from services.gateway.edge import BodyLimits, GatewayEdge, Slots
from services.gateway.openapi import router as openapi_router
from services.gateway.proxy import ServiceProxy, Upstream, close_session, new_session
from services.gateway.ratelimit import TokenBucketLimiter
from services.gateway.settings import GatewaySettings
from services.kit.app import add_operational_routes
from services.kit.db import Database
from services.kit.errors import install_problem_handlers
from services.kit.logging import RequestIdMiddleware, configure_logging
from services.kit.metrics import MetricsMiddleware

log = logging.getLogger(__name__)

SERVICE = "gateway"


def upstreams(settings: GatewaySettings) -> list[Upstream]:
    return [
        Upstream.at("registry", "/registry/v1", settings.registry_url),
        Upstream.at("subsidy", "/subsidy/v1", settings.subsidy_url),
        Upstream.at("sharing", "/sharing/v1", settings.sharing_url),
    ]


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    routes = upstreams(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(SERVICE, settings.log_level, settings.log_json)
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
        app.state.settings = settings
        app.state.upstreams = routes
        app.state.db = db
        app.state.authenticator = authenticator
        app.state.rate_limiter = TokenBucketLimiter(
            settings.rate_limit_per_second, settings.rate_limit_burst, max_keys=settings.rate_limit_max_tracked
        )
        app.state.unauthenticated_limiter = TokenBucketLimiter(
            settings.unauthenticated_rate_limit_per_second,
            settings.unauthenticated_rate_limit_burst,
            max_keys=settings.rate_limit_max_tracked,
        )
        app.state.body_limits = BodyLimits(
            default=settings.max_request_body_bytes, dataset_push=settings.dataset_push_max_body_bytes
        )
        app.state.push_slots = Slots(settings.dataset_push_max_concurrent)
        app.state.proxy = ServiceProxy(
            session,
            secret=settings.internal_secret.get_secret_value().encode(),
            spool_memory_bytes=settings.request_spool_memory_bytes,
        )
        try:
            if settings.bootstrap_admin_key is not None:
                await clients_service.ensure_bootstrap_admin(db, settings.bootstrap_admin_key.get_secret_value())
            log.info(
                "gateway started",
                extra={"database": db.engine.url.render_as_string(hide_password=True)},
            )
            yield
        finally:
            await close_session(session)
            await db.dispose()

    app = FastAPI(
        title="Rongchang employment platform gateway",
        description="API clients, keys and scopes, rate limits, and routing to the registry, subsidy and sharing.",
        version="1.0.0",
        lifespan=lifespan,
        # Metrics go to Prometheus through the kit; FastAPI's own OpenTelemetry hook would otherwise
        # look up the global providers on every request, hot path included.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # `/openapi.json` and `/docs` serve the merged document of all four parts (openapi.py).
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # A redirect for a missing or extra slash would name the gateway's own scheme and host as
        # the app sees them; an unknown path is a 404 problem instead.
        redirect_slashes=False,
    )
    install_problem_handlers(app)
    app.include_router(clients_router)
    app.include_router(openapi_router)
    add_operational_routes(app, None)
    # Added innermost first: request id -> metrics -> edge (auth, rate limit, proxy) -> routes.
    app.add_middleware(GatewayEdge, upstreams=routes)
    app.add_middleware(MetricsMiddleware, service=SERVICE)
    app.add_middleware(RequestIdMiddleware)
    return app
