"""The caller identity the gateway forwards, signed so a service can trust it, body included.

The gateway authenticates the API key and forwards `x-client-id`, `x-client-agency`,
`x-client-scopes`, `x-request-id` and `content-digest` (RFC 9530, `sha-256=:<base64>:` of the body;
a request without a body carries the digest of the empty body) with an HMAC over them, the method,
the path, the query string and a timestamp, under the internal secret the services share with the
gateway. A request that did not come through the gateway has no valid signature and is refused
with 401.

A service checks the headers before its app runs, then the body while it streams in: each chunk is
hashed as the app receives it, and when the last chunk's digest differs from the signed one the app
never gets that chunk; the answer is 401 instead. A signed header set is good for `MAX_SKEW_S`
seconds either side of its timestamp and, within that window, once per process (`RequestIdCache`).
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.vocabulary import Scope as AccessScope

from .errors import Forbidden, PayloadTooLarge, Unauthorized, unavailable_response

CLIENT_ID = "x-client-id"
CLIENT_AGENCY = "x-client-agency"
CLIENT_SCOPES = "x-client-scopes"
REQUEST_ID = "x-request-id"
TIMESTAMP = "x-gateway-timestamp"
SIGNATURE = "x-gateway-signature"
CONTENT_DIGEST = "content-digest"
# How far a signed timestamp may be from the service's clock, either way. Short, because a header
# set captured on the internal network is a bearer token for this long (once per process, see
# RequestIdCache); the gateway signs after it has the whole body, so an upload's duration does not
# count against it.
MAX_SKEW_S = 30
# The largest body a service reads unless told otherwise: the largest any route accepts (a dataset
# push, 16 MiB). Routes enforce tighter limits of their own.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# Request ids remembered per process. At the window's 30 s, 200,000 covers over 3,000 signed
# requests a second per process (about 10 times what a service process carries here) in some
# 30 MB; when it is full, new requests are refused (503) rather than let a replay through.
REPLAY_CACHE_MAX_ENTRIES = 200_000
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"})
# The documentation pages' scripts and styles (docs.py): static, the same for everyone.
OPEN_PREFIXES = ("/docs-assets/",)

_DIGEST_PREFIX = "sha-256=:"
_NOT_THROUGH_GATEWAY = "Requests reach this service only through the gateway with a valid API key."


@dataclass(frozen=True, slots=True)
class Caller:
    client_id: str
    agency: str
    scopes: frozenset[str]
    request_id: str

    def has(self, scope: AccessScope) -> bool:
        return AccessScope.admin in self.scopes or scope in self.scopes


def digest_header(sha256: bytes) -> str:
    """The RFC 9530 `Content-Digest` value of a SHA-256 digest: `sha-256=:<base64>:`."""
    return _DIGEST_PREFIX + base64.b64encode(sha256).decode("ascii") + ":"


def content_digest(body: bytes) -> str:
    return digest_header(hashlib.sha256(body).digest())


def parse_content_digest(value: str) -> bytes | None:
    """The SHA-256 digest a `Content-Digest` value as the gateway writes it holds, else None."""
    if not value.startswith(_DIGEST_PREFIX) or not value.endswith(":"):
        return None
    try:
        digest = base64.b64decode(value[len(_DIGEST_PREFIX) : -1], validate=True)
    except ValueError:
        return None
    return digest if len(digest) == 32 else None


def signature(
    secret: bytes,
    *,
    method: str,
    path: str,
    query: str = "",
    client_id: str,
    agency: str,
    scopes: str,
    request_id: str,
    timestamp: str,
    content_digest: str,
) -> str:
    message = "\n".join(
        (method, path, query, client_id, agency, scopes, request_id, timestamp, content_digest)
    ).encode()
    return hmac.digest(secret, message, "sha256").hex()


def signed_headers(
    secret: bytes,
    *,
    method: str,
    path: str,
    query: str = "",
    client_id: str,
    agency: str,
    scopes: Iterable[str],
    request_id: str,
    body: bytes = b"",
    digest: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Headers the gateway adds; tests and benchmarks that call a service directly use them too.

    The signature covers the method, the path, the raw query string and the body (through its
    digest: give `body`, or `digest` when the caller hashed the body as it read it), so captured
    headers cannot be replayed against another resource, filter or body. `request_id` must be new
    for every request: a service accepts each id once within the window."""
    scope_text = " ".join(sorted(scopes))
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    body_digest = digest if digest is not None else content_digest(body)
    return {
        CLIENT_ID: client_id,
        CLIENT_AGENCY: agency,
        CLIENT_SCOPES: scope_text,
        REQUEST_ID: request_id,
        TIMESTAMP: stamp,
        CONTENT_DIGEST: body_digest,
        SIGNATURE: signature(
            secret,
            method=method,
            path=path,
            query=query,
            client_id=client_id,
            agency=agency,
            scopes=scope_text,
            request_id=request_id,
            timestamp=stamp,
            content_digest=body_digest,
        ),
    }


class Admission(Enum):
    FIRST = "first"
    REPLAYED = "replayed"
    FULL = "full"


class RequestIdCache:
    """The request ids this process accepted whose signed timestamp is still inside the window.

    The gateway gives every forwarded request a new id, so an id seen twice is a replay. An entry is
    kept until its timestamp leaves the window, after which the timestamp check refuses the
    header set anyway. Bounded: when `max_entries` ids are live, `admit` answers FULL and the
    request is refused, never let through unchecked.

    Per process: with N replicas behind one Service, a header set captured on the internal network
    can be replayed once more to each replica that has not seen it, within the window, with exactly
    the signed method, path, query and body (the signature covers them all), so the replay repeats
    the original request and cannot change it. Writes that must not happen twice are guarded by
    `Idempotency-Key` and the database's own constraints, not by this cache.
    """

    def __init__(self, window_s: float, max_entries: int, clock: Callable[[], float] = time.time) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self.clock = clock
        self._expiry: dict[str, float] = {}
        self._queue: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def admit(self, request_id: str, timestamp: float) -> Admission:
        self._prune(self.clock())
        if request_id in self._expiry:
            return Admission.REPLAYED
        if len(self._expiry) >= self.max_entries:
            return Admission.FULL
        expiry = timestamp + self.window_s
        self._expiry[request_id] = expiry
        heapq.heappush(self._queue, (expiry, request_id))
        return Admission.FIRST

    def _prune(self, now: float) -> None:
        queue = self._queue
        while queue and queue[0][0] < now:
            _, request_id = heapq.heappop(queue)
            self._expiry.pop(request_id, None)


class _BodyRefused(Exception):
    """Raised into the app by a guarded `receive`; the guard answers in its place."""


class _GuardedBody:
    """A `receive` that counts, and when a digest is expected hashes, the body as the app reads it."""

    __slots__ = ("expected", "hash", "max_bytes", "receive", "refusal", "size")

    def __init__(self, receive: Receive, max_bytes: int, expected: bytes | None) -> None:
        self.receive = receive
        self.max_bytes = max_bytes
        self.expected = expected
        self.hash = hashlib.sha256()
        self.size = 0
        self.refusal: ASGIApp | None = None

    async def __call__(self) -> Message:
        if self.refusal is not None:
            raise _BodyRefused
        message = await self.receive()
        if message["type"] != "http.request":
            return message
        chunk: bytes = message.get("body", b"")
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.refusal = payload_too_large(self.max_bytes)
            raise _BodyRefused
        if self.expected is not None:
            self.hash.update(chunk)
            if not message.get("more_body", False) and not hmac.compare_digest(self.hash.digest(), self.expected):
                self.refusal = Unauthorized("The request body does not match its signature.").response()
                raise _BodyRefused
        return message


def payload_too_large(max_bytes: int) -> ASGIApp:
    return PayloadTooLarge(f"The request body exceeds {max_bytes} bytes.", max_bytes=max_bytes).response()


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def guard_body(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, max_bytes: int, expected_digest: bytes | None = None
) -> None:
    """Run `app` on a `receive` that refuses a body over `max_bytes` as the bytes arrive and, with
    `expected_digest`, one whose SHA-256 differs, before the app gets its last chunk.

    A refusal is raised into the app, which may turn it into an answer of its own (FastAPI answers
    400 when reading the body fails); whatever it answers is dropped and the refusal sent instead,
    unless the app had already started its response (then the response is cut short)."""
    declared = declared_length(scope)
    if declared is not None and declared > max_bytes:
        await payload_too_large(max_bytes)(scope, receive, send)
        return
    body = _GuardedBody(receive, max_bytes, expected_digest)
    started = False

    async def send_unless_refused(message: Message) -> None:
        nonlocal started
        if body.refusal is not None:
            return
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await app(scope, body, send_unless_refused)
    except Exception:
        if body.refusal is None:
            raise
    if body.refusal is not None and not started:
        await body.refusal(scope, receive, send)


class GatewayIdentityMiddleware:
    """Verifies the forwarded identity and body, and puts a `Caller` in `scope["state"]["caller"]`.

    Refuses (401) a bad or stale signature, a request id already accepted within the window, and a
    body whose digest is not the signed one; refuses (413) a body over `max_body_bytes` as it
    arrives, before the app or the idempotency middleware buffers it."""

    def __init__(
        self,
        app: ASGIApp,
        secret: bytes,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        replay_window_s: float = MAX_SKEW_S,
        replay_cache_entries: int = REPLAY_CACHE_MAX_ENTRIES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.secret = secret
        self.max_body_bytes = max_body_bytes
        self.window_s = replay_window_s
        self.clock = clock
        self.seen = RequestIdCache(replay_window_s, replay_cache_entries, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or scope["path"].startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        verified = self._verify(scope, headers)
        if verified is None:
            await Unauthorized(_NOT_THROUGH_GATEWAY).response()(scope, receive, send)
            return
        caller, timestamp, digest = verified
        admission = self.seen.admit(caller.request_id, timestamp)
        if admission is Admission.REPLAYED:
            await Unauthorized(
                "This signed request was already received; the gateway signs every request anew."
            ).response()(scope, receive, send)
            return
        if admission is Admission.FULL:
            await unavailable_response("Too many requests within the replay window; retry shortly.", retry_after_s=1)(
                scope, receive, send
            )
            return
        scope.setdefault("state", {})["caller"] = caller
        await guard_body(self.app, scope, receive, send, max_bytes=self.max_body_bytes, expected_digest=digest)

    def _verify(self, scope: Scope, headers: dict[str, str]) -> tuple[Caller, int, bytes] | None:
        given = headers.get(SIGNATURE)
        timestamp = headers.get(TIMESTAMP, "")
        if not given or not given.isascii() or not (timestamp.isascii() and timestamp.isdigit()):
            return None
        if abs(self.clock() - int(timestamp)) > self.window_s:
            return None
        body_digest = headers.get(CONTENT_DIGEST, "")
        digest = parse_content_digest(body_digest)
        if digest is None:
            return None
        client_id = headers.get(CLIENT_ID, "")
        agency = headers.get(CLIENT_AGENCY, "")
        scopes = headers.get(CLIENT_SCOPES, "")
        request_id = headers.get(REQUEST_ID, "")
        expected = signature(
            self.secret,
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            client_id=client_id,
            agency=agency,
            scopes=scopes,
            request_id=request_id,
            timestamp=timestamp,
            content_digest=body_digest,
        )
        if not client_id or not request_id or not hmac.compare_digest(expected, given):
            return None
        return Caller(client_id, agency, frozenset(scopes.split()), request_id), int(timestamp), digest


async def current_caller(request: Request) -> Caller:
    caller = request.scope.get("state", {}).get("caller")
    if caller is None:
        raise Unauthorized("no authenticated caller")
    assert isinstance(caller, Caller)
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


def require_scope(scope: AccessScope, *alternatives: AccessScope) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency that returns the caller when it holds `scope`, one of the `alternatives`, or
    `admin`; else 403 naming `scope`.

    Dependencies are coroutines throughout: a plain `def` would cost a thread-pool hop per request."""

    async def dependency(request: Request) -> Caller:
        caller = await current_caller(request)
        if not any(caller.has(s) for s in (scope, *alternatives)):
            raise Forbidden(f"this operation needs the scope '{scope}'", required_scope=str(scope))
        return caller

    # Read by the OpenAPI document (openapi.py): the operation's required scopes.
    dependency.required_scopes = (str(scope), *(str(s) for s in alternatives))  # type: ignore[attr-defined]
    return dependency
