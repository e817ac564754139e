"""W3C Trace Context across the platform (OpenTelemetry): a caller's `traceparent` is accepted, the
gateway's hop and each service's request are spans of that trace, the events a request writes carry
its `traceparent` as a Kafka header, and the consumer that applies one continues the trace, so the
events that effect writes in turn stay in it (gateway -> sharing -> sharing.fact.v1 -> registry ->
registry.person.v1 -> subsidy).

Spans are made by the OpenTelemetry SDK and exported nowhere unless `*_TRACES_EXPORTER=console`
(each finished span as JSON on stdout); a deployment with a collector installs its exporter and
sets the provider itself. The trace id is in every access log line either way."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
PROPAGATOR = TraceContextTextMapPropagator()
TRACER_NAME = "rongchang-employment"


def configure_tracing(service: str, exporter: str = "none") -> None:
    """Install the SDK's tracer provider once per process (a second call keeps the first)."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)


@functools.cache
def _tracer() -> trace.Tracer:
    # Once per process: each `get_tracer` call builds a new tracer, which cost about 3 % of the
    # registry's CPU in a bulk load (a span per fact). Obtained before `configure_tracing`, it is a
    # proxy that follows the provider installed later.
    return trace.get_tracer(TRACER_NAME)


def extract(headers: Iterable[tuple[str, str]]) -> otel_context.Context:
    """The trace context named by `traceparent` (and `tracestate`) among `headers`; empty if none."""
    carrier = {name.lower(): value for name, value in headers if name.lower() in (TRACEPARENT, TRACESTATE)}
    return PROPAGATOR.extract(carrier)


def current_headers() -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the current span; empty outside one."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier


def current_traceparent() -> str | None:
    return current_headers().get(TRACEPARENT)


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


@contextmanager
def span(name: str, kind: SpanKind, parent: otel_context.Context | None = None, **attributes: Any) -> Iterator[None]:
    """A span, current for the block, child of `parent` (or of the current span)."""
    with _tracer().start_as_current_span(name, context=parent, kind=kind, attributes=attributes or None):
        yield


@contextmanager
def consuming(topic: str, headers: Iterable[tuple[str, bytes]] | None) -> Iterator[None]:
    """The span of applying one record, continuing the trace its `traceparent` header names."""
    text = [(name, value.decode("latin-1")) for name, value in headers or () if value is not None]
    with span(f"{topic} process", SpanKind.CONSUMER, extract(text), **{"messaging.destination.name": topic}):
        yield


class TraceContextMiddleware:
    """Each HTTP request is a server span, the child of the caller's `traceparent` when it sent one
    (a malformed one is ignored, as the W3C spec says: a new trace starts)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        with span(f"{scope['method']} {scope['path']}", SpanKind.SERVER, extract(headers)):
            await self.app(scope, receive, send)
