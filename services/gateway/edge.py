"""The gateway's front door, as plain ASGI: authenticate the key, apply the rate limits, check what
can be checked before the body is read, then proxy the service prefixes or hand `/gateway/v1` to
FastAPI.

The three service prefixes never enter FastAPI's router or dependency injection: on the hot path
a request costs a dict lookup for the key, a token-bucket update, a SHA-256 of the body, an HMAC and
the hop itself. Everything else (health, metrics, docs, the admin API, unknown paths answered 404)
goes to the FastAPI app underneath.

Before a byte of the body is read: the key (401), the client's rate and any tighter rate of the
route it asks for, such as identity verification (429), unauthenticated requests per source
address (429, so a flood of bad keys costs neither many database look-ups nor much else), and for
a dataset push the scope and the agency (403) and a free slot among the pushes in flight (503).
Each route's body limit is then enforced as the bytes arrive (413).
"""

from __future__ import annotations

import logging
import re
import secrets
import uuid

from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.vocabulary import Scope as AccessScope
from services.gateway.clients.auth import ClientIdentity, bearer_key
from services.gateway.ratelimit import retry_after_header
from services.gateway.runtime import GatewayRuntime
from services.kit.errors import AgencyMismatch, Forbidden, RateLimited, Unauthorized, unavailable_response
from services.kit.identity import Caller, declared_length, guard_body, payload_too_large
from services.kit.logging import REQUEST_ID

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/gateway/v1"
_AUTHORIZATION = b"authorization"
_REQUEST_ID = b"x-request-id"
# The one route with a large body: an agency pushing dataset records (sharing's documented 16 MiB).
_DATASET_PUSH = re.compile(r"/sharing/v1/agencies/([^/]+)/datasets/[^/]+/records")
# A caller's own request id is kept as the prefix of the one forwarded, so it stays searchable in
# the services' logs; the services keep ids up to 128 characters.
_CALLER_ID_KEPT = 100


class GatewayEdge:
    def __init__(self, app: ASGIApp, runtime: GatewayRuntime) -> None:
        self.app = app
        self.runtime = runtime
        self.upstreams = {upstream.prefix: upstream for upstream in runtime.upstreams}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        prefix = _prefix(scope["path"])
        upstream = self.upstreams.get(prefix)
        if upstream is not None:
            scope["route"] = upstream.route
        elif prefix != ADMIN_PREFIX:
            await self.app(scope, receive, send)
            return

        runtime = self.runtime
        authorization = None
        caller_request_id = None
        for name, value in scope["headers"]:
            if name == _AUTHORIZATION:
                authorization = value
            elif name == _REQUEST_ID:
                caller_request_id = value
        client = await self._authenticate(scope, receive, send, bearer_key(authorization))
        if client is None:
            return

        over_rate = _over_rate(runtime, client.client_id, scope["method"], scope["path"])
        if over_rate is not None:
            await over_rate(scope, receive, send)
            return

        limits = runtime.body_limits
        if upstream is not None:
            push = _DATASET_PUSH.fullmatch(scope["path"]) if scope["method"] == "POST" else None
            if push is not None:
                refusal = _push_refusal(client, push.group(1))
                if refusal is not None:
                    await refusal.response()(scope, receive, send)
                    return
            proxy = runtime.proxy
            request_id = _forwarded_request_id(caller_request_id)
            # Who called, for the request's log line (metrics.py); the service gets it signed.
            scope.setdefault("state", {})["caller"] = Caller(client.client_id, client.agency, client.scopes, request_id)
            if push is None:
                await proxy.forward(scope, receive, send, upstream, client, request_id, max_body_bytes=limits.default)
                return
            declared = declared_length(scope)
            if declared is not None and declared > limits.dataset_push:
                # Refused without taking one of the pushes' slots.
                await payload_too_large(limits.dataset_push)(scope, receive, send)
                return
            pushes = runtime.push_slots
            if not pushes.take():
                await unavailable_response(
                    f"{pushes.limit} dataset pushes are in progress; retry shortly.", retry_after_s=1
                )(scope, receive, send)
                return
            try:
                await proxy.forward(
                    scope, receive, send, upstream, client, request_id, max_body_bytes=limits.dataset_push
                )
            finally:
                pushes.give_back()
            return

        if not client.is_admin:
            not_admin = Forbidden("The gateway's API needs the scope 'admin'.", required_scope=AccessScope.admin.value)
            await not_admin.response()(scope, receive, send)
            return
        request_id = REQUEST_ID.get() or uuid.uuid4().hex
        scope.setdefault("state", {})["caller"] = Caller(client.client_id, client.agency, client.scopes, request_id)
        await guard_body(self.app, scope, receive, send, max_bytes=limits.default)

    async def _authenticate(
        self, scope: Scope, receive: Receive, send: Send, api_key: str | None
    ) -> ClientIdentity | None:
        """The client holding the key; None when the request was answered (401, 429 or 503).

        A request that may fail authentication counts against its source address, and an address
        that has used up its allowance is refused before any database look-up."""
        anonymous = self.runtime.unauthenticated_limiter
        peer = scope.get("client")
        address = peer[0] if peer else "unknown"
        if api_key is None:
            await self._refuse(scope, receive, send, anonymous.acquire(address), missing=True)
            return None
        authenticator = self.runtime.authenticator
        known, client = authenticator.cached(api_key)
        if not known:
            wait_s = anonymous.wait_s(address)
            if wait_s > 0.0:
                await _rate_limited("Too many requests without a valid API key from this address", wait_s)(
                    scope, receive, send
                )
                return None
            try:
                client = await authenticator.authenticate(api_key)
            except Exception:
                log.exception("API key lookup failed")
                await unavailable_response(
                    "The gateway cannot check API keys right now; retry later.", retry_after_s=1
                )(scope, receive, send)
                return None
        if client is None:
            await self._refuse(scope, receive, send, anonymous.acquire(address), missing=False)
        return client

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, wait_s: float, *, missing: bool) -> None:
        if wait_s > 0.0:
            response = _rate_limited("Too many requests without a valid API key from this address", wait_s)
        elif missing:
            response = _unauthorized("Send an API key as `Authorization: Bearer <key>`.", 'Bearer realm="gateway"')
        else:
            response = _unauthorized(
                "The API key is not valid or has been revoked.", 'Bearer realm="gateway", error="invalid_token"'
            )
        await response(scope, receive, send)


def _over_rate(runtime: GatewayRuntime, client_id: str, method: str, path: str) -> ASGIApp | None:
    """429 when the client has used up its general rate, or a route's tighter one; None to go on.

    A route with its own limit takes a token from both buckets: it still costs the service as much
    as any request, and an entry can then only tighten, never loosen. A refused request takes a
    token from neither, so requests turned away on one route do not eat the client's allowance for
    the others. The path is matched exactly: the services do not redirect slashes, so
    `/identity/` is a 404 there rather than a way around the limit."""
    general = runtime.rate_limiter
    route = runtime.route_limiters.get((method, path))
    if route is None:
        wait_s = general.acquire(client_id)
        return None if wait_s == 0.0 else _rate_limited("This API client has exceeded its request rate", wait_s)
    wait_s = general.wait_s(client_id)
    if wait_s > 0.0:
        return _rate_limited("This API client has exceeded its request rate", wait_s)
    wait_s = route.acquire(client_id)
    if wait_s > 0.0:
        return _rate_limited(
            f"{method} {path} has a tighter per-client limit than other routes ({route.rate:g} a second, "
            f"{route.burst:g} at once), and this API client has exceeded it",
            wait_s,
        )
    # Nothing awaited since the peek, and time only adds tokens: this is granted.
    general.acquire(client_id)
    return None


def _push_refusal(client: ClientIdentity, agency: str) -> Forbidden | None:
    """403 for a dataset push the key may not make, before its body is read; the sharing service
    checks the same again."""
    if client.is_admin:
        return None
    if AccessScope.sharing_submit not in client.scopes:
        submit = AccessScope.sharing_submit.value
        return Forbidden(f"this operation needs the scope {submit!r}", required_scope=submit)
    if agency != client.agency:
        return AgencyMismatch(
            f"a key of agency {client.agency!r} may push only that agency's datasets, not {agency!r}'s"
        )
    return None


def _forwarded_request_id(caller_request_id: bytes | None) -> str:
    """A request id no other forwarded request has, because a service accepts each signed id once.

    Without an id of the caller's, the one the kit's RequestIdMiddleware made (a fresh UUID) is
    used as it is. With one, the caller's id is kept as a prefix, `<caller-id>.<nonce>`, so it can
    still be found in the services' logs; the caller gets its own id back either way."""
    own = REQUEST_ID.get()
    if own is None:
        return uuid.uuid4().hex
    if caller_request_id is None or caller_request_id.decode("latin-1")[:128] != own:
        return own
    return f"{own[:_CALLER_ID_KEPT]}.{secrets.token_hex(12)}"


def _prefix(path: str) -> str:
    """The first two segments: `/registry/v1/persons/1` -> `/registry/v1`."""
    second = path.find("/", 1)
    if second < 0:
        return path
    third = path.find("/", second + 1)
    return path if third < 0 else path[:third]


def _unauthorized(detail: str, challenge: str) -> ASGIApp:
    return Unauthorized(detail).response(headers={"WWW-Authenticate": challenge})


def _rate_limited(what: str, wait_s: float) -> ASGIApp:
    return RateLimited(f"{what}; retry after the given delay.").response(
        headers={"Retry-After": retry_after_header(wait_s)}
    )
