"""Sharing facts turn into difficulty categories, for people registered before and after the fact."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from contracts.envelope import new_event
from contracts.sharing import FACT_RECORDED, Fact
from contracts.topics import SHARING_FACT
from services.kit.identifiers import subject_ref
from services.kit.settings import DEV_SUBJECT_KEY
from tests.registry.people import id_number
from tests.support import ServiceClient, eventually

pytestmark = pytest.mark.integration
PERSONS = "/registry/v1/persons"


async def push_dibao(producer: AIOKafkaProducer, number: str, since: date, until: date | None = None) -> None:
    ref = subject_ref(DEV_SUBJECT_KEY.encode(), number)
    fact = Fact(
        fact_id=uuid.uuid4(),
        agency="civil_affairs",
        dataset="dibao",
        batch_id=uuid.uuid4(),
        record_index=0,
        subject_ref=ref,
        key=ref,
        valid_from=since,
        valid_until=until,
        attributes={"household_no": "HH-1", "since": str(since), "until": str(until) if until else None},
    )
    event = new_event(source="/sharing", type=FACT_RECORDED, subject=ref, data=fact)
    await producer.send_and_wait(SHARING_FACT, event.to_bytes(), key=ref.encode())


async def categories(registry: ServiceClient, person_id: str) -> list[str]:
    body = (await registry.get(f"{PERSONS}/{person_id}")).json()
    return [c["category"] for c in body["difficulty_categories"]]


async def test_dibao_fact_gives_low_income_family_and_an_ended_one_takes_it_away(
    registry: ServiceClient, producer: AIOKafkaProducer
) -> None:
    number = id_number()
    person_id = (
        await registry.post(PERSONS, json={"id_number": number, "name": "王五", "hukou_type": "rural"})
    ).json()["person_id"]
    await push_dibao(producer, number, since=date(2023, 1, 1))

    async def has_category() -> bool:
        return "low_income_family" in await categories(registry, person_id)

    await eventually(has_category)
    person = (await registry.get(f"{PERSONS}/{person_id}")).json()
    assert person["household_no"] == "HH-1"
    assert person["difficulty_categories"][0]["source"] == "civil_affairs"

    await push_dibao(producer, number, since=date(2023, 1, 1), until=date.today() - timedelta(days=1))

    async def lost_category() -> bool:
        return "low_income_family" not in await categories(registry, person_id)

    await eventually(lost_category)


async def test_fact_for_a_person_not_yet_registered_applies_at_registration(
    registry: ServiceClient, producer: AIOKafkaProducer
) -> None:
    number = id_number()
    await push_dibao(producer, number, since=date(2024, 6, 1))
    ref = subject_ref(DEV_SUBJECT_KEY.encode(), number)
    app = registry.app  # type: ignore[attr-defined]

    async def fact_stored() -> bool:
        from sqlmodel import select

        from services.registry.tables import PersonFact

        async with app.state.db.sessionmaker() as session:
            return (await session.execute(select(PersonFact).where(PersonFact.subject_ref == ref))).first() is not None

    await eventually(fact_stored)
    created = await registry.post(PERSONS, json={"id_number": number, "name": "赵六", "hukou_type": "urban"})
    assert [c["category"] for c in created.json()["difficulty_categories"]] == ["low_income_family"]


async def test_a_malformed_fact_is_dead_lettered_and_the_consumer_moves_on(
    registry: ServiceClient, producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    from aiokafka import AIOKafkaConsumer

    await producer.send_and_wait(SHARING_FACT, b"{not json", key=b"k")
    dlq = AIOKafkaConsumer(
        SHARING_FACT + ".dlq",
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"t-{uuid.uuid4()}",
        session_timeout_ms=6000,
    )
    await dlq.start()
    try:
        dead: list[dict[str, bytes]] = []

        async def dead_lettered() -> bool:
            for records in (await dlq.getmany(timeout_ms=200)).values():
                dead.extend(dict(r.headers) for r in records if r.value == b"{not json")
            return bool(dead)

        await eventually(dead_lettered)
    finally:
        await dlq.stop()
    assert dead[0]["dlq_error"].startswith(b"undecodable event")
    assert dead[0]["dlq_original_topic"] == SHARING_FACT.encode()
    # the consumer moved on: a good fact after the bad one still applies
    number = id_number()
    person_id = (
        await registry.post(PERSONS, json={"id_number": number, "name": "孙七", "hukou_type": "urban"})
    ).json()["person_id"]
    await push_dibao(producer, number, since=date(2022, 1, 1))

    async def applied() -> bool:
        return "low_income_family" in await categories(registry, person_id)

    await eventually(applied)


async def test_an_end_reported_late_is_published_with_its_real_date(
    registry: ServiceClient, producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    from aiokafka import AIOKafkaConsumer

    from contracts.envelope import CloudEvent
    from contracts.topics import REGISTRY_PERSON

    number = id_number()
    person_id = (
        await registry.post(PERSONS, json={"id_number": number, "name": "冯九", "hukou_type": "urban"})
    ).json()["person_id"]
    await push_dibao(producer, number, since=date(2018, 1, 1))

    async def listed() -> bool:
        return "low_income_family" in await categories(registry, person_id)

    await eventually(listed)
    await push_dibao(producer, number, since=date(2018, 1, 1), until=date(2018, 2, 28))

    async def gone() -> bool:
        return "low_income_family" not in await categories(registry, person_id)

    await eventually(gone)
    consumer = AIOKafkaConsumer(
        REGISTRY_PERSON,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"t-{uuid.uuid4()}",
        session_timeout_ms=6000,
    )
    await consumer.start()
    try:
        ends: list[dict[str, object]] = []

        async def end_published() -> bool:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    event = CloudEvent.from_bytes(record.value)
                    if event.subject == person_id:
                        ends.extend(event.data.get("ended_difficulty_categories", []))
            return bool(ends)

        await eventually(end_published)
    finally:
        await consumer.stop()
    assert ends[-1]["category"] == "low_income_family" and ends[-1]["valid_until"] == "2018-02-28"
