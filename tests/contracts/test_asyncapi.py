"""The AsyncAPI document tells an integrator what each field means and shows each event: every
property of every payload schema has a description, and every published message has an example that
fits its own payload schema (envelope and `data`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support import ROOT

DOCUMENT: dict[str, Any] = yaml.safe_load((ROOT / "contracts" / "asyncapi.yaml").read_text(encoding="utf-8"))
MESSAGES: dict[str, Any] = DOCUMENT["components"]["messages"]
PUBLISHED = {name: m for name, m in MESSAGES.items() if "payload" in m and not m.get("x-not-yet-published")}
PUBLISHED.pop("deadLetter")


def properties(schema: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, prop in schema.get("properties", {}).items():
        yield f"{where}.{name}", prop
    for key in ("$defs", "definitions"):
        for name, nested in schema.get(key, {}).items():
            yield from properties(nested, f"{where}/{name}")


def test_every_payload_property_says_what_it_means() -> None:
    undescribed = [
        where
        for name, schema in DOCUMENT["components"]["schemas"].items()
        for where, prop in properties(schema, name)
        if not prop.get("description")
    ]
    assert undescribed == []


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_message_has_an_example_that_fits_its_schema(name: str) -> None:
    message = PUBLISHED[name]
    (example,) = message["examples"]
    assert example["headers"] == {"content-type": "application/cloudevents+json"}
    payload = example["payload"]
    assert payload["type"] == name
    validator = jsonschema.Draft202012Validator(
        {**message["payload"], "components": DOCUMENT["components"]}, format_checker=jsonschema.FormatChecker()
    )
    validator.validate(payload)
