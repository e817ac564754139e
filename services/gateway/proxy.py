"""The hop from the gateway to a service: one shared aiohttp session, raw ASGI on both sides.

Which client, and why: the hop uses `aiohttp.ClientSession` (a `TCPConnector` with a sized pool of
keep-alive connections per service), not httpx. Measured on this 2-core machine (issue 2, section 7)
a FastAPI proxy with one shared `httpx.AsyncClient` fell to 1/8-1/12 of a bare FastAPI POST, about
3 ms of CPU per proxied request spent in httpx/httpcore's pure-Python connection pool and anyio
layers, while aiohttp's client, whose HTTP parser and header multidicts are C extensions, kept
about 0.57. The rest of the hot path is kept lean for the same reason: the edge (`edge.py`)
handles the proxied prefixes as plain ASGI without FastAPI routing or dependency injection, keys
are looked up in memory (`clients/auth.py`), the request body is passed on as the bytes received
and the response as the bytes sent, never parsed. Measured with this gateway on the same machine
(uvicorn with uvloop and httptools, 32 connections): about 210-230 us of gateway CPU per proxied
request, and 0.57-0.70 (median 0.63) of the throughput of calling the bare FastAPI + asyncpg
insert app directly.

What is forwarded: method, raw path, query string, body and headers, minus hop-by-hop headers,
`Authorization` (a service never sees an API key), any incoming `x-client-*`/`x-gateway-*` header
(a caller must not forge an identity) and `Content-Digest`; plus the identity headers signed under
the internal secret (`services.kit.identity.signed_headers`), the request id and the body's
`Content-Digest`, which the signature covers. A service that cannot be reached is a 502 problem,
one that does not answer in time a 504 problem.

The body: the signature needs its digest before the headers go out, so the body is read whole
first, hashed as it arrives and refused with 413 as soon as it outgrows the route's limit (or at
once, when its Content-Length says it will). It is kept in memory up to a threshold (1 MiB by
default, which covers every route but the dataset push) and on a temporary file beyond, and sent
to the service from there, so a 16 MiB push costs 1 MiB of memory, not 16.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote

import aiohttp
from prometheus_client import Counter
from starlette.types import Receive, Scope, Send
from yarl import URL

from services.gateway.clients.auth import ClientIdentity
from services.gateway.problems import UpstreamTimeout, UpstreamUnavailable
from services.kit.identity import declared_length, digest_header, payload_too_large, signed_headers
from services.kit.tracing import current_headers

log = logging.getLogger(__name__)

UPSTREAM_FAILURES = Counter(
    "gateway_upstream_failures_total", "Proxied requests that got no answer from the service", ["upstream", "reason"]
)

# RFC 9110 section 7.6.1 hop-by-hop headers, plus those the gateway sets itself.
_DROPPED_REQUEST_HEADERS = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"authorization",
        b"x-request-id",
        # The trace goes on as the gateway's span (tracing.py), not as the caller's.
        b"traceparent",
        b"tracestate",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        # The body is read whole before the hop, so any 100-continue was answered here already.
        b"expect",
        # The gateway states the digest of the body it forwards, under its signature.
        b"content-digest",
    }
)
_FORGEABLE_PREFIXES = (b"x-client-", b"x-gateway-")
# The gateway's own server sets `date` and `server`; a second copy from the service would duplicate them.
_DROPPED_RESPONSE_HEADERS = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"date",
        b"server",
    }
)
# Responses up to this size are read whole and sent in one message; larger or unsized ones stream.
_BUFFERED_RESPONSE_LIMIT = 1024 * 1024
# Characters left as they are when a raw path must be percent-encoded again.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


@dataclass(frozen=True, slots=True)
class PrefixRoute:
    """Stands in for a Starlette route in `scope["route"]`, so metrics label proxied requests by
    prefix (`/registry/v1/{path}`), never by raw path."""

    path: str


@dataclass(frozen=True, slots=True)
class Upstream:
    name: str
    prefix: str
    base_url: str
    route: PrefixRoute

    @classmethod
    def at(cls, name: str, prefix: str, base_url: str) -> Upstream:
        return cls(name, prefix, base_url.rstrip("/"), PrefixRoute(prefix + "/{path}"))


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


class BodySpool:
    """A request body as it arrives: hashed, kept in memory up to `memory_bytes`, on an anonymous
    temporary file beyond (deleted when closed)."""

    def __init__(self, memory_bytes: int) -> None:
        self.memory_bytes = memory_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        self._chunks: list[bytes] = []
        self._file: BinaryIO | None = None

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)
        if self._file is None and self.size <= self.memory_bytes:
            self._chunks.append(chunk)
            return
        if self._file is None:
            # Writes land in the page cache: about 0.6 ms of the event loop per MiB, measured here.
            self._file = tempfile.TemporaryFile(prefix="gateway-body-")
            self._file.writelines(self._chunks)
            self._chunks = []
        self._file.write(chunk)

    @property
    def digest(self) -> str:
        return digest_header(self._hash.digest())

    def payload(self) -> bytes | BinaryIO | None:
        """What the hop sends: the bytes, the file from its start, or None for an empty body."""
        if self._file is not None:
            self._file.flush()
            self._file.seek(0)
            return self._file
        if not self.size:
            return None
        return self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)

    def close(self) -> None:
        self._chunks = []
        if self._file is not None:
            self._file.close()


def new_session(
    *, pool_size: int, keepalive_s: float, connect_timeout_s: float, timeout_s: float
) -> aiohttp.ClientSession:
    """The one session of the hop; created in the lifespan, closed at shutdown."""
    connector = aiohttp.TCPConnector(
        limit=pool_size,
        limit_per_host=pool_size,
        keepalive_timeout=keepalive_s,
        use_dns_cache=True,
        ttl_dns_cache=300,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s),
        # Callers share the session: it must keep no cookies between them.
        cookie_jar=aiohttp.DummyCookieJar(),
        # Bodies pass through as sent; headers the caller did not send are not invented.
        auto_decompress=False,
        skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
        raise_for_status=False,
        trust_env=False,
    )


class ServiceProxy:
    def __init__(self, session: aiohttp.ClientSession, *, secret: bytes, spool_memory_bytes: int) -> None:
        self.session = session
        self.secret = secret
        self.spool_memory_bytes = spool_memory_bytes

    async def forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        client: ClientIdentity,
        request_id: str,
        *,
        max_body_bytes: int,
    ) -> None:
        try:
            body = await self._read_body(scope, receive, max_body_bytes)
        except BodyTooLarge:
            await payload_too_large(max_body_bytes)(scope, receive, send)
            return
        except ClientGone:
            return
        try:
            await self._exchange(scope, receive, send, upstream, client, request_id, body)
        finally:
            body.close()

    async def _exchange(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        client: ClientIdentity,
        request_id: str,
        body: BodySpool,
    ) -> None:
        # Signed only now that the body is in: a slow upload does not use up the signature's window.
        headers = self._request_headers(scope, client, request_id, body.digest)
        url = URL(upstream.base_url + _target(scope), encoded=True)
        started = False
        try:
            async with self.session.request(
                scope["method"], url, headers=headers, data=body.payload(), allow_redirects=False
            ) as response:
                response_headers = [
                    (name.lower(), value)
                    for name, value in response.raw_headers
                    if name.lower() not in _DROPPED_RESPONSE_HEADERS
                ]
                length = response.content_length
                if length is not None and length <= _BUFFERED_RESPONSE_LIMIT:
                    response_body = await response.read()
                    started = True
                    await send({"type": "http.response.start", "status": response.status, "headers": response_headers})
                    await send({"type": "http.response.body", "body": response_body})
                    return
                started = True
                await send({"type": "http.response.start", "status": response.status, "headers": response_headers})
                async for chunk in response.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        except TimeoutError:
            timeout = UpstreamTimeout(f"The {upstream.name} service did not answer in time.")
            await self._failed(scope, receive, send, upstream, started, timeout, "timeout")
        except aiohttp.ClientError as exc:
            log.debug("hop failed", exc_info=exc)
            unreachable = UpstreamUnavailable(f"The {upstream.name} service could not be reached.")
            await self._failed(scope, receive, send, upstream, started, unreachable, "unreachable")

    async def _failed(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        started: bool,
        problem: UpstreamTimeout | UpstreamUnavailable,
        reason: str,
    ) -> None:
        UPSTREAM_FAILURES.labels(upstream.name, reason).inc()
        log.warning(
            "hop to the service failed", extra={"upstream": upstream.name, "reason": reason, "after_start": started}
        )
        if started:
            # The status line has gone out: all that is left is to cut the response short, which
            # the server does when the application returns without finishing it.
            return
        await problem.response()(scope, receive, send)

    async def _read_body(self, scope: Scope, receive: Receive, max_bytes: int) -> BodySpool:
        declared = declared_length(scope)
        if declared is not None and declared > max_bytes:
            raise BodyTooLarge
        spool = BodySpool(self.spool_memory_bytes)
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                chunk: bytes = message.get("body", b"")
                if chunk:
                    if spool.size + len(chunk) > max_bytes:
                        raise BodyTooLarge
                    spool.write(chunk)
                if not message.get("more_body", False):
                    return spool
        except BaseException:
            spool.close()
            raise

    def _request_headers(
        self, scope: Scope, client: ClientIdentity, request_id: str, digest: str
    ) -> list[tuple[str, str]]:
        raw: list[tuple[bytes, bytes]] = scope["headers"]
        try:
            headers = [
                (name.decode("latin-1"), value.decode())
                for name, value in raw
                if name not in _DROPPED_REQUEST_HEADERS and not name.startswith(_FORGEABLE_PREFIXES)
            ]
        except UnicodeDecodeError:
            headers = [
                (name.decode("latin-1"), _header_text(value))
                for name, value in raw
                if name not in _DROPPED_REQUEST_HEADERS and not name.startswith(_FORGEABLE_PREFIXES)
            ]
        forwarded_for = ""
        for name, value in raw:
            if name == b"x-forwarded-for":
                forwarded_for = value.decode("latin-1")
            elif name == b"connection":
                # Headers the caller named in Connection are hop-by-hop too.
                named = {token.strip().decode("latin-1") for token in value.lower().split(b",")}
                headers = [header for header in headers if header[0] not in named]
        peer = scope.get("client")
        if peer:
            forwarded_for = f"{forwarded_for}, {peer[0]}" if forwarded_for else peer[0]
        if forwarded_for:
            headers.append(("x-forwarded-for", forwarded_for))
        headers.append(("x-forwarded-proto", scope.get("scheme", "http")))
        headers.extend(current_headers().items())
        headers.extend(
            signed_headers(
                self.secret,
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                client_id=client.client_id,
                agency=client.agency,
                scopes=client.scopes,
                request_id=request_id,
                digest=digest,
            ).items()
        )
        return headers


def _target(scope: Scope) -> str:
    """The path as the caller sent it (still percent-encoded) and the query string."""
    raw_path: bytes | None = scope.get("raw_path")
    if raw_path is None:
        path = quote(scope["path"], safe=_PATH_SAFE)
    elif raw_path.isascii():
        path = raw_path.decode("ascii")
    else:
        path = quote(raw_path, safe=_PATH_SAFE)
    query: bytes = scope.get("query_string", b"")
    if query:
        return path + "?" + (query.decode("ascii") if query.isascii() else quote(query, safe="=&;%+/:@!$'()*,?-._~"))
    return path


def _header_text(value: bytes) -> str:
    # aiohttp writes header values as UTF-8: decode them so, to pass UTF-8 values on unchanged.
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.decode("latin-1")


async def close_session(session: aiohttp.ClientSession) -> None:
    await session.close()
    # Let the connector's transports finish closing before the loop goes away.
    await asyncio.sleep(0)
