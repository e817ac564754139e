"""People, unemployment and employment registration against real PostgreSQL and a real broker."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import fields
from datetime import date, timedelta

import pytest
from aiokafka import AIOKafkaConsumer

from contracts.envelope import CloudEvent
from contracts.topics import REGISTRY_EMPLOYMENT, REGISTRY_PERSON
from services.registry.persons.repository import NewPerson
from services.registry.tables import Person
from tests.registry.people import credit_code, id_number
from tests.support import ServiceClient, eventually

pytestmark = pytest.mark.integration
PERSONS = "/registry/v1/persons"


def person_body(number: str, **extra: object) -> dict[str, object]:
    return {"id_number": number, "name": "张三", "hukou_type": "urban", **extra}


async def test_register_person_derives_birth_date_and_gender_and_masks_the_id_number(registry: ServiceClient) -> None:
    number = id_number(date(1975, 3, 9), female=True)
    response = await registry.post(PERSONS, json=person_body(number, phone="13800000000"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["birth_date"] == "1975-03-09"
    assert body["gender"] == "female"
    assert body["status"] == "none"
    assert body["id_number_masked"] == number[:6] + "********" + number[14:]
    assert number not in response.text
    assert response.headers["location"] == f"{PERSONS}/{body['person_id']}"


def test_a_person_being_registered_names_every_column_of_the_person_table_with_its_default() -> None:
    """`register` inserts a `NewPerson`'s row as it is: a column the table gains must be named there
    too, or the insert would leave it to its default without a word; and each default is the ORM
    model's."""
    assert {f.name for f in fields(NewPerson)} == set(Person.__table__.columns.keys())  # type: ignore[attr-defined]
    required = {
        "id_number_ciphertext": b"x",
        "id_number_index": "i",
        "id_number_masked": "m",
        "subject_ref": "s",
        "name": "张三",
        "gender": "male",
        "birth_date": date(1990, 1, 1),
        "hukou_type": "urban",
    }
    made = {"person_id", "created_at", "updated_at"}  # a new uuid and the moment, each time
    orm = Person(**required).model_dump()  # type: ignore[arg-type]
    assert {k: v for k, v in NewPerson(**required).row().items() if k not in made} == {  # type: ignore[arg-type]
        k: v for k, v in orm.items() if k not in made
    }


async def test_second_registration_of_an_id_number_is_409_naming_the_existing_person(registry: ServiceClient) -> None:
    number = id_number()
    first = await registry.post(PERSONS, json=person_body(number))
    again = await registry.post(PERSONS, json=person_body(number.lower(), name="李四"))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["person_id"] == first.json()["person_id"]


async def test_concurrent_registrations_of_one_id_number_register_one_person(registry: ServiceClient) -> None:
    number = id_number()
    answers = await asyncio.gather(*(registry.post(PERSONS, json=person_body(number)) for _ in range(6)))
    created = [a for a in answers if a.status_code == 201]
    assert len(created) == 1, [a.text for a in answers]
    refused = [a for a in answers if a.status_code != 201]
    assert {(a.status_code, a.json()["type"]) for a in refused} == {
        (409, "urn:rongchang-employment:problem:person-exists")
    }
    assert {a.json()["person_id"] for a in refused} == {created[0].json()["person_id"]}


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("5001531990051700", "18 characters"),
        ("50015319900230001X", "calendar date"),
        ("500153199005170010", "check character"),
    ],
)
async def test_invalid_id_numbers_are_422_and_register_nobody(registry: ServiceClient, bad: str, fragment: str) -> None:
    response = await registry.post(PERSONS, json=person_body(bad))
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422 and fragment in problem["detail"]
    assert problem["errors"][0]["location"] == "body.id_number"


async def test_lookup_by_id_number_uses_the_blind_index(registry: ServiceClient) -> None:
    number = id_number()
    created = (await registry.post(PERSONS, json=person_body(number))).json()
    found = await registry.get(f"{PERSONS}?id_number={number}", scopes=["registry:read"])
    assert [p["person_id"] for p in found.json()["items"]] == [created["person_id"]]


async def test_full_id_number_needs_the_sensitive_scope(registry: ServiceClient) -> None:
    number = id_number()
    person_id = (await registry.post(PERSONS, json=person_body(number))).json()["person_id"]
    denied = await registry.get(f"{PERSONS}/{person_id}?reveal=id_number", scopes=["registry:read"])
    assert denied.status_code == 403
    shown = await registry.get(
        f"{PERSONS}/{person_id}?reveal=id_number", scopes=["registry:read", "registry:sensitive"]
    )
    assert shown.json()["id_number"] == number


async def test_scopes_are_enforced(registry: ServiceClient) -> None:
    response = await registry.post(PERSONS, json=person_body(id_number()), scopes=["registry:read"])
    assert response.status_code == 403
    assert response.json()["required_scope"] == "registry:write"


async def test_employment_closes_unemployment_and_contributions_are_recorded_once(registry: ServiceClient) -> None:
    person_id = (await registry.post(PERSONS, json=person_body(id_number()))).json()["person_id"]
    today = date.today()
    registered = await registry.post(
        f"{PERSONS}/{person_id}/unemployment-registrations", json={"registered_on": str(today - timedelta(days=400))}
    )
    assert registered.status_code == 201, registered.text
    assert (await registry.get(f"{PERSONS}/{person_id}")).json()["status"] == "unemployed"

    hired_on = today - timedelta(days=380)
    employment = await registry.post(
        f"{PERSONS}/{person_id}/employments",
        json={
            "employer_credit_code": credit_code(),
            "employer_name": "荣昌夏布有限公司",
            "started_on": str(hired_on),
            "contract_months": 36,
            "kind": "employee",
        },
    )
    assert employment.status_code == 201, employment.text
    employment_id = employment.json()["employment_id"]
    person = (await registry.get(f"{PERSONS}/{person_id}")).json()
    assert person["status"] == "employed"
    assert person["unemployment_registrations"][0]["closed_on"] == str(hired_on)

    months = [f"{(hired_on.replace(day=1) + timedelta(days=31 * i)):%Y-%m}" for i in range(12)]
    path = f"/registry/v1/employments/{employment_id}/contributions"
    body = {"months": months, "insurances": ["pension", "medical", "unemployment"]}
    first = await registry.post(path, json=body)
    assert first.status_code == 200, first.text
    assert first.json()["recorded"] == sorted(months) and first.json()["total_months"] == 12
    second = await registry.post(path, json=body)
    assert second.json()["recorded"] == [] and second.json()["total_months"] == 12

    unemployed_again = await registry.post(
        f"{PERSONS}/{person_id}/unemployment-registrations", json={"registered_on": str(today)}
    )
    assert unemployed_again.status_code == 409
    assert unemployed_again.json()["type"].endswith("employment-open")


async def test_bad_credit_code_and_months_outside_the_employment_are_422(registry: ServiceClient) -> None:
    person_id = (await registry.post(PERSONS, json=person_body(id_number()))).json()["person_id"]
    good = credit_code()
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    bad = await registry.post(
        f"{PERSONS}/{person_id}/employments",
        json={
            "employer_credit_code": wrong_check,
            "employer_name": "x",
            "started_on": "2024-01-01",
            "kind": "employee",
        },
    )
    assert bad.status_code == 422 and "check character" in bad.json()["detail"]
    assert (await registry.get(f"{PERSONS}/{person_id}")).json()["status"] == "none"

    created = await registry.post(
        f"{PERSONS}/{person_id}/employments",
        json={"employer_credit_code": good, "employer_name": "x", "started_on": "2024-01-15", "kind": "flexible"},
    )
    employment_id = created.json()["employment_id"]
    outside = await registry.post(
        f"/registry/v1/employments/{employment_id}/contributions",
        json={"months": ["2023-12", "2024-01"], "insurances": ["pension"]},
    )
    assert outside.status_code == 422 and outside.json()["months"] == ["2023-12"]
    unchanged = await registry.get(f"/registry/v1/employments/{employment_id}")
    assert unchanged.json()["contribution_months"] == []


async def test_unknown_person_is_404_problem(registry: ServiceClient) -> None:
    response = await registry.get(f"{PERSONS}/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["type"].endswith("person-not-found")


async def test_events_carry_snapshots_without_the_id_number(registry: ServiceClient, kafka_bootstrap: str) -> None:
    number = id_number()
    person_id = (await registry.post(PERSONS, json=person_body(number))).json()["person_id"]
    await registry.post(
        f"{PERSONS}/{person_id}/employments",
        json={
            "employer_credit_code": credit_code(),
            "employer_name": "x",
            "started_on": "2024-02-01",
            "kind": "employee",
        },
    )
    consumer = AIOKafkaConsumer(
        REGISTRY_PERSON,
        REGISTRY_EMPLOYMENT,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"t-{uuid.uuid4()}",
        session_timeout_ms=6000,
    )
    await consumer.start()
    seen: list[tuple[str, CloudEvent]] = []
    try:

        async def arrived() -> bool:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    assert number.encode() not in record.value
                    event = CloudEvent.from_bytes(record.value)
                    if event.subject == person_id:
                        assert record.key == person_id.encode()
                        seen.append((record.topic, event))
            return {t for t, _ in seen} == {REGISTRY_PERSON, REGISTRY_EMPLOYMENT} and len(seen) >= 3

        await eventually(arrived)
    finally:
        await consumer.stop()
    person_events = [e for t, e in seen if t == REGISTRY_PERSON]
    assert [e.type for e in person_events][:2] == ["registry.person.registered", "registry.person.updated"]
    assert [e.data["version"] for e in person_events][:2] == [1, 2]
    assert person_events[1].data["status"] == "employed"


async def test_an_unemployment_registration_cannot_be_backdated_before_recorded_work(registry: ServiceClient) -> None:
    person_id = (await registry.post(PERSONS, json=person_body(id_number()))).json()["person_id"]
    employment = await registry.post(
        f"{PERSONS}/{person_id}/employments",
        json={
            "employer_credit_code": credit_code(),
            "employer_name": "x",
            "started_on": "2020-01-01",
            "kind": "employee",
        },
    )
    employment_id = employment.json()["employment_id"]
    ended = await registry.post(
        f"/registry/v1/employments/{employment_id}/end", json={"ended_on": "2021-06-01", "reason": "contract_expired"}
    )
    assert ended.status_code == 200, ended.text

    backdated = await registry.post(
        f"{PERSONS}/{person_id}/unemployment-registrations", json={"registered_on": "2019-06-01"}
    )
    assert backdated.status_code == 422
    assert backdated.json()["type"].endswith("registration-before-employment")
    assert (await registry.get(f"{PERSONS}/{person_id}")).json()["unemployment_registrations"] == []

    after = await registry.post(
        f"{PERSONS}/{person_id}/unemployment-registrations", json={"registered_on": "2021-07-01"}
    )
    assert after.status_code == 201, after.text


@pytest.mark.parametrize("field", ["name", "town"])
async def test_control_characters_in_text_are_422_not_a_database_error(registry: ServiceClient, field: str) -> None:
    body = (
        person_body(id_number(), **{field: "张\x00三"})
        if field != "name"
        else {**person_body(id_number()), "name": "张\x00三"}
    )
    response = await registry.post(PERSONS, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["location"] == f"body.{field}"
