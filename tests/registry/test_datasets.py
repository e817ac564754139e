"""Every person-keyed dataset changes the registry as SPEC 2.1-2.2 says: categories with their
validity, death, households and the zero-employment queue, trainings, the daily sweep, and what
readers without `registry:sensitive` and the events may show. Facts cross a real broker into a
registry on a real PostgreSQL whose clock the test holds."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.envelope import new_event
from contracts.sharing import FACT_RECORDED, Fact
from contracts.topics import REGISTRY_HOUSEHOLD, REGISTRY_PERSON, SHARING_FACT, SHARING_SENSITIVE_FACT
from services.kit.clock import FixedClock
from services.kit.identifiers import mask_id_number, subject_ref
from services.kit.settings import DEV_SUBJECT_KEY
from services.registry.app import create_app
from services.registry.persons.tasks import sweep
from services.registry.settings import RegistrySettings
from tests.registry.people import credit_code, id_number
from tests.support import PostgresDatabases, ServiceClient, eventually, running

pytestmark = pytest.mark.integration
PERSONS = "/registry/v1/persons"
TODAY = date(2026, 12, 3)
READER = ("registry:read",)
SENSITIVE = ("registry:read", "registry:sensitive")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clock() -> FixedClock:
    return FixedClock.on(TODAY)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def registry(
    kafka_bootstrap: str, databases: PostgresDatabases, clock: FixedClock
) -> AsyncIterator[ServiceClient]:
    url = await databases.migrated("registry")
    app = create_app(
        RegistrySettings(
            database_url=url,
            kafka_bootstrap_servers=kafka_bootstrap,
            kafka_consumer_group_prefix=f"t{uuid.uuid4().hex[:8]}.",
            daily_sweep=False,
        ),
        clock,
    )
    async with running(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


def ref(number: str) -> str:
    return subject_ref(DEV_SUBJECT_KEY.encode(), number)


async def push(
    producer: AIOKafkaProducer, dataset: str, number: str, attributes: dict[str, Any], *, key: str | None = None
) -> None:
    agency, name = dataset.split("/")
    subject = ref(number)
    fact = Fact.model_validate(
        {
            "fact_id": uuid.uuid4(),
            "agency": agency,
            "dataset": name,
            "batch_id": uuid.uuid4(),
            "record_index": 0,
            "subject_ref": subject,
            "key": key or subject,
            "attributes": {"dataset": dataset, **attributes},
        }
    )
    topic = SHARING_SENSITIVE_FACT if name == "special_population" else SHARING_FACT
    event = new_event(source="/sharing", type=FACT_RECORDED, subject=subject, data=fact)
    await producer.send_and_wait(topic, event.to_bytes(), key=subject.encode())


async def register(registry: ServiceClient, number: str, **extra: Any) -> str:
    body = {"id_number": number, "name": "刘晓梅", "hukou_type": "urban", **extra}
    response = await registry.post(PERSONS, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["person_id"])


async def person(registry: ServiceClient, person_id: str, *, sensitive: bool = False) -> dict[str, Any]:
    response = await registry.get(f"{PERSONS}/{person_id}", scopes=SENSITIVE if sensitive else READER)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def categories(registry: ServiceClient, person_id: str, *, sensitive: bool = False) -> dict[str, dict[str, Any]]:
    return {c["category"]: c for c in (await person(registry, person_id, sensitive=sensitive))["difficulty_categories"]}


async def until_category(
    registry: ServiceClient, person_id: str, category: str, *, sensitive: bool = False
) -> dict[str, Any]:
    async def holds() -> bool:
        return category in await categories(registry, person_id, sensitive=sensitive)

    await eventually(holds)
    return (await categories(registry, person_id, sensitive=sensitive))[category]


DATASETS = [
    (
        "civil_affairs/dibao",
        {"household_no": None, "since": "2025-01-01", "until": None},
        "low_income_family",
        "civil_affairs",
        "2025-01-01",
        None,
    ),
    (
        "civil_affairs/extreme_poverty",
        {"since": "2024-03-01", "until": "2027-02-28"},
        "extreme_poverty",
        "civil_affairs",
        "2024-03-01",
        "2027-02-28",
    ),
    ("civil_affairs/veteran", {"discharged_on": "2019-09-01"}, "veteran", "civil_affairs", "2019-09-01", None),
    (
        "disabled_federation/disability_certificate",
        {"kind": "physical", "grade": 3, "valid_until": "2028-06-30"},
        "disabled",
        "disabled_federation",
        None,
        "2028-06-30",
    ),
    (
        "agriculture/registered_poor",
        {"household_no": None, "since": "2016-05-01", "exited_on": None},
        "rural_poor",
        "agriculture",
        "2016-05-01",
        None,
    ),
    (
        "hrss/capacity_reduction",
        {"employer_credit_code": credit_code("MA5U7K3X3"), "since": "2026-01-01", "until": None},
        "capacity_reduction_worker",
        "hrss",
        "2026-01-01",
        None,
    ),
    (
        "education/graduate",
        {"school": "重庆文理学院", "level": "bachelor", "graduated_on": "2025-06-30"},
        "recent_graduate",
        "education",
        "2025-06-30",
        "2027-06-30",
    ),
]


@pytest.mark.parametrize(("dataset", "attributes", "category", "source", "valid_from", "valid_until"), DATASETS)
async def test_each_dataset_gives_its_category_with_its_validity(
    registry: ServiceClient,
    producer: AIOKafkaProducer,
    dataset: str,
    attributes: dict[str, Any],
    category: str,
    source: str,
    valid_from: str | None,
    valid_until: str | None,
) -> None:
    number = id_number(date(1995, 3, 2))
    person_id = await register(registry, number)
    await push(producer, dataset, number, attributes)
    given = await until_category(registry, person_id, category)
    assert given["source"] == source
    assert given["valid_until"] == valid_until
    if valid_from is not None:
        assert given["valid_from"] == valid_from


async def test_a_fact_before_registration_applies_when_the_person_registers(
    registry: ServiceClient, producer: AIOKafkaProducer
) -> None:
    number = id_number(date(1980, 1, 1))
    await push(producer, "civil_affairs/veteran", number, {"discharged_on": "2001-12-01"})
    await push(
        producer,
        "public_security/identity",
        number,
        {"hukou_type": "rural", "hukou_area_code": "500226", "household_no": f"HH-{uuid.uuid4().hex[:8]}"},
    )

    async def registered_with_both() -> bool:
        response = await registry.post(PERSONS, json={"id_number": number, "name": "张三", "hukou_type": "urban"})
        if response.status_code == 201:
            body = response.json()
            ok = "veteran" in [c["category"] for c in body["difficulty_categories"]] and body["household_no"]
            if not ok:  # the facts had not all arrived: forget the person and try again
                raise AssertionError("registered before the facts arrived")
            return True
        return False

    await _settle(registry, number)
    assert await registered_with_both()
    found = (await registry.get(f"{PERSONS}?id_number={number}")).json()["items"][0]
    assert found["hukou_type"] == "rural" and found["hukou_area_code"] == "500226"


async def _settle(registry: ServiceClient, number: str) -> None:
    """Wait until both facts are stored (they land in the registry's fact table before anyone registers)."""
    from sqlalchemy import func, select

    from services.registry.tables import PersonFact

    db = registry.app.state.db  # type: ignore[attr-defined]

    async def stored() -> bool:
        async with db.sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).select_from(PersonFact).where(PersonFact.subject_ref == ref(number))
            )
            return count == 2

    await eventually(stored)


async def test_a_reported_death_marks_the_person_and_closes_their_registration(
    registry: ServiceClient, producer: AIOKafkaProducer
) -> None:
    number = id_number(date(1960, 4, 4))
    person_id = await register(registry, number)
    assert (
        await registry.post(f"{PERSONS}/{person_id}/unemployment-registrations", json={"registered_on": "2026-11-01"})
    ).status_code == 201
    household = f"HH-{uuid.uuid4().hex[:8]}"
    await push(
        producer,
        "public_security/identity",
        number,
        {"hukou_type": "urban", "hukou_area_code": "500226", "household_no": household, "deceased_on": "2026-11-20"},
    )

    async def deceased() -> bool:
        return (await person(registry, person_id))["deceased_on"] == "2026-11-20"

    await eventually(deceased)
    body = await person(registry, person_id)
    assert body["status"] == "none"
    assert body["unemployment_registrations"][0]["closed_on"] == "2026-11-20"
    refused = await registry.post(
        f"{PERSONS}/{person_id}/unemployment-registrations", json={"registered_on": TODAY.isoformat()}
    )
    assert refused.status_code == 409 and refused.json()["type"].endswith("person-deceased")
    # A training completed before the death is still recorded (reported late); one after it is not.
    before = await registry.post(
        f"{PERSONS}/{person_id}/trainings", json={"kind": "vocational", "completed_on": "2026-11-19"}
    )
    assert before.status_code == 201, before.text
    after = await registry.post(
        f"{PERSONS}/{person_id}/trainings", json={"kind": "vocational", "completed_on": "2026-11-21"}
    )
    assert after.status_code == 409 and after.headers["content-type"] == "application/problem+json"
    assert after.json()["type"].endswith("person-deceased") and after.json()["deceased_on"] == "2026-11-20"
    assert [t["completed_on"] for t in (await person(registry, person_id))["trainings"]] == ["2026-11-19"]


async def test_special_population_is_visible_only_with_the_sensitive_scope(
    registry: ServiceClient, producer: AIOKafkaProducer
) -> None:
    number = id_number(date(1985, 7, 7))
    person_id = await register(registry, number)
    await push(producer, "public_security/special_population", number, {"kind": "drug_rehab", "since": "2024-01-01"})
    given = await until_category(registry, person_id, "drug_rehab", sensitive=True)
    assert given["source"] == "public_security"
    assert "drug_rehab" not in await categories(registry, person_id)


async def test_a_zero_employment_household_is_queued_until_a_member_works(
    registry: ServiceClient, producer: AIOKafkaProducer
) -> None:
    household = f"HH-{uuid.uuid4().hex[:10]}"
    mother, son = id_number(date(1975, 2, 2), female=True), id_number(date(2000, 8, 8))
    mother_id, son_id = await register(registry, mother, town="昌元街道"), await register(registry, son)
    for number in (mother, son):
        await push(
            producer,
            "public_security/identity",
            number,
            {"hukou_type": "urban", "hukou_area_code": "500226", "household_no": household},
        )

    async def members_joined() -> bool:
        response = await registry.get(f"/registry/v1/households/{household}")
        return response.status_code == 200 and len(response.json()["members"]) == 2

    await eventually(members_joined)
    assert (await registry.get(f"/registry/v1/households/{household}")).json()["zero_employment"] is False
    registered = await registry.post(
        f"{PERSONS}/{son_id}/unemployment-registrations", json={"registered_on": "2026-11-15"}
    )
    assert registered.status_code == 201
    listed = (await registry.get(f"/registry/v1/households/{household}")).json()
    assert listed["zero_employment"] is True and listed["kind"] == "zero_employment"
    assert listed["since"] == TODAY.isoformat()
    assert sorted(listed["members"]) == sorted([mother_id, son_id])
    town = quote("昌元街道")
    queue = (await registry.get(f"/registry/v1/households?zero_employment=true&town={town}")).json()
    assert household in [h["household_no"] for h in queue["items"]]
    for member in (mother_id, son_id):
        assert "zero_employment_family" in await categories(registry, member)

    hired = await registry.post(
        f"{PERSONS}/{mother_id}/employments",
        json={
            "employer_credit_code": credit_code(),
            "employer_name": "荣昌夏布",
            "started_on": "2026-12-01",
            "kind": "employee",
        },
    )
    assert hired.status_code == 201, hired.text
    after = (await registry.get(f"/registry/v1/households/{household}")).json()
    assert after["zero_employment"] is False and after["kind"] is None
    assert "zero_employment_family" not in await categories(registry, son_id)


async def test_a_low_income_household_without_work_is_queued_as_such(
    registry: ServiceClient, producer: AIOKafkaProducer
) -> None:
    household = f"HH-{uuid.uuid4().hex[:10]}"
    number = id_number(date(1988, 1, 1))
    await register(registry, number)
    await push(
        producer, "civil_affairs/dibao", number, {"household_no": household, "since": "2026-01-01", "until": None}
    )

    async def listed() -> bool:
        response = await registry.get(f"/registry/v1/households/{household}")
        return response.status_code == 200 and response.json()["kind"] == "low_income_all_unemployed"

    await eventually(listed)
    assert (await registry.get("/registry/v1/households/HH-none")).json()["type"].endswith("household-not-found")


async def test_trainings_are_recorded_listed_and_checked(registry: ServiceClient) -> None:
    person_id = await register(registry, id_number())
    created = await registry.post(
        f"{PERSONS}/{person_id}/trainings",
        json={
            "kind": "vocational",
            "completed_on": "2026-10-30",
            "certificate_level": "intermediate",
            "provider": "荣昌职教中心",
        },
    )
    assert created.status_code == 201, created.text
    training = created.json()
    assert training["kind"] == "vocational" and training["certificate_level"] == "intermediate"
    assert (await person(registry, person_id))["trainings"][0]["training_id"] == training["training_id"]
    future = await registry.post(
        f"{PERSONS}/{person_id}/trainings", json={"kind": "vocational", "completed_on": "2026-12-04"}
    )
    assert future.status_code == 422 and future.json()["type"].endswith("date-in-future")
    bad = await registry.post(
        f"{PERSONS}/{person_id}/trainings", json={"kind": "cooking", "completed_on": "2026-10-30"}
    )
    assert bad.status_code == 422
    assert len((await person(registry, person_id))["trainings"]) == 1


async def test_the_bureau_today_is_china_standard_time(registry: ServiceClient, clock: FixedClock) -> None:
    """At 17:00 UTC it is already tomorrow at the bureau: a registration dated then is accepted."""
    from datetime import UTC, datetime

    person_id = await register(registry, id_number())
    saved = clock.instant
    clock.instant = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
    try:
        response = await registry.post(
            f"{PERSONS}/{person_id}/unemployment-registrations", json={"registered_on": "2026-12-04"}
        )
        assert response.status_code == 201, response.text
    finally:
        clock.instant = saved


async def test_readers_without_the_sensitive_scope_see_birth_year_and_age_not_birth_date(
    registry: ServiceClient,
) -> None:
    number = id_number(date(1990, 5, 17))
    person_id = await register(registry, number)
    plain = await person(registry, person_id)
    assert plain["birth_date"] is None and plain["birth_year"] == 1990 and plain["age"] == 36
    assert plain["id_number_masked"] == mask_id_number(number)
    sensitive = await person(registry, person_id, sensitive=True)
    assert sensitive["birth_date"] == "1990-05-17"


async def test_the_sweep_publishes_what_the_calendar_changes_once(
    registry: ServiceClient, producer: AIOKafkaProducer, clock: FixedClock, kafka_bootstrap: str
) -> None:
    """A woman turning 40 while registered unemployed gains age_4050 at the bureau's midnight; a
    certificate that expires loses `disabled`. The sweep publishes each once, however often it runs."""
    number = id_number(date(1986, 12, 8), female=True)  # 40 on 8 December
    person_id = await register(registry, number)
    assert (
        await registry.post(f"{PERSONS}/{person_id}/unemployment-registrations", json={"registered_on": "2026-11-01"})
    ).status_code == 201
    await push(
        producer,
        "disabled_federation/disability_certificate",
        number,
        {"kind": "hearing", "grade": 2, "valid_until": (TODAY + timedelta(days=3)).isoformat()},
    )
    await until_category(registry, person_id, "disabled")
    app = registry.app  # type: ignore[attr-defined]
    first = await sweep(app.state.db, app.state.persons)
    assert first.persons_published == 0  # nothing changed with the calendar yet

    saved = clock.instant
    clock.advance(timedelta(days=10))
    try:
        runs = [await sweep(app.state.db, app.state.persons) for _ in range(2)]
        now = await categories(registry, person_id)
    finally:
        clock.instant = saved
    assert "age_4050" in now and "disabled" not in now
    assert runs[1].persons_published == 0
    published = await _person_events(kafka_bootstrap, person_id)
    changed = [e for e in published if e["type"] == "registry.person.difficulty-changed"]
    # One for the certificate's arrival, one (and only one) for the sweep's day.
    assert len(changed) == 2, [e["type"] for e in published]
    assert [c["category"] for c in changed[0]["data"]["difficulty_categories"]] == ["disabled"]
    assert [c["category"] for c in changed[1]["data"]["difficulty_categories"]] == ["age_4050"]
    assert [c["category"] for c in changed[1]["data"]["ended_difficulty_categories"]] == ["disabled"]


async def _person_events(bootstrap: str, person_id: str, topic: str = REGISTRY_PERSON) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:

        async def read() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                found.extend(
                    json.loads(r.value)
                    for r in records
                    if r.key is not None and r.key.decode() == person_id and r.value
                )
            return not batches and bool(found)

        await eventually(read, within=30)
    finally:
        await consumer.stop()
    return found


async def test_events_carry_no_name_no_id_number_and_no_birth_date(
    registry: ServiceClient, producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    number = id_number(date(1992, 2, 29 - 1))
    person_id = await register(registry, number, name="欧阳晓梅")
    await push(
        producer, "public_security/special_population", number, {"kind": "released_prisoner", "since": "2020-01-01"}
    )
    await until_category(registry, person_id, "released_prisoner", sensitive=True)
    events = await _person_events(kafka_bootstrap, person_id)
    text = json.dumps(events, ensure_ascii=False)
    for secret in (number, mask_id_number(number), number[6:14], "欧阳晓梅", "1992-02-28"):
        assert secret not in text
    latest = max(events, key=lambda e: e["data"]["version"])["data"]
    assert latest["name_masked"] == "欧**梅" and latest["birth_year"] == 1992
    assert [c["category"] for c in latest["difficulty_categories"]] == ["restricted_difficulty"]


async def test_a_household_is_published_when_members_join_or_leave_not_on_every_member_change(
    registry: ServiceClient, producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    household, elsewhere = f"HP-{uuid.uuid4().hex[:10]}", f"HQ-{uuid.uuid4().hex[:10]}"
    first, second = id_number(date(1980, 1, 1)), id_number(date(1982, 2, 2))
    first_id, second_id = await register(registry, first), await register(registry, second)
    for number in (first, second):
        await push(
            producer,
            "public_security/identity",
            number,
            {"hukou_type": "urban", "hukou_area_code": "500226", "household_no": household},
        )

    async def both_members() -> bool:
        response = await registry.get(f"/registry/v1/households/{household}")
        return response.status_code == 200 and len(response.json()["members"]) == 2

    await eventually(both_members)
    trained = await registry.post(
        f"{PERSONS}/{first_id}/trainings", json={"kind": "vocational", "completed_on": "2026-11-30"}
    )
    assert trained.status_code == 201, trained.text
    await push(
        producer,
        "public_security/identity",
        second,
        {"hukou_type": "urban", "hukou_area_code": "500226", "household_no": elsewhere},
    )

    async def moved() -> bool:
        return (await person(registry, second_id))["household_no"] == elsewhere

    await eventually(moved)
    published = await _person_events(kafka_bootstrap, household, REGISTRY_HOUSEHOLD)
    members = [sorted(e["data"]["members"]) for e in published]
    # Created with one member, joined by the other (the two facts may arrive in either order), left
    # by the second: the training changed nothing.
    assert len(members) == 3 and len(members[0]) == 1
    assert members[1:] == [sorted([first_id, second_id]), [first_id]]
    assert [e["data"]["version"] for e in published] == [1, 2, 3]


async def test_a_duplicate_registration_leaves_the_callers_transaction_intact(registry: ServiceClient) -> None:
    """`PersonService.register` runs in a savepoint, so a consumer can call it inside its own
    transaction: the 409 undoes the registration only, not what the caller wrote before it."""
    from sqlalchemy import select

    from services.registry.persons.schemas import PersonCreate
    from services.registry.problems import PersonExists
    from services.registry.tables import Business

    number = id_number()
    await register(registry, number)
    app = registry.app  # type: ignore[attr-defined]
    code = credit_code("MA5UC8D2E")
    async with app.state.db.sessionmaker() as session, session.begin():
        session.add(
            Business(
                credit_code=code,
                name="荣昌折扇",
                legal_rep_subject_ref=ref(number),
                established_on=date(2020, 1, 1),
                fact_id=uuid.uuid4(),
            )
        )
        await session.flush()
        with pytest.raises(PersonExists):
            await app.state.persons(session).register(PersonCreate(id_number=number, name="刘晓梅", hukou_type="urban"))
    async with app.state.db.sessionmaker() as session:
        assert (await session.execute(select(Business).where(Business.credit_code == code))).scalar_one()
