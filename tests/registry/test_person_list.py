"""A page of people costs the same few statements whatever its size (no query per person)."""

from __future__ import annotations

import pytest

from tests.registry.people import id_number
from tests.support import ServiceClient, counted

pytestmark = pytest.mark.integration
PERSONS = "/registry/v1/persons"


async def test_a_page_of_people_costs_a_few_statements_whatever_its_size(registry: ServiceClient) -> None:
    for n in range(120):
        response = await registry.post(
            PERSONS, json={"id_number": id_number(), "name": f"刘{n}", "hukou_type": "urban"}
        )
        assert response.status_code == 201, response.text
    db = registry.app.state.db  # type: ignore[attr-defined]
    sizes = {}
    for limit in (10, 100):
        with counted(db) as statements:
            response = await registry.get(f"{PERSONS}?limit={limit}")
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) == limit
        # The relay and the consumers share the engine: only the registry's own tables count.
        sizes[limit] = len([s for s in statements if "registry_" in s])
    assert sizes[100] == sizes[10], sizes
    assert sizes[100] <= 10, sizes
