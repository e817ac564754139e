"""Every agency dataset of SPEC 2.4 pushed through the gateway changes the registry as SPEC 2.1-2.2
says, against the four services as real processes: one test per dataset, then death, households and
the zero-employment queue, trainings, the daily sweep, and no personal data on any topic."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from contracts.topics import ALL_TOPICS, dead_letter
from services.kit.clock import SYSTEM_CLOCK
from services.kit.identifiers import id_check_character, mask_id_number
from tests.e2e.conftest import RunningSystem
from tests.e2e.test_flow import Agency, client
from tests.registry.people import credit_code, id_number
from tests.support import eventually, query, read_topics

pytestmark = pytest.mark.e2e

PERSONS = "/registry/v1/persons"
# Every name and id number registered here, for the privacy check at the end.
REGISTERED: list[tuple[str, str]] = []


def _names() -> Iterator[str]:
    for n in range(10_000):
        yield "荣" + "昌夏布陶器折扇豆花卤鹅麻"[n % 12] + "昌区居民张王李赵刘陈"[n % 10] + "梅"


NAMES = _names()


async def desk(http: httpx.AsyncClient, system: RunningSystem) -> Agency:
    return await client(http, system, "hrss", "registry:read", "registry:write", "registry:sensitive", "subsidy:read")


async def register(desk: Agency, number: str, **extra: Any) -> str:
    name = next(NAMES)
    REGISTERED.append((number, name))
    response = await desk.call("POST", PERSONS, {"id_number": number, "name": name, "hukou_type": "urban", **extra})
    assert response.status_code == 201, response.text
    return str(response.json()["person_id"])


async def push(http: httpx.AsyncClient, system: RunningSystem, dataset: str, records: list[dict[str, Any]]) -> None:
    agency, name = dataset.split("/")
    submitter = await client(http, system, agency, "sharing:submit")
    pushed = await submitter.call(
        "POST", f"/sharing/v1/agencies/{agency}/datasets/{name}/records", {"records": records}
    )
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["accepted"] == len(records), pushed.text


async def categories(desk: Agency, person_id: str) -> dict[str, dict[str, Any]]:
    body = (await desk.call("GET", f"{PERSONS}/{person_id}")).json()
    return {c["category"]: c for c in body["difficulty_categories"]}


async def until(desk: Agency, person_id: str, category: str, *, present: bool = True) -> dict[str, dict[str, Any]]:
    async def holds() -> bool:
        return (category in await categories(desk, person_id)) is present

    await eventually(holds, within=30)
    return await categories(desk, person_id)


def today() -> date:
    return SYSTEM_CLOCK.today()


def identity(number: str, household_no: str, **extra: Any) -> dict[str, Any]:
    return {
        "id_number": number,
        "name": "x",
        "hukou_type": "urban",
        "hukou_area_code": "500226",
        "household_no": household_no,
        **extra,
    }


DATASETS = [
    ("civil_affairs/extreme_poverty", {"since": "2024-03-01"}, "extreme_poverty", "civil_affairs"),
    ("civil_affairs/veteran", {"discharged_on": "2019-09-01"}, "veteran", "civil_affairs"),
    (
        "disabled_federation/disability_certificate",
        {"certificate_no": "C12", "kind": "physical", "grade": 3, "valid_until": "2035-06-30"},
        "disabled",
        "disabled_federation",
    ),
    ("agriculture/registered_poor", {"since": "2016-05-01"}, "rural_poor", "agriculture"),
    (
        "hrss/capacity_reduction",
        {"employer_credit_code": credit_code("MA5U7K3X4"), "since": "2026-01-01"},
        "capacity_reduction_worker",
        "hrss",
    ),
    (
        "education/graduate",
        {
            "school": "重庆文理学院",
            "level": "bachelor",
            "graduated_on": (today() - timedelta(days=200)).isoformat(),
        },
        "recent_graduate",
        "education",
    ),
    (
        "public_security/special_population",
        {"kind": "released_prisoner", "since": "2020-01-01"},
        "released_prisoner",
        "public_security",
    ),
]


@pytest.mark.parametrize(("dataset", "fields", "category", "source"), DATASETS)
async def test_each_dataset_pushed_through_the_gateway_gives_its_category(
    system: RunningSystem, http: httpx.AsyncClient, dataset: str, fields: dict[str, Any], category: str, source: str
) -> None:
    officer = await desk(http, system)
    number = id_number(date(1994, 4, 4))
    person_id = await register(officer, number)
    await push(http, system, dataset, [{"id_number": number, **fields}])
    found = await until(officer, person_id, category)
    assert found[category]["source"] == source
    if category == "released_prisoner":  # sensitive: a reader without registry:sensitive does not see it
        reader = await client(http, system, "hrss", "registry:read")
        assert category not in await categories(reader, person_id)


async def test_a_business_is_kept_with_its_founder(system: RunningSystem, http: httpx.AsyncClient) -> None:
    founder = id_number(date(1990, 1, 1))
    code = credit_code("MA5UB7K3X")
    record = {"credit_code": code, "name": "荣昌夏布坊", "legal_rep_id_number": founder, "established_on": "2025-03-01"}
    await push(http, system, "market_supervision/business", [record])
    url = system.config.database_urls["registry"]

    async def kept() -> bool:
        return bool(await query(url, "SELECT 1 FROM registry_business WHERE credit_code = $1", code))

    await eventually(kept, within=30)
    [row] = await query(url, "SELECT name, established_on FROM registry_business WHERE credit_code = $1", code)
    assert row["name"] == "荣昌夏布坊" and row["established_on"] == date(2025, 3, 1)


async def test_labour_force_is_accepted_and_names_nobody(system: RunningSystem, http: httpx.AsyncClient) -> None:
    await push(http, system, "statistics/labour_force", [{"period": "2026-10", "urban_employed_total": 312000}])


async def test_a_reported_death_stops_registration_and_reaches_the_subsidy_service(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    officer = await desk(http, system)
    number = id_number(date(1962, 6, 6))
    person_id = await register(officer, number)
    registered = await officer.call(
        "POST", f"{PERSONS}/{person_id}/unemployment-registrations", {"registered_on": "2026-01-05"}
    )
    assert registered.status_code == 201, registered.text
    died = (today() - timedelta(days=2)).isoformat()
    await push(
        http, system, "public_security/identity", [identity(number, f"HD{uuid.uuid4().hex[:8]}", deceased_on=died)]
    )

    async def projected_dead() -> bool:
        view = await officer.call("GET", f"/subsidy/v1/beneficiaries/{person_id}")
        return view.status_code == 200 and view.json().get("deceased_on") == died

    await eventually(projected_dead, within=30)
    person = (await officer.call("GET", f"{PERSONS}/{person_id}")).json()
    assert person["deceased_on"] == died and person["status"] == "none"
    refused = await officer.call(
        "POST", f"{PERSONS}/{person_id}/unemployment-registrations", {"registered_on": today().isoformat()}
    )
    assert refused.status_code == 409 and refused.json()["type"].endswith("person-deceased")


async def test_the_zero_employment_queue_follows_the_household(system: RunningSystem, http: httpx.AsyncClient) -> None:
    officer = await desk(http, system)
    household = f"HZ{uuid.uuid4().hex[:10]}"
    father, daughter = id_number(date(1970, 3, 3)), id_number(date(2001, 9, 9), female=True)
    father_id = await register(officer, father, town="峰高街道")
    daughter_id = await register(officer, daughter, town="峰高街道")
    await push(http, system, "public_security/identity", [identity(father, household), identity(daughter, household)])

    async def joined() -> bool:
        read = await officer.call("GET", f"/registry/v1/households/{household}")
        return read.status_code == 200 and len(read.json()["members"]) == 2

    await eventually(joined, within=30)
    registered = await officer.call(
        "POST", f"{PERSONS}/{daughter_id}/unemployment-registrations", {"registered_on": "2026-09-01"}
    )
    assert registered.status_code == 201, registered.text
    queue = await officer.call("GET", f"/registry/v1/households?zero_employment=true&town={quote('峰高街道')}")
    assert household in [h["household_no"] for h in queue.json()["items"]], queue.text
    await until(officer, father_id, "zero_employment_family")

    async def projected() -> bool:
        view = await officer.call("GET", f"/subsidy/v1/beneficiaries/{daughter_id}")
        return view.status_code == 200 and "zero_employment_family" in {
            c["category"] for c in view.json()["difficulty_categories"]
        }

    await eventually(projected, within=30)
    hired = await officer.call(
        "POST",
        f"{PERSONS}/{father_id}/employments",
        {
            "employer_credit_code": credit_code(),
            "employer_name": "荣昌陶器厂",
            "started_on": "2026-10-01",
            "kind": "employee",
        },
    )
    assert hired.status_code == 201, hired.text
    left = (await officer.call("GET", f"/registry/v1/households/{household}")).json()
    assert left["zero_employment"] is False and left["kind"] is None
    await until(officer, daughter_id, "zero_employment_family", present=False)


async def test_a_training_is_listed_on_the_person_and_reaches_the_subsidy_service(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    officer = await desk(http, system)
    person_id = await register(officer, id_number())
    created = await officer.call(
        "POST",
        f"{PERSONS}/{person_id}/trainings",
        {"kind": "entrepreneurship", "completed_on": "2026-06-30", "certificate_level": "elementary"},
    )
    assert created.status_code == 201, created.text
    training_id = created.json()["training_id"]
    person = (await officer.call("GET", f"{PERSONS}/{person_id}")).json()
    assert [t["training_id"] for t in person["trainings"]] == [training_id]

    async def projected() -> bool:
        view = await officer.call("GET", f"/subsidy/v1/beneficiaries/{person_id}")
        return view.status_code == 200 and [t["training_id"] for t in view.json()["trainings"]] == [training_id]

    await eventually(projected, within=30)


def _turning_40_in(days: int) -> date:
    birthday = today() + timedelta(days=days)
    try:
        return birthday.replace(year=birthday.year - 40)
    except ValueError:
        return birthday.replace(year=birthday.year - 40, day=28)


async def test_the_daily_sweep_publishes_what_the_calendar_changes(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    """A registered unemployed woman turns 40 and a disability certificate expires while no request
    touches her: the registry, restarted ten days on (its clock moved), publishes both, and the
    subsidy service learns them from the event."""
    officer = await desk(http, system)
    number = id_number(_turning_40_in(5), female=True)
    person_id = await register(officer, number)
    registered = await officer.call(
        "POST", f"{PERSONS}/{person_id}/unemployment-registrations", {"registered_on": today().isoformat()}
    )
    assert registered.status_code == 201, registered.text
    certificate = {
        "certificate_no": "C9",
        "kind": "visual",
        "grade": 1,
        "valid_until": (today() + timedelta(days=3)).isoformat(),
    }
    await push(http, system, "disabled_federation/disability_certificate", [{"id_number": number, **certificate}])
    await until(officer, person_id, "disabled")

    async def subsidy_categories() -> set[str]:
        view = await officer.call("GET", f"/subsidy/v1/beneficiaries/{person_id}")
        return {c["category"] for c in view.json()["difficulty_categories"]} if view.status_code == 200 else set()

    async def projected_before() -> bool:
        return await subsidy_categories() == {"disabled"}

    await eventually(projected_before, within=30)
    await asyncio.to_thread(system.processes.restart_service, "registry", {"REGISTRY_CLOCK_OFFSET_DAYS": "10"})
    try:

        async def projected_after() -> bool:
            return await subsidy_categories() == {"age_4050"}

        await eventually(projected_after, within=60)
    finally:
        await asyncio.to_thread(system.processes.restart_service, "registry")


_ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9X](?![0-9A-Za-z])")
_MASKED = re.compile(r"[0-9]{6}\*{8}[0-9]{3}[0-9X]")


async def test_no_topic_carries_an_id_number_a_masked_one_or_a_name(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    """Runs last in this module: after the flows above, every record on every topic (dead letters
    too) is read back by a second Kafka client and searched."""
    assert REGISTERED, "the tests above registered people"
    texts: list[str] = []
    everywhere = await read_topics(system.config.bootstrap, [*ALL_TOPICS, *(dead_letter(t) for t in ALL_TOPICS)])
    for records in everywhere.values():
        for record in records:
            texts.append(json.dumps([record.key, record.headers], ensure_ascii=False) + record.value.decode())
    everything = "\n".join(texts)
    assert "registry.person.registered" in everything and "registry.household.changed" in everything
    for number, name in REGISTERED:
        assert number not in everything and mask_id_number(number) not in everything, number
        assert name not in everything, name
    valid_ids = [m for m in _ID_SHAPED.findall(everything) if id_check_character(m[:17]) == m[17]]
    assert valid_ids == []
    assert _MASKED.findall(everything) == []
