"""The merged OpenAPI document, as the gateway serves it, walked operation by operation: each one
says what it needs (scope, Idempotency-Key), what it answers when it refuses (problem+json with the
problem types), and shows an example of its body and its answer that fits its own schema.

The documents are the apps' own (`app.openapi()`), merged as the gateway merges them; no process or
database is needed to build them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from fastapi import FastAPI

from services.gateway.app import create_app as create_gateway
from services.gateway.openapi import merge_documents
from services.gateway.runtime import upstreams
from services.gateway.settings import GatewaySettings
from services.kit.errors import PROBLEM_BASE, PROBLEM_JSON
from services.registry.app import create_app as create_registry
from services.sharing.app import create_app as create_sharing
from services.subsidy.app import create_app as create_subsidy

METHODS = ("get", "post", "put", "patch", "delete")
OPERATION_ID = re.compile(r"^[a-z][a-z0-9_]{2,40}$")


def merged() -> dict[str, Any]:
    gateway_settings = GatewaySettings()
    services: dict[str, FastAPI] = {
        "registry": create_registry(),
        "subsidy": create_subsidy(),
        "sharing": create_sharing(),
    }
    documents = [(upstream, services[upstream.name].openapi()) for upstream in upstreams(gateway_settings)]
    return merge_documents(create_gateway(gateway_settings).openapi(), documents)


DOCUMENT = merged()


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOCUMENT["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


OPERATIONS = list(operations())


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    # The components travel with the schema so that its `$ref`s resolve.
    return jsonschema.Draft202012Validator(
        {**schema, "components": DOCUMENT["components"]}, format_checker=jsonschema.FormatChecker()
    )


def the_example(media: dict[str, Any]) -> Any:
    if "example" in media:
        return media["example"]
    if "examples" in media:
        return next(iter(media["examples"].values()))["value"]
    return resolve(media["schema"]).get("examples", [None])[0]


def test_the_document_has_every_public_operation() -> None:
    assert len(OPERATIONS) >= 40
    prefixes = {path.split("/")[1] for path, _, _ in OPERATIONS}
    assert prefixes == {"gateway", "registry", "subsidy", "sharing"}


def test_operation_ids_are_short_and_unique() -> None:
    ids = [operation["operationId"] for _, _, operation in OPERATIONS]
    assert [i for i in ids if not OPERATION_ID.match(i)] == []
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS])
def test_every_operation_documents_its_scope_problems_and_examples(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    # The scope it needs, machine-readable and in words.
    scopes = operation.get("x-required-scopes")
    assert scopes, "no required scope"
    assert operation["security"] == [{"apiKey": scopes}]
    assert all(f"`{scope}`" in operation["description"] for scope in scopes)

    responses = operation["responses"]
    expected = {"401", "403", "429", "503"}
    if operation.get("parameters") or "requestBody" in operation:
        expected.add("422")
    if "{" in path:
        expected.add("404")
    if method == "post":
        expected |= {"400", "409"}
    assert expected <= responses.keys(), f"missing {sorted(expected - responses.keys())}"

    # Every refusal is a problem with its types listed, each example a problem of that status.
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            media = response["content"]
            assert list(media) == [PROBLEM_JSON], f"{status} is not only application/problem+json"
            examples = media[PROBLEM_JSON]["examples"]
            assert examples, status
            check = validator(resolve(media[PROBLEM_JSON]["schema"]))
            for slug, example in examples.items():
                value = example["value"]
                assert value["type"] == PROBLEM_BASE + slug and value["status"] == int(status), (status, slug)
                check.validate(value)
            assert all(f"`{slug}`" in response["description"] for slug in examples)

    if method == "post":
        headers = [p for p in operation["parameters"] if p["in"] == "header"]
        assert [h["name"] for h in headers] == ["Idempotency-Key"]

    # One example of the body and of the answer, each fitting its schema.
    for media in operation.get("requestBody", {}).get("content", {}).values():
        example = the_example(media)
        assert example is not None, "no request example"
        validator(media["schema"]).validate(example)
    successes = [r for status, r in responses.items() if status.startswith("2") and r.get("content")]
    assert successes or "204" in responses, "no success response"
    for response in successes:
        for media_type, media in response["content"].items():
            if media_type == "application/json":
                example = the_example(media)
                assert example is not None, "no response example"
                validator(media["schema"]).validate(example)


def test_a_route_s_own_problems_sit_beside_the_shared_ones() -> None:
    registering = DOCUMENT["paths"]["/registry/v1/persons/{person_id}/unemployment-registrations"]["post"]
    unprocessable = registering["responses"]["422"]["content"][PROBLEM_JSON]["examples"]
    conflicts = registering["responses"]["409"]["content"][PROBLEM_JSON]["examples"]
    assert {"validation-error", "idempotency-key-reused", "date-in-future", "date-before-birth"} <= unprocessable.keys()
    assert {"employment-open", "already-registered-unemployed", "idempotency-key-in-flight"} <= conflicts.keys()
    assert "person-not-found" in registering["responses"]["404"]["content"][PROBLEM_JSON]["examples"]


def test_fastapi_s_validation_error_shape_is_gone() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "errors" in schemas["Problem"]["properties"]
