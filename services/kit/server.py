"""Connection limits uvicorn lacks, as a subclass of its httptools protocol: a deadline for the
request line and headers, a cap on their size, a deadline for the body, and caps on open
connections, globally and per source address.

uvicorn closes an idle keep-alive connection (`timeout_keep_alive`) but nothing else: a connection
that never sends a byte, or sends its headers a byte at a time (slowloris), or never finishes its
body, is kept forever, and enough of them exhaust the process's file descriptors. Here:

- a connection has `header_timeout_s` from opening, and a request from its first byte, to complete
  its request line and headers, in at most `max_header_bytes` (431 beyond);
- a request has `body_timeout_s` from its headers to complete its body, whether or not the app is
  still reading it (an early 413 leaves the rest to be drained, and that is bounded too);
- a connection opened while `max_connections` are open, or `max_connections_per_address` from the
  same address, is closed at once, before it costs more than its accept.

On a deadline the connection is closed; an app still reading the body gets `http.disconnect`.
`bounded_protocol(limits)` gives the class to pass as `uvicorn.Config(http=...)`;
`services.kit.serve` does that for the four apps.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter as Tally
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import get_remote_addr
from uvicorn.server import ServerState

from .errors import PROBLEM_BASE, PROBLEM_JSON
from .settings import ServiceSettings

log = logging.getLogger(__name__)

CONNECTIONS_OPEN = Gauge("http_connections_open", "Client connections open")
CONNECTIONS_REFUSED = Counter(
    "http_connections_refused_total", "Connections closed on accept, over a connection cap", ["cap"]
)
CONNECTIONS_TIMED_OUT = Counter(
    "http_connections_timed_out_total", "Connections closed for missing a deadline", ["phase"]
)
HEADERS_TOO_LARGE = Counter("http_headers_too_large_total", "Requests refused for headers over the size cap")

_HEADERS, _BODY, _APP = "headers", "body", "app"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_s: float
    body_timeout_s: float
    max_header_bytes: int
    max_connections: int
    max_connections_per_address: int

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> ConnectionLimits:
        return cls(
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            max_header_bytes=settings.max_header_bytes,
            max_connections=settings.max_connections,
            max_connections_per_address=settings.max_connections_per_address,
        )


class ConnectionCounter:
    """Open connections, in all and per source address; one per server (process)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.total = 0
        self.by_address: Tally[str] = Tally()

    def admit(self, address: str) -> str | None:
        """Count a new connection in; or name the cap it would exceed, and count nothing."""
        if self.total >= self.limits.max_connections:
            return "global"
        if self.by_address[address] >= self.limits.max_connections_per_address:
            return "per_address"
        self.total += 1
        self.by_address[address] += 1
        CONNECTIONS_OPEN.inc()
        return None

    def release(self, address: str) -> None:
        self.total -= 1
        left = self.by_address[address] - 1
        if left > 0:
            self.by_address[address] = left
        else:
            del self.by_address[address]
        CONNECTIONS_OPEN.dec()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the deadlines and caps above; see `bounded_protocol`."""

    limits: ConnectionLimits
    counter: ConnectionCounter

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._address: str | None = None
        self._phase = _HEADERS
        self._header_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        remote = get_remote_addr(transport)
        address = remote[0] if remote else "unknown"
        refused = self.counter.admit(address)
        if refused is not None:
            CONNECTIONS_REFUSED.labels(refused).inc()
            transport.close()
            return
        self._address = address
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s, _HEADERS)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._address is None:
            return  # refused on accept: nothing was set up
        self.counter.release(self._address)
        self._address = None
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase == _APP:
            # The first bytes of the next request (keep-alive or pipelined): its headers' turn.
            self._phase = _HEADERS
            self._header_bytes = 0
            self._arm(self.limits.header_timeout_s, _HEADERS)
        if self._phase == _HEADERS:
            self._header_bytes += len(data)
        super().data_received(data)
        if (
            self._phase == _HEADERS
            and self._header_bytes > self.limits.max_header_bytes
            and not self.transport.is_closing()
        ):
            HEADERS_TOO_LARGE.inc()
            self._refuse_headers()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase != _HEADERS:
            self._phase = _HEADERS
            self._header_bytes = 0
            self._arm(self.limits.header_timeout_s, _HEADERS)

    def on_headers_complete(self) -> None:
        self._phase = _BODY
        self._header_bytes = 0
        self._arm(self.limits.body_timeout_s, _BODY)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = _APP
        self._disarm()
        super().on_message_complete()

    def _arm(self, delay_s: float, phase: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(delay_s, self._expired, phase)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, phase: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        CONNECTIONS_TIMED_OUT.labels(phase).inc()
        log.debug("connection missed its deadline", extra={"phase": phase, "address": self._address})
        self.transport.close()

    def _refuse_headers(self) -> None:
        body = json.dumps(
            {
                "type": PROBLEM_BASE + "headers-too-large",
                "title": "Request header fields too large",
                "status": 431,
                "detail": f"The request line and headers exceed {self.limits.max_header_bytes} bytes.",
            }
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            + b"content-type: "
            + PROBLEM_JSON.encode()
            + b"\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + body
        )
        self.transport.close()


def bounded_protocol(limits: ConnectionLimits) -> type[BoundedHttpToolsProtocol]:
    """A protocol class bound to `limits` and to a counter of its own: one per server."""

    class Bound(BoundedHttpToolsProtocol):
        pass

    Bound.limits = limits
    Bound.counter = ConnectionCounter(limits)
    return Bound
