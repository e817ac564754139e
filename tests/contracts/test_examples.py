"""Examples composed from a JSON Schema (contracts/examples.py), as the OpenAPI and AsyncAPI
documents use them."""

from __future__ import annotations

from contracts.examples import example_of


def test_an_example_is_composed_from_field_examples_and_formats() -> None:
    schemas = {
        "Person": {
            "type": "object",
            "required": ["person_id", "town"],
            "properties": {
                "person_id": {"type": "string", "format": "uuid"},
                "town": {"type": "string", "examples": ["昌元街道"]},
                "months": {"type": "array", "items": {"type": "string", "pattern": "^\\d{4}-\\d{2}$"}},
                "partner": {"anyOf": [{"$ref": "#/components/schemas/Person"}, {"type": "null"}]},
            },
        }
    }
    example = example_of({"$ref": "#/components/schemas/Person"}, schemas)
    # A patterned string without an example gives none (an empty list here); a cycle stops.
    assert example == {"person_id": "3f2c9a7e-5b1d-4e8f-9a6c-2d7b1e0f4a53", "town": "昌元街道", "months": []}
    schemas["Person"]["required"].append("months")
    schemas["Person"]["properties"]["code"] = {"type": "string", "pattern": "^[0-9]{6}$"}
    schemas["Person"]["required"].append("code")
    assert example_of({"$ref": "#/components/schemas/Person"}, schemas) is None
