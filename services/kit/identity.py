"""The caller identity the gateway forwards, signed so a service can trust it.

The gateway authenticates the API key and forwards `x-client-id`, `x-client-agency`,
`x-client-scopes` and `x-request-id` with an HMAC over them, the method, the path and a
timestamp, under the internal secret the services share with the gateway. A request that did not
come through the gateway has no valid signature and is refused with 401.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import Forbidden, Unauthorized, problem_response

CLIENT_ID = "x-client-id"
CLIENT_AGENCY = "x-client-agency"
CLIENT_SCOPES = "x-client-scopes"
REQUEST_ID = "x-request-id"
TIMESTAMP = "x-gateway-timestamp"
SIGNATURE = "x-gateway-signature"
MAX_SKEW_S = 300
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect"})


@dataclass(frozen=True, slots=True)
class Caller:
    client_id: str
    agency: str
    scopes: frozenset[str]
    request_id: str

    def has(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


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
) -> str:
    message = "\n".join((method, path, query, client_id, agency, scopes, request_id, timestamp)).encode()
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
) -> dict[str, str]:
    """Headers the gateway adds; tests and benchmarks that call a service directly use them too.

    The signature covers the method, the path and the raw query string, so captured headers cannot
    be replayed against another resource or filter."""
    scope_text = " ".join(sorted(scopes))
    timestamp = str(int(time.time()))
    return {
        CLIENT_ID: client_id,
        CLIENT_AGENCY: agency,
        CLIENT_SCOPES: scope_text,
        REQUEST_ID: request_id,
        TIMESTAMP: timestamp,
        SIGNATURE: signature(
            secret,
            method=method,
            path=path,
            query=query,
            client_id=client_id,
            agency=agency,
            scopes=scope_text,
            request_id=request_id,
            timestamp=timestamp,
        ),
    }


class GatewayIdentityMiddleware:
    """Verifies the forwarded identity and puts a `Caller` in `scope["state"]["caller"]`."""

    def __init__(self, app: ASGIApp, secret: bytes) -> None:
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        caller = self._verify(scope, headers)
        if caller is None:
            response = problem_response(
                401,
                "unauthorized",
                "Unauthorized",
                "Requests reach this service only through the gateway with a valid API key.",
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)

    def _verify(self, scope: Scope, headers: dict[str, str]) -> Caller | None:
        given = headers.get(SIGNATURE)
        timestamp = headers.get(TIMESTAMP, "")
        if not given or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_S:
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
        )
        if not client_id or not hmac.compare_digest(expected, given):
            return None
        return Caller(client_id, agency, frozenset(scopes.split()), request_id)


async def current_caller(request: Request) -> Caller:
    caller = request.scope.get("state", {}).get("caller")
    if caller is None:
        raise Unauthorized("no authenticated caller")
    assert isinstance(caller, Caller)
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


def require_scope(scope: str) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency that returns the caller when it holds `scope` (or `admin`), else 403.

    Dependencies are coroutines throughout: a plain `def` would cost a thread-pool hop per request."""

    async def dependency(request: Request) -> Caller:
        caller = await current_caller(request)
        if not caller.has(scope):
            raise Forbidden(f"this operation needs the scope {scope!r}", required_scope=scope)
        return caller

    return dependency
