"""What each operation's OpenAPI entry says beyond FastAPI's defaults, for the gateway and every
service: the problems it answers (application/problem+json, one example per problem type), the
scope it needs, `Idempotency-Key` on POSTs, an example of its body and of its answer, and a short
operationId (the route function's name).

A route names the problems of its own domain with `responses=problems(PersonNotFound, ...)`; the
ones every operation shares (401, 403, 422, 429, 503, and the idempotency problems of a POST) are
added here, so no route repeats them. An example a model does not declare is composed from its
fields' examples (`example_of`), so a field's `examples=[...]` shows in every answer that holds it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field

from contracts.examples import SCHEMAS, example_of

from .errors import (
    PROBLEM_JSON,
    CommitOutcomeUnknown,
    DomainError,
    Forbidden,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidCursor,
    InvalidIdempotencyKey,
    MalformedBody,
    PayloadTooLarge,
    RateLimited,
    RequestAlreadyApplied,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
    problem_body,
)

PROBLEM_SCHEMA = "Problem"
SECURITY_SCHEME = "apiKey"
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retried POST safe: the same key with the same body answers the first outcome again "
        "instead of applying it twice; with another body it is 422 `idempotency-key-reused`. "
        "Kept for 24 hours."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
    "example": "import-2026-12-dibao-batch-0001",
}
# Every operation is reached through the gateway: a key, its rate, a database or broker that is up.
EVERY_OPERATION: tuple[type[DomainError], ...] = (Unauthorized, RateLimited, ServiceUnavailable)
IDEMPOTENT_POST: tuple[type[DomainError], ...] = (
    InvalidIdempotencyKey,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    RequestAlreadyApplied,
)


class ValidationErrorItem(BaseModel):
    location: str = Field(description="Where the bad value is: `body.person.id_number`, `query.limit`")
    message: str
    type: str | None = Field(default=None, description="pydantic's error type, e.g. `string_too_long`")


class Problem(BaseModel):
    """An RFC 9457 problem: `type` names the problem (`urn:rongchang-employment:problem:<slug>`) and
    fixes its `status`; members beyond these five are the problem type's own (`errors` of a
    validation failure, `person_id` of a conflict, `required_scope` of a refusal)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:rongchang-employment:problem:person-not-found"])
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    errors: list[ValidationErrorItem] | None = Field(
        default=None, description="`validation-error`: every invalid value, not only the first"
    )


def problems(*types: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: the problem types it can answer, grouped by status."""
    responses: dict[int | str, dict[str, Any]] = {}
    for problem in types:
        _add_problem(responses, problem)
    return responses


def _add_problem(responses: dict[Any, dict[str, Any]], problem: type[DomainError]) -> None:
    """Add `problem` to the answer of its status, keeping what the route already said about it."""
    entry = responses.setdefault(str(problem.status), {})
    media = entry.setdefault("content", {}).setdefault(PROBLEM_JSON, {})
    media["schema"] = {"$ref": SCHEMAS + PROBLEM_SCHEMA}
    examples = media.setdefault("examples", {})
    if problem.slug in examples:
        return
    examples[problem.slug] = {
        "summary": problem.title,
        "value": problem_body(problem.status, problem.slug, problem.title, _example_detail(problem)),
    }
    line = f"`{problem.slug}`: {problem.title}"
    entry["description"] = f"{entry['description']}; {line}" if entry.get("description") else line


def _example_detail(problem: type[DomainError]) -> str:
    doc = (problem.__doc__ or "").strip()
    inherited = any(doc == (base.__doc__ or "").strip() for base in problem.__mro__[1:])
    return " ".join(doc.split("\n\n")[0].split()) if doc and not inherited else problem.title


def route_scopes(dependant: Dependant) -> tuple[str, ...]:
    """The scopes a route's dependencies require (`require_scope`), any one of which (or admin) will do."""
    for dependency in dependant.dependencies:
        scopes: tuple[str, ...] | None = getattr(dependency.call, "required_scopes", None)
        if scopes:
            return scopes
        found = route_scopes(dependency)
        if found:
            return found
    return ()


def install_openapi(app: FastAPI) -> None:
    """Replace `app.openapi` with one that completes FastAPI's document (see the module docstring)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete_document(document, app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete_document(document: dict[str, Any], routes: Iterable[Any]) -> dict[str, Any]:
    document = copy.deepcopy(document)
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template=SCHEMAS + "{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas[PROBLEM_SCHEMA] = problem_schema
    for route in iter_route_contexts(list(routes)):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        item = document.get("paths", {}).get(route.path_format, {})
        for method in sorted(route.methods or ()):
            operation = item.get(method.lower())
            if operation is not None:
                _complete_operation(operation, route, method, schemas)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _complete_operation(operation: dict[str, Any], route: RouteContext, method: str, schemas: dict[str, Any]) -> None:
    operation["operationId"] = route.name
    responses: dict[str, Any] = operation.setdefault("responses", {})
    # FastAPI documents its own validation error shape when the route declares no 422; ours is a
    # problem (errors.py). A route's own 422 problems stay.
    if PROBLEM_JSON not in responses.get("422", {}).get("content", {}):
        responses.pop("422", None)
    scopes = route_scopes(route.dependant)
    shared: list[type[DomainError]] = list(EVERY_OPERATION)
    if scopes:
        operation["security"] = [{SECURITY_SCHEME: list(scopes)}]
        operation["x-required-scopes"] = list(scopes)
        needed = " or ".join(f"`{scope}`" for scope in scopes)
        operation["description"] = (operation.get("description", "") + f"\n\n**Scope:** {needed} (or `admin`).").strip()
        shared.append(Forbidden)
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    if parameters or "requestBody" in operation:
        shared.append(ValidationFailed)
    if any(parameter["name"] == "cursor" for parameter in parameters):
        shared.append(InvalidCursor)
    if "requestBody" in operation:
        shared.extend((MalformedBody, PayloadTooLarge))
    if method == "POST":
        parameters.append(dict(IDEMPOTENCY_KEY))
        shared.extend(IDEMPOTENT_POST)
    if method != "GET":
        # The connection failed while COMMIT was in flight: the caller cannot know the outcome.
        shared.append(CommitOutcomeUnknown)
    declared = {str(status): response for status, response in responses.items()}
    for problem in shared:
        _add_problem(declared, problem)
    operation["responses"] = dict(sorted(declared.items()))
    if not parameters:
        del operation["parameters"]
    body = operation.get("requestBody", {}).get("content", {})
    for media in body.values():
        _set_example(media, schemas)
    for status, response in declared.items():
        if status.startswith("2"):
            for media in response.get("content", {}).values():
                _set_example(media, schemas)


def _set_example(media: dict[str, Any], schemas: dict[str, Any]) -> None:
    if "example" in media or "examples" in media or "schema" not in media:
        return
    example = example_of(media["schema"], schemas)
    if example is not None:
        media["example"] = example
