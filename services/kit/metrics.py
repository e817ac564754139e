"""Prometheus metrics shared by every service, and the ASGI middleware that records HTTP requests."""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .tracing import current_trace_id

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests by route template, method and status",
    ["service", "route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template and method",
    ["service", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Committed outbox events not yet published", ["service"])
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Outbox events published to Kafka", ["service"])
OUTBOX_RESENT = Counter(
    "outbox_resent_total", "Sent outbox events queued again because the broker came back without them", ["service"]
)
OUTBOX_BULK_LAG = Gauge(
    "outbox_bulk_lag",
    "Events of this outbox the consumer groups its bulk lane is paced by have yet to commit (the furthest "
    "behind); bulk events go only while it is under the service's relay_bulk_max_lag, or under what the group "
    "applies in relay_bulk_max_wait_s when that is more",
    ["service"],
)
CONSUMER_STALLED = Gauge(
    "consumer_stalled",
    "1 while a consumer has made no progress (no poll round, or no partition) for longer than allowed",
    ["service", "consumer"],
)
CONSUMER_LAG = Gauge(
    "consumer_lag",
    "Events on a topic after this consumer's committed offsets (the partitions' high watermarks from the "
    "latest fetch, minus the offsets committed), summed over the partitions this replica holds",
    ["service", "consumer", "topic"],
)
EVENTS_CONSUMED = Counter("events_consumed_total", "Events applied by a consumer", ["service", "consumer", "topic"])
EVENTS_DUPLICATE = Counter(
    "events_duplicate_total", "Events skipped because the inbox had them already", ["service", "consumer", "topic"]
)
EVENTS_FAILED = Counter("events_failed_total", "Failed attempts to apply an event", ["service", "consumer", "topic"])
EVENTS_CONFLICTING = Counter(
    "events_conflicting_total",
    "Events refused because their id was applied before with another payload",
    ["service", "consumer", "topic"],
)
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Events sent to the dead-letter topic", ["service", "consumer", "topic"]
)


ACCESS = logging.getLogger("services.kit.access")
# Probes and scrapes, several a minute from every prober: logged only at DEBUG.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def route_template(scope: Scope) -> str:
    """The template of the route that answered: FastAPI's routes put themselves in the scope;
    Starlette's (`/openapi.json`) and mounts (`/docs-assets`) leave only their endpoint, found among
    the app's routes. "unmatched" when nothing answered (a 404, or a refusal before routing)."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        for candidate in getattr(scope.get("app"), "routes", ()):
            if endpoint in (getattr(candidate, "endpoint", None), getattr(candidate, "app", None)):
                return str(candidate.path)
    return "unmatched"


class MetricsMiddleware:
    """Counts and times requests by route template, never by raw path (no id in a label), and logs
    one line per request: method, route template, status, duration and the caller's client and
    agency (the request id is added by the log formatter). Never the path or the query string,
    which may carry an id number."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            template = route_template(scope)
            method = scope["method"]
            elapsed = time.perf_counter() - start
            HTTP_REQUESTS.labels(self.service, template, method, str(status)).inc()
            HTTP_LATENCY.labels(self.service, template, method).observe(elapsed)
            caller = scope.get("state", {}).get("caller")
            ACCESS.log(
                logging.DEBUG if template in QUIET_ROUTES else logging.INFO,
                "request",
                extra={
                    "method": method,
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                    "client_id": getattr(caller, "client_id", None),
                    "agency": str(getattr(caller, "agency", "") or "") or None,
                    "trace_id": current_trace_id(),
                },
            )
