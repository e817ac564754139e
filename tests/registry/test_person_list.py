"""A page of people is one statement whatever its size (no query per person)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from aiokafka import AIOKafkaProducer

from tests.registry.people import employment_body, id_number
from tests.registry.test_facts import categories, push_dibao
from tests.support import ServiceClient, counted, eventually

pytestmark = pytest.mark.integration
PERSONS = "/registry/v1/persons"


async def test_a_page_of_people_is_one_statement_whatever_its_size(registry: ServiceClient) -> None:
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
    # The people with their registrations, employments, trainings, facts and households: one statement.
    assert sizes == {10: 1, 100: 1}, sizes


async def test_paging_with_the_cursor_gives_everyone_once_as_their_own_read_does(
    registry: ServiceClient, producer: AIOKafkaProducer
) -> None:
    mine, numbers = [], []
    for n in range(7):
        numbers.append(id_number())
        response = await registry.post(
            PERSONS, json={"id_number": numbers[-1], "name": f"周{n}", "hukou_type": "rural", "town": "昌元街道"}
        )
        assert response.status_code == 201, response.text
        mine.append(response.json()["person_id"])
    registered = await registry.post(
        f"{PERSONS}/{mine[3]}/unemployment-registrations", json={"registered_on": "2026-11-02"}
    )
    assert registered.status_code == 201, registered.text
    # An agency fact (a dibao, naming a household): the answers read it from the facts' table.
    await push_dibao(producer, numbers[5], since=date(2025, 3, 1))

    async def listed_as_low_income() -> bool:
        return "low_income_family" in await categories(registry, mine[5])

    await eventually(listed_as_low_income)
    listed: dict[str, dict[str, object]] = {}
    order: list[str] = []
    cursor = None
    while True:
        response = await registry.get(f"{PERSONS}?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 3
        for item in page["items"]:
            order.append(item["person_id"])
            listed[item["person_id"]] = item
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(order) == len(set(order)), "a person listed twice"
    assert order == sorted(order, key=uuid.UUID)
    for person_id in mine:
        read = await registry.get(f"{PERSONS}/{person_id}")
        assert read.status_code == 200, read.text
        assert listed[person_id] == read.json()
    assert listed[mine[3]]["status"] == "unemployed"
    assert [r["registered_on"] for r in listed[mine[3]]["unemployment_registrations"]] == ["2026-11-02"]
    assert listed[mine[5]]["household_no"] == "HH-1"
    assert [(c["category"], c["valid_from"]) for c in listed[mine[5]]["difficulty_categories"]] == [
        ("low_income_family", "2025-03-01")
    ]


async def test_a_persons_registrations_and_trainings_come_in_their_order_whatever_the_order_recorded(
    registry: ServiceClient,
) -> None:
    number = id_number()
    created = await registry.post(PERSONS, json={"id_number": number, "name": "郑", "hukou_type": "urban"})
    assert created.status_code == 201, created.text
    person_id = created.json()["person_id"]
    trainings = [("2024-05-01", "advanced"), ("2022-02-01", None), ("2023-09-15", "elementary")]
    for completed_on, level in trainings:  # the latest first
        kind = "vocational" if level else "entrepreneurship"
        body = {"kind": kind, "completed_on": completed_on, "certificate_level": level}
        response = await registry.post(f"{PERSONS}/{person_id}/trainings", json=body)
        assert response.status_code == 201, response.text
    registered = await registry.post(
        f"{PERSONS}/{person_id}/unemployment-registrations", json={"registered_on": "2019-03-01"}
    )
    assert registered.status_code == 201, registered.text
    hired = await registry.post(f"{PERSONS}/{person_id}/employments", json=employment_body(started_on="2020-01-01"))
    assert hired.status_code == 201, hired.text
    ended = await registry.post(
        f"/registry/v1/employments/{hired.json()['employment_id']}/end",
        json={"ended_on": "2021-06-01", "reason": "contract_expired"},
    )
    assert ended.status_code == 200, ended.text
    again = await registry.post(
        f"{PERSONS}/{person_id}/unemployment-registrations", json={"registered_on": "2021-07-01"}
    )
    assert again.status_code == 201, again.text

    read = await registry.get(f"{PERSONS}/{person_id}")
    assert read.status_code == 200, read.text
    person = read.json()
    assert [(t["completed_on"], t["certificate_level"]) for t in person["trainings"]] == sorted(trainings)
    assert [(r["registered_on"], r["closed_on"] is None) for r in person["unemployment_registrations"]] == [
        ("2019-03-01", False),
        ("2021-07-01", True),
    ]
    assert person["status"] == "unemployed"
    found = await registry.get(f"{PERSONS}?id_number={number}")
    assert found.json()["items"] == [person]
