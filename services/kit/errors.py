"""Domain exceptions, the classification of infrastructure failures, and the one handler that
renders both as application/problem+json (RFC 9457)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy.exc
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:rongchang-employment:problem:"
# Seconds a caller is asked to wait when the database or the broker is out.
RETRY_AFTER_S = 5
# Set in the ASGI scope's state once the request's transaction has committed: a later failure must
# not tell the caller that nothing was changed.
COMMITTED_STATE = "transaction_committed"

log = logging.getLogger(__name__)


class DomainError(Exception):
    """An error a caller can act on. Each problem type is a named subclass that fixes its status,
    slug and title, so one problem type always has one status (a test walks them all); the detail
    and any extension members are the raise site's.

        class PersonNotFound(NotFound):
            slug, title = "person-not-found", "Person not found"
    """

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"
    # True for a refusal that is itself a record (an audited refusal to share data): the request's
    # transaction commits what was written before the raise, and the problem is still the answer.
    commits: bool = False

    def __init__(self, detail: str, **extensions: Any) -> None:
        if "slug" in extensions:
            raise TypeError("a problem type is a named DomainError subclass, not a slug= argument")
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        """This problem as the response (also an ASGI app): what the handler and middlewares send."""
        if self.status == 503:
            headers = {"Retry-After": str(RETRY_AFTER_S), **(headers or {})}
        return problem_response(
            self.status, self.slug, self.title, self.detail, headers=headers, extensions=self.extensions
        )


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class Unprocessable(DomainError):
    status, slug, title = 422, "unprocessable", "Unprocessable content"


class RateLimited(DomainError):
    """The client has used up its rate (the gateway's, or a route's tighter one): `Retry-After` says
    when to try again."""

    status, slug, title = 429, "rate-limited", "Too many requests"


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "unavailable", "Service unavailable"


class BadRequest(DomainError):
    """400: the request itself is malformed (a header, an unreadable body)."""


class MalformedBody(BadRequest):
    """The body could not be read as the declared media type (not JSON, say)."""

    slug, title = "malformed-body", "Malformed request body"


class PayloadTooLarge(DomainError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class ValidationFailed(Unprocessable):
    slug, title = "validation-error", "Request validation failed"


class AgencyMismatch(Forbidden):
    """An agency's key used on another agency's dataset: refused by the gateway before the body is
    read, and by the sharing service."""

    slug, title = "agency-mismatch", "Another agency's dataset"


class InvalidIdempotencyKey(BadRequest):
    slug, title = "invalid-idempotency-key", "Invalid Idempotency-Key"


class IdempotencyKeyReused(Unprocessable):
    slug, title = "idempotency-key-reused", "Idempotency-Key reused"


class IdempotencyKeyInFlight(Conflict):
    slug, title = "idempotency-key-in-flight", "Request in flight"


class RequestAlreadyApplied(Conflict):
    slug, title = "request-already-applied", "Request already applied"


class InvalidCursor(Unprocessable):
    slug, title = "invalid-cursor", "Invalid cursor"


class CommitOutcomeUnknown(ServiceUnavailable):
    """The connection failed while COMMIT was in flight: the change may or may not be saved."""

    slug, title = "commit-outcome-unknown", "Commit outcome unknown"


# SQLSTATE classes of a database that is away or overloaded, not of a bad statement:
# 08 connection exception, 53 insufficient resources (too many connections), 57P operator
# intervention (shutdown, crash, cannot connect now), 40001/40P01 serialization failure and deadlock
# (the same statement succeeds when tried again).
_TRANSIENT_SQLSTATES = ("08", "53", "57P", "40001", "40P01")
_TRANSIENT_SQLITE = ("database is locked", "database table is locked", "disk i/o error", "unable to open database")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend((current.__cause__, current.__context__, getattr(current, "orig", None)))


def is_infrastructure_error(exc: BaseException) -> bool:
    """True when the database or the broker failed, not the request or the event: such a failure is
    waited out (consumers) or answered 503 (requests), never dead-lettered or reported as a bug."""
    for error in _chain(exc):
        if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, sqlalchemy.exc.TimeoutError | OSError | TimeoutError):  # pool, socket
            return True
        if isinstance(error, KafkaError) and (error.retriable or error.invalid_metadata):
            return True
        sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATES):
            return True
        # 55000 is also raised for bad statements; a database closed to connections says so.
        if sqlstate == "55000" and "not currently accepting connections" in str(error):
            return True
        name = type(error).__name__
        # asyncpg's connection-level failures carry no SQLSTATE.
        if name in {"ConnectionDoesNotExistError", "ConnectionFailureError", "InternalClientError"}:
            return True
        if name == "InterfaceError" and "connection" in str(error).lower():
            return True
        if isinstance(error, sqlalchemy.exc.OperationalError) and str(error.orig).lower().startswith(_TRANSIENT_SQLITE):
            return True
    return False


def unavailable_response(detail: str, *, retry_after_s: int = RETRY_AFTER_S) -> JSONResponse:
    """503 `unavailable` with Retry-After: the one answer for "not now, nothing was changed"."""
    return problem_response(
        503, "unavailable", "Service unavailable", detail, headers={"Retry-After": str(retry_after_s)}
    )


def problem_body(
    status: int, slug: str, title: str, detail: str, extensions: dict[str, Any] | None = None
) -> dict[str, Any]:
    # The RFC 9457 members win over an extension of the same name.
    return {**(extensions or {}), "type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, slug, title, detail, extensions),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return exc.response()

    # Registered on the exception classes (not on Exception) so that Starlette's inner exception
    # middleware answers them: the idempotency middleware then sees the 503 and can free the key.
    async def _infrastructure(request: Request, exc: Exception) -> JSONResponse:
        if not is_infrastructure_error(exc):
            return _internal(request, exc)
        log.warning("infrastructure unavailable", extra={"error": repr(exc)[:300]})
        if _committed(request):
            detail = "The change was saved, but the service lost its database or broker before answering; retry later."
        else:
            detail = "The service's database or broker is unavailable; nothing was changed. Retry later."
        return unavailable_response(detail)

    for infrastructure in (sqlalchemy.exc.DBAPIError, sqlalchemy.exc.TimeoutError, OSError, KafkaError):
        app.add_exception_handler(infrastructure, _infrastructure)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "location": _location(err.get("loc", ())),
                "message": str(err.get("msg", "")).removeprefix("Value error, "),
                "type": err.get("type"),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"location": "", "message": "invalid request"}
        detail = f"{first['location']}: {first['message']}" if first["location"] else str(first["message"])
        return ValidationFailed(detail, errors=errors).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "There was an error parsing the body"
            return MalformedBody(str(exc.detail)).response()
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, slug, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _internal(request, exc)


def _committed(request: Request) -> bool:
    return bool(request.scope.get("state", {}).get(COMMITTED_STATE))


def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    if _committed(request):
        detail = "The change was saved, but the service failed while answering; read the resource to see it."
    else:
        detail = "The service failed; nothing was changed."
    return problem_response(500, "internal", "Internal error", detail)
