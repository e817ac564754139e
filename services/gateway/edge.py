"""The gateway's front door, as plain ASGI: authenticate the key, apply the rate limit, then proxy
the service prefixes or hand `/gateway/v1` to FastAPI.

The three service prefixes never enter FastAPI's router or dependency injection: on the hot path
a request costs a dict lookup for the key, a token-bucket update, an HMAC and the hop itself.
Everything else (health, metrics, docs, the admin API, unknown paths answered 404) goes to the
FastAPI app underneath.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.clients.auth import KeyAuthenticator, bearer_key
from services.gateway.proxy import ServiceProxy, Upstream
from services.gateway.ratelimit import TokenBucketLimiter, retry_after_header
from services.kit.errors import problem_response
from services.kit.identity import Caller
from services.kit.logging import REQUEST_ID

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/gateway/v1"
_AUTHORIZATION = b"authorization"


class GatewayEdge:
    def __init__(self, app: ASGIApp, upstreams: Sequence[Upstream]) -> None:
        self.app = app
        self.upstreams = {upstream.prefix: upstream for upstream in upstreams}

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

        state = scope["app"].state
        authenticator: KeyAuthenticator = state.authenticator
        authorization = None
        for name, value in scope["headers"]:
            if name == _AUTHORIZATION:
                authorization = value
                break
        api_key = bearer_key(authorization)
        if api_key is None:
            await _unauthorized("Send an API key as `Authorization: Bearer <key>`.", 'Bearer realm="gateway"')(
                scope, receive, send
            )
            return
        try:
            client = await authenticator.authenticate(api_key)
        except Exception:
            log.exception("API key lookup failed")
            await problem_response(
                503, "unavailable", "Service unavailable", "The gateway cannot check API keys right now; retry later."
            )(scope, receive, send)
            return
        if client is None:
            await _unauthorized(
                "The API key is not valid or has been revoked.", 'Bearer realm="gateway", error="invalid_token"'
            )(scope, receive, send)
            return

        limiter: TokenBucketLimiter = state.rate_limiter
        wait_s = limiter.acquire(client.client_id)
        if wait_s > 0.0:
            await problem_response(
                429,
                "rate-limited",
                "Too many requests",
                "This API client has exceeded its request rate; retry after the given delay.",
                headers={"Retry-After": retry_after_header(wait_s)},
            )(scope, receive, send)
            return

        # The kit's RequestIdMiddleware keeps only printable ASCII ids, so every id can be signed.
        request_id = REQUEST_ID.get() or uuid.uuid4().hex

        if upstream is not None:
            proxy: ServiceProxy = state.proxy
            await proxy.forward(scope, receive, send, upstream, client, request_id)
            return

        if not client.is_admin:
            await problem_response(
                403,
                "forbidden",
                "Forbidden",
                "The gateway's API needs the scope 'admin'.",
                extensions={"required_scope": "admin"},
            )(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = Caller(client.client_id, client.agency, client.scopes, request_id)
        await self.app(scope, receive, send)


def _prefix(path: str) -> str:
    """The first two segments: `/registry/v1/persons/1` -> `/registry/v1`."""
    second = path.find("/", 1)
    if second < 0:
        return path
    third = path.find("/", second + 1)
    return path if third < 0 else path[:third]


def _unauthorized(detail: str, challenge: str) -> ASGIApp:
    return problem_response(401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": challenge})
