"""Problem types are named classes: one slug, one status, everywhere in the code base."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import services
from services.kit.errors import Conflict, DomainError


def _all_problem_types() -> list[type[DomainError]]:
    for module in pkgutil.walk_packages(services.__path__, "services."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: list[type[DomainError]] = []
    todo: list[type[DomainError]] = [DomainError]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(current.__subclasses__())
    return [problem for problem in found if problem.__module__.startswith("services.")]


def test_each_problem_type_has_one_status() -> None:
    statuses: dict[str, set[int]] = {}
    for problem in _all_problem_types():
        statuses.setdefault(problem.slug, set()).add(problem.status)
    mixed = {slug: sorted(codes) for slug, codes in statuses.items() if len(codes) > 1}
    assert not mixed, f"problem types with more than one status: {mixed}"
    assert {"person-not-found", "unknown-dataset", "invalid-cursor", "idempotency-key-reused"} <= set(statuses)


def test_a_problem_type_is_a_class_not_a_slug_argument() -> None:
    with pytest.raises(TypeError, match="named DomainError subclass"):
        Conflict("detail", slug="made-up")


def test_a_problem_renders_itself_for_middlewares() -> None:
    response = Conflict("it clashes", item="x").response()
    assert response.status_code == 409
    assert response.media_type == "application/problem+json"
    assert b'"item":"x"' in response.body and b'"detail":"it clashes"' in response.body
