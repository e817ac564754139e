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

from services.gateway.clients.endpoints import router as clients_router
from services.gateway.edge import GatewayEdge
from services.gateway.openapi import router as openapi_router
from services.gateway.runtime import GatewayRuntime
from services.gateway.settings import GatewaySettings
from services.kit.app import add_operational_routes
from services.kit.docs import install_docs
from services.kit.errors import install_problem_handlers
from services.kit.logging import RequestIdMiddleware, configure_logging
from services.kit.metrics import MetricsMiddleware
from services.kit.openapi import install_openapi
from services.kit.tracing import TraceContextMiddleware, configure_tracing

log = logging.getLogger(__name__)

SERVICE = "gateway"


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    runtime = GatewayRuntime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(SERVICE, settings.log_level, settings.log_json)
        configure_tracing(SERVICE, settings.traces_exporter)
        try:
            await runtime.start()
            # The kit's session dependency and readiness probe find the database here.
            app.state.db = runtime.db
            log.info(
                "gateway started",
                extra={"database": runtime.db.engine.url.render_as_string(hide_password=True)},
            )
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Rongchang employment platform gateway",
        description="API clients, keys and scopes, rate limits, and routing to the registry, subsidy and sharing.",
        version="1.0.0",
        lifespan=lifespan,
        # Metrics go to Prometheus through the kit; FastAPI's own OpenTelemetry hook would otherwise
        # look up the global providers on every request, hot path included.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # `/openapi.json`, `/docs` and `/redoc` serve the merged document of all four parts (openapi.py).
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # A redirect for a missing or extra slash would name the gateway's own scheme and host as
        # the app sees them; an unknown path is a 404 problem instead.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.include_router(clients_router)
    app.include_router(openapi_router)
    install_docs(app)  # /docs and /redoc of the merged document, with their own assets
    install_openapi(app)
    add_operational_routes(app, None)
    # Added innermost first: request id -> metrics -> edge (auth, rate limit, proxy) -> routes.
    app.add_middleware(GatewayEdge, runtime=runtime)
    app.add_middleware(MetricsMiddleware, service=SERVICE)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(TraceContextMiddleware)
    return app
