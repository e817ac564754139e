"""Builds a service's FastAPI app: middleware, problem handlers, health, metrics and the lifespan
that owns the engine, the producer, the outbox relay and the consumers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from contracts.topics import OUTBOX_WATERMARK

from .clock import SYSTEM_CLOCK, Clock
from .db import Database
from .docs import install_docs
from .errors import install_problem_handlers
from .idempotency import IdempotencyMiddleware
from .identity import GatewayIdentityMiddleware
from .inbox import BatchHandler, ConsumerRunner, EventHandler, purge_inbox_periodically
from .kafka import BrokerWatch, broker_reachable, ensure_topics, make_producer
from .logging import RequestIdMiddleware, configure_logging
from .metrics import MetricsMiddleware
from .openapi import install_openapi
from .outbox import OutboxRelay
from .pacing import BulkPace
from .settings import ServiceSettings
from .tasks import cancel_and_wait
from .tracing import TraceContextMiddleware, configure_tracing

log = logging.getLogger(__name__)

# Each step of the shutdown (background tasks, the broker watch, each consumer, the relay, the
# producer, the pool) gets this long; Kubernetes' grace period is 30 s.
SHUTDOWN_STEP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Subscription:
    """One consumer of the service: a name (its group and inbox key), topics and a handler."""

    consumer: str
    topics: Sequence[str]
    handler: EventHandler
    # False for a handler whose effect is idempotent by itself (a monotonic upsert, say): its events
    # are not recorded in the inbox, which would otherwise grow by every watermark.
    inbox: bool = True
    # True for news that is worthless once old (watermarks): a new group starts at the topic's end,
    # and no position is kept (in the database or the broker), so a restart starts there again.
    from_latest: bool = False
    # Applies a poll's events of a partition in one go (set-based SQL); `handler` stays the one
    # event at a time path it falls back to (see inbox.BatchHandler).
    batch_handler: BatchHandler | None = None
    # The topics `batch_handler` takes (none named: every topic of the subscription); a poll of
    # another topic is applied event by event by `handler`, in one transaction all the same.
    batch_topics: Sequence[str] = ()

    def runner(self, service: str, db: Database, producer: Any, settings: ServiceSettings) -> ConsumerRunner:
        """The consumer that runs this subscription (the service's lifespan; `rongchang projection rebuild`)."""
        return ConsumerRunner(
            service=service,
            consumer=self.consumer,
            topics=self.topics,
            handler=self.handler,
            inbox=self.inbox,
            from_latest=self.from_latest,
            batch_handler=self.batch_handler,
            batch_topics=self.batch_topics,
            db=db,
            producer=producer,
            settings=settings,
        )


@dataclass(frozen=True)
class Rebuildable:
    """What `rongchang projection rebuild <service>` wipes and reads again from the topics: the
    service's projection tables (children before parents) and the consumers that fill them. Every
    other consumer of the service must read from the latest offset, as a new group prefix moves
    them all."""

    tables: Sequence[str]
    consumers: Sequence[str]


@dataclass
class ServiceDefinition:
    name: str
    title: str
    description: str
    routers: Sequence[APIRouter]
    publishes: Sequence[str] = ()
    subscriptions: Sequence[Subscription] = ()
    on_startup: Sequence[Callable[[FastAPI], Awaitable[None]]] = field(default_factory=list)
    # Long-running work (a daily sweep): started after the consumers, cancelled first at shutdown.
    background: Sequence[Callable[[FastAPI], Coroutine[Any, Any, None]]] = field(default_factory=list)
    rebuildable: Rebuildable | None = None


async def warn_without_autovacuum(db: Database) -> None:
    """Warn once at start when PostgreSQL runs without autovacuum: a table that grows (a bulk load's
    facts) then keeps no statistics, and the planner reads it whole (a page of 500 people's facts
    took 57 ms instead of 3 ms after a 100,000-record load, 2026-12-06). Only a warning: a database
    that cannot be asked (not reachable yet, a wrong password, not created yet) is no reason to fail
    the start, and `/readyz` reports it."""
    try:
        off = await asyncio.wait_for(db.autovacuum_off(), timeout=5)
    except Exception as exc:
        log.debug("autovacuum not checked", extra={"error": type(exc).__name__})
        return
    if off:
        log.warning(
            "autovacuum is off on this PostgreSQL server: tables that grow keep no statistics and their "
            "reads turn into sequential scans; turn it on (PostgreSQL's default) or ANALYZE after each bulk load"
        )


async def _start_producer_with_retry(app: FastAPI, settings: ServiceSettings, attempts: int = 30) -> None:
    for attempt in range(1, attempts + 1):
        producer = make_producer(settings)
        try:
            await producer.start()
        except Exception:
            await producer.stop()
            if attempt == attempts:
                raise
            log.warning("broker not reachable yet; retrying", extra={"attempt": attempt})
            await asyncio.sleep(1.0)
            continue
        app.state.producer = producer
        return


async def _shutdown_step(name: str, step: Awaitable[Any]) -> None:
    """One step of a service's shutdown, bounded: a step that fails or hangs is logged, and the
    shutdown goes on, so the process ends (and the relay, the producer and the pool close) anyway."""
    started = time.monotonic()
    try:
        await asyncio.wait_for(step, SHUTDOWN_STEP_TIMEOUT_S)
    except TimeoutError:
        log.error("shutdown step timed out", extra={"step": name, "timeout_s": SHUTDOWN_STEP_TIMEOUT_S})
    except Exception:
        log.exception("shutdown step failed", extra={"step": name})
    took = time.monotonic() - started
    if took >= 1.0:  # a slow shutdown is what gets a pod SIGKILLed: say which part was slow
        log.info("shutdown step slow", extra={"step": name, "duration_s": round(took, 1)})


def create_service_app(
    definition: ServiceDefinition, settings: ServiceSettings, clock: Clock = SYSTEM_CLOCK
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(definition.name, settings.log_level, settings.log_json)
        configure_tracing(definition.name, settings.traces_exporter)
        db = Database(settings.database_url, pool_size=settings.database_pool_size)
        app.state.db = db
        app.state.settings = settings
        await warn_without_autovacuum(db)
        await _start_producer_with_retry(app, settings)
        producer = app.state.producer
        consumed = [t for s in definition.subscriptions for t in s.topics]
        topics = [*definition.publishes, *consumed, OUTBOX_WATERMARK]
        await ensure_topics(settings, topics)
        relay = OutboxRelay(
            db,
            producer,
            service=definition.name,
            batch_size=settings.relay_batch_size,
            idle_interval_s=settings.relay_idle_interval_s,
            watermark_interval_s=settings.relay_watermark_interval_s,
            retention=timedelta(seconds=settings.outbox_retention_s),
            prepare_cluster=lambda: ensure_topics(settings, topics),
            pace=BulkPace(
                settings.kafka_bootstrap_servers,
                [f"{settings.kafka_consumer_group_prefix}{group}" for group in settings.relay_bulk_pace_groups],
                service=definition.name,
                max_lag=settings.relay_bulk_max_lag,
                max_wait_s=settings.relay_bulk_max_wait_s,
                interval_s=settings.relay_bulk_pace_interval_s,
            )
            if settings.relay_bulk_pace_groups
            else None,
        )
        app.state.relay = relay
        db.on_commit(relay.wake_if_pending)
        watch = BrokerWatch(settings.kafka_bootstrap_servers, interval_s=settings.broker_watch_interval_s)
        relay.confirm_broker = watch.check
        watch.on_new_cluster(relay.on_new_cluster)
        runners = [sub.runner(definition.name, db, producer, settings) for sub in definition.subscriptions]
        for runner in runners:
            watch.on_new_cluster(runner.on_new_cluster)
        await watch.start()
        relay.start()
        for runner in runners:
            await runner.start()
        app.state.consumers = runners
        for hook in definition.on_startup:
            await hook(app)
        tasks: list[asyncio.Task[None]] = [
            asyncio.create_task(work(app), name=f"{definition.name}-background") for work in definition.background
        ]
        if any(sub.inbox for sub in definition.subscriptions):
            retention = timedelta(seconds=settings.inbox_retention_s)
            tasks.append(asyncio.create_task(purge_inbox_periodically(db, retention), name="inbox-purge"))
        log.info("service started", extra={"database": db.engine.url.render_as_string(hide_password=True)})
        try:
            yield
        finally:
            await _shutdown_step("background tasks", asyncio.gather(*(cancel_and_wait(task) for task in tasks)))
            # Each step runs even when one before it fails (a broker already gone, say). The consumers
            # stop side by side: each leaves its group and closes, which on a busy broker takes seconds.
            await _shutdown_step("broker watch", watch.stop())
            await asyncio.gather(*(_shutdown_step(f"consumer {r.group_id}", r.stop()) for r in runners))
            for name, step in (("outbox relay", relay.stop), ("producer", producer.stop), ("database", db.dispose)):
                await _shutdown_step(name, step())

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version="1.0.0",
        lifespan=lifespan,
        # Metrics go to Prometheus through the kit; FastAPI's OpenTelemetry hook would look up the
        # global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # No redirect from `/path/` to `/path`: its Location would name this service's internal
        # address, not the gateway's. A trailing slash is a 404 problem like any unknown path.
        redirect_slashes=False,
        # Served with their own assets, not a CDN's (docs.py).
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    install_openapi(app)
    app.state.settings = settings
    app.state.clock = clock
    app.state.definition = definition
    install_problem_handlers(app)
    for router in definition.routers:
        app.include_router(router)
    add_operational_routes(app, settings.kafka_bootstrap_servers)
    # Added innermost first: request id -> metrics -> gateway identity -> idempotency -> routes.
    app.add_middleware(IdempotencyMiddleware, lease_s=settings.idempotency_in_flight_lease_s)
    app.add_middleware(
        GatewayIdentityMiddleware,
        secret=settings.internal_secret.get_secret_value().encode(),
        max_body_bytes=settings.max_request_body_bytes,
    )
    app.add_middleware(MetricsMiddleware, service=definition.name)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(TraceContextMiddleware)
    return app


def add_operational_routes(app: FastAPI, bootstrap_servers: str | None) -> None:
    """`/healthz` (process alive), `/readyz` (database and broker reachable), `/metrics`."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(request.app.state.db.ping(), 2.0)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        if bootstrap_servers is not None:
            checks["broker"] = "ok" if await broker_reachable(bootstrap_servers) else "unreachable"
        stalled = [
            f"{runner.group_id} ({reason})"
            for runner in getattr(request.app.state, "consumers", [])
            if (reason := runner.stalled()) is not None
        ]
        if stalled:
            checks["consumers"] = "stalled: " + ", ".join(stalled)
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
