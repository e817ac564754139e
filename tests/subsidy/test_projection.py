"""The subsidy service's projection of registry events: the highest version wins whatever the
order or repetition, categories ended by the hiring still count, bad payloads are dead-lettered."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest
from aiokafka import AIOKafkaConsumer
from sqlmodel import select

from contracts.envelope import CloudEvent
from contracts.registry import PERSON_DECEASED, PERSON_REGISTERED, TrainingState
from contracts.subsidy import APPLICATION_EVALUATED, APPLICATION_SUBMITTED
from contracts.topics import REGISTRY_EMPLOYMENT, REGISTRY_PERSON, dead_letter
from services.kit.clock import bureau_date
from services.subsidy.app import PROJECTION_CONSUMER
from services.subsidy.tables import ProjectedCategory, ProjectedEmployment, ProjectedPerson
from tests.subsidy.scenario import (
    GRANT_FEN,
    Harness,
    application_events,
    category,
    changed,
    eligible_hire,
    months,
    problem,
)
from tests.support import eventually

pytestmark = pytest.mark.integration


async def test_an_older_or_repeated_person_snapshot_changes_nothing(subsidy: Harness) -> None:
    hire = eligible_hire()
    dead = hire.person.model_copy(update={"version": 2, "deceased_on": date(2019, 5, 1)})
    await subsidy.publish_employment(hire.employment)
    await subsidy.publish_person(dead)
    late_v1 = await subsidy.publish_person(hire.person)  # older, arriving after v2
    await subsidy.wait_applied(late_v1)
    again = await subsidy.publish_person(dead)  # the same version again, as a new event
    await subsidy.wait_applied(again)
    await subsidy.wait_projected(hire)

    async with subsidy.session() as s:
        person = await s.get(ProjectedPerson, hire.person.person_id)
        assert person is not None
        assert (person.version, person.deceased_on) == (2, date(2019, 5, 1))
    body = (await subsidy.apply(hire)).json()
    assert body["status"] == "ineligible"
    assert [c["rule"] for c in body["checks"] if not c["passed"]] == ["alive"]


async def test_a_death_the_registry_reports_fails_the_alive_rule(subsidy: Harness) -> None:
    hire = await subsidy.project(eligible_hire())
    dead = hire.person.model_copy(update={"version": 2, "deceased_on": date(2019, 5, 1)})
    await subsidy.wait_applied(await subsidy.publish_person(dead, PERSON_DECEASED))
    body = (await subsidy.apply(hire)).json()
    assert body["status"] == "ineligible"
    [alive] = [c for c in body["checks"] if not c["passed"]]
    assert alive["rule"] == "alive" and "deceased on 2019-05-01" in alive["detail"]


async def test_an_older_employment_snapshot_changes_nothing(subsidy: Harness) -> None:
    hire = eligible_hire()
    ended = hire.employment.model_copy(update={"version": 3, "ended_on": date(2018, 6, 30)})
    await subsidy.publish_person(hire.person)
    await subsidy.publish_employment(ended)
    stale = await subsidy.publish_employment(hire.employment)
    await subsidy.wait_applied(stale)
    async with subsidy.session() as s:
        employment = await s.get(ProjectedEmployment, hire.employment.employment_id)
        assert employment is not None
        assert (employment.version, employment.snapshot["ended_on"]) == (3, "2018-06-30")


async def test_a_category_the_hiring_ended_still_makes_the_hire_eligible(subsidy: Harness) -> None:
    # Before the hiring, a zero-employment household; the registry stops listing it once the
    # member is employed, and lists only what remains.
    hire = eligible_hire(difficulty_categories=[category("zero_employment_family", date(2017, 9, 1))])
    employed = hire.person.model_copy(update={"version": 2, "difficulty_categories": []})
    await subsidy.publish_person(hire.person)
    withdrawal = await subsidy.publish_person(employed)
    await subsidy.publish_employment(hire.employment)
    await subsidy.wait_projected(hire)
    await subsidy.wait_applied(withdrawal)

    async with subsidy.session() as s:
        query = select(ProjectedCategory).where(ProjectedCategory.person_id == hire.person.person_id)
        [row] = (await s.execute(query)).scalars()
        assert row.withdrawn_on == bureau_date(withdrawal.time)
    body = (await subsidy.apply(hire)).json()
    assert body["status"] == "eligible", body["checks"]
    detail = next(c["detail"] for c in body["checks"] if c["rule"] == "key_group")
    assert "key group zero_employment_family" in detail and "no longer listed from" in detail


async def test_a_category_reported_late_as_ended_before_the_hiring_does_not_count(subsidy: Harness) -> None:
    # The dibao record is listed, then civil affairs reports late that it ended before the hiring
    # (2018-04-01): the real end decides, not the day the registry stopped listing it.
    hire = eligible_hire()
    ended = category("low_income_family", date(2018, 1, 1), valid_until=date(2018, 2, 28))
    corrected = hire.person.model_copy(
        update={"version": 2, "difficulty_categories": [], "ended_difficulty_categories": [ended]}
    )
    await subsidy.publish_person(hire.person)
    correction = await subsidy.publish_person(corrected)
    await subsidy.publish_employment(hire.employment)
    await subsidy.wait_projected(hire)
    await subsidy.wait_applied(correction)

    body = (await subsidy.apply(hire)).json()
    assert body["status"] == "ineligible"
    key_group = next(c for c in body["checks"] if c["rule"] == "key_group")
    assert not key_group["passed"] and "2018-02-28" in key_group["detail"]


async def test_an_ended_category_still_counts_for_a_hiring_inside_it(subsidy: Harness) -> None:
    hire = eligible_hire(
        difficulty_categories=[],
        ended_difficulty_categories=[category("low_income_family", date(2017, 1, 1), valid_until=date(2018, 6, 30))],
    )
    await subsidy.project(hire)
    body = (await subsidy.apply(hire)).json()
    assert body["status"] == "eligible", body["checks"]


async def test_a_restricted_difficulty_is_a_difficulty_of_unknown_kind(subsidy: Harness) -> None:
    # A capacity-reduction worker is a key group only "with a difficulty": a sensitive category,
    # which the registry publishes without its kind, is one.
    hire = eligible_hire(
        difficulty_categories=[category("capacity_reduction_worker"), category("restricted_difficulty")]
    )
    await subsidy.project(hire)
    body = (await subsidy.apply(hire)).json()
    assert body["status"] == "eligible", body["checks"]
    detail = next(c["detail"] for c in body["checks"] if c["rule"] == "key_group")
    assert "key group capacity_reduction_worker" in detail and "restricted_difficulty [restricted" in detail

    alone = eligible_hire(difficulty_categories=[category("restricted_difficulty")])
    await subsidy.project(alone)
    body = (await subsidy.apply(alone)).json()
    assert body["status"] == "ineligible"
    assert [c["rule"] for c in body["checks"] if not c["passed"]] == ["key_group"]


async def test_an_application_naming_what_the_projection_has_not_seen_waits_then_is_judged(
    subsidy: Harness,
) -> None:
    """SPEC 2.3: never a 422 and never `ineligible` because an event has not arrived yet."""
    hire = eligible_hire()
    applied = await subsidy.apply(hire)
    assert applied.status_code == 201, applied.text
    body = applied.json()
    assert (body["status"], body["checks"], body["amount_fen"], body["payee"]) == ("submitted", [], 0, None)

    # The person arrives, the employment not yet: still waiting.
    await subsidy.publish_person(hire.person, PERSON_REGISTERED)
    await subsidy.wait_applied_all()
    assert (await subsidy.application(body["application_id"]))["status"] == "submitted"

    # The employment arrives: the background evaluator judges it.
    await subsidy.publish_employment(hire.employment)

    async def judged() -> bool:
        return (await subsidy.application(body["application_id"]))["status"] != "submitted"

    await eventually(judged)
    application = await subsidy.application(body["application_id"])
    assert application["status"] == "eligible", application["checks"]
    assert application["amount_fen"] == GRANT_FEN
    events = await application_events(subsidy.bootstrap, body["application_id"], 2)
    assert [(e.type, e.data["status"]) for e in events] == [
        (APPLICATION_SUBMITTED, "submitted"),
        (APPLICATION_EVALUATED, "eligible"),
    ]


async def test_after_the_wait_an_unknown_beneficiary_is_judged_with_a_failed_beneficiary_known(
    subsidy: Harness,
) -> None:
    hire = eligible_hire()
    body = (await subsidy.apply(hire)).json()
    assert body["status"] == "submitted"
    # The wait is over (its length is a setting): the evaluator gives up on the next round.
    subsidy.settings.facts_wait_s = 0.5
    try:

        async def judged() -> bool:
            return (await subsidy.application(body["application_id"]))["status"] != "submitted"

        await eventually(judged)
    finally:
        subsidy.settings.facts_wait_s = 600.0
    application = await subsidy.application(body["application_id"])
    assert application["status"] == "ineligible"
    assert application["failed_rules"] == ["beneficiary_known"]
    [known] = application["checks"]
    assert f"person {hire.person_id}" in known["detail"] and f"employment {hire.employment_id}" in known["detail"]

    # Facts that arrive later make it eligible: it is judged again until a reviewer decides.
    await subsidy.project(hire)

    async def eligible() -> bool:
        return (await subsidy.application(body["application_id"]))["status"] == "eligible"

    await eventually(eligible)


async def test_a_submission_waits_for_the_registry_writes_acknowledged_before_it(subsidy: Harness) -> None:
    """While the registry's watermark lags, a submission is answered `submitted`, however long the
    projection has held the beneficiary: the write acknowledged just before may not be in it yet."""
    hire = await subsidy.project(changed(eligible_hire(), contribution_months=months("2018-04", 11)))
    subsidy.relay.paused = True
    try:
        # The 12th month is written (acknowledged by the registry) but its watermark is not out.
        await subsidy.publish_employment(
            hire.employment.model_copy(update={"version": 2, "contribution_months": months("2018-04", 12)})
        )
        body = (await subsidy.apply(hire)).json()
        assert body["status"] == "submitted"
    finally:
        subsidy.relay.paused = False

    async def judged() -> bool:
        return (await subsidy.application(body["application_id"]))["status"] != "submitted"

    await eventually(judged)
    # Judged on the twelve months, never on the eleven.
    application = await subsidy.application(body["application_id"])
    assert application["status"] == "eligible", application["checks"]
    events = await application_events(subsidy.bootstrap, body["application_id"], 2)
    assert [e.data["status"] for e in events] == ["submitted", "eligible"]


@pytest.mark.parametrize(
    ("topic", "data"),
    [
        (REGISTRY_PERSON, {"person_id": "not-a-uuid", "version": 1}),
        (REGISTRY_EMPLOYMENT, {"employment_id": str(uuid.uuid4()), "version": 0}),
    ],
)
async def test_a_snapshot_that_does_not_validate_is_dead_lettered(
    subsidy: Harness, topic: str, data: dict[str, object]
) -> None:
    event = CloudEvent(source="/registry", type="registry.person.updated", subject="x", data=data)
    await subsidy.producer.send_and_wait(topic, event.to_bytes(), key=b"x")
    consumer = AIOKafkaConsumer(
        dead_letter(topic), bootstrap_servers=subsidy.bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    ours = f"{subsidy.settings.kafka_consumer_group_prefix}subsidy.{PROJECTION_CONSUMER}".encode()
    errors: list[str] = []
    try:

        async def dead_lettered() -> bool:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    headers = dict(record.headers)
                    if CloudEvent.from_bytes(record.value or b"").id == event.id and headers["dlq_consumer"] == ours:
                        errors.append(headers["dlq_error"].decode())
            return bool(errors)

        await eventually(dead_lettered)
    finally:
        await consumer.stop()
    assert errors[0].startswith("PermanentEventError: ")
    assert "is not a valid" in errors[0]


async def test_a_beneficiary_shows_what_the_projection_holds(subsidy: Harness) -> None:
    training = TrainingState(
        training_id=uuid.uuid4(),
        kind="vocational",
        completed_on=date(2018, 9, 1),
        certificate_level="intermediate",
        provider="荣昌职教中心",
    )
    hire = await subsidy.project(
        eligible_hire(
            difficulty_categories=[category("low_income_family"), category("restricted_difficulty")],
            graduated_on=date(2017, 7, 1),
            trainings=[training],
        )
    )
    response = await subsidy.client.get(f"/subsidy/v1/beneficiaries/{hire.person.person_id}", scopes=["subsidy:read"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 1 and body["status"] == "employed"
    assert [c["category"] for c in body["difficulty_categories"]] == ["low_income_family", "restricted_difficulty"]
    assert body["town"] == "昌元街道" and body["graduated_on"] == "2017-07-01"
    assert [(t["training_id"], t["certificate_level"]) for t in body["trainings"]] == [
        (str(training.training_id), "intermediate")
    ]
    assert "birth_date" not in body and "id_number_masked" not in body
    (employment,) = body["employments"]
    assert employment["employment_id"] == str(hire.employment.employment_id)
    assert employment["contribution_months"] == 12
    assert employment["started_on"] == "2018-04-01"

    unknown = await subsidy.client.get(f"/subsidy/v1/beneficiaries/{uuid.uuid4()}", scopes=["subsidy:read"])
    problem(unknown, 404, "beneficiary-not-found")
    denied = await subsidy.client.get(f"/subsidy/v1/beneficiaries/{hire.person.person_id}", scopes=["subsidy:apply"])
    assert denied.status_code == 403


async def test_past_the_wait_known_facts_without_a_watermark_are_never_judged(subsidy: Harness) -> None:
    """The projection holds every fact, but no watermark says it is current (a source's relay is
    down): the application keeps waiting past SUBSIDY_FACTS_WAIT_S, and is judged once one comes."""
    hire = await subsidy.project(eligible_hire())
    subsidy.relay.paused = True
    subsidy.settings.facts_wait_s = 0.3
    try:
        body = (await subsidy.apply(hire)).json()
        assert body["status"] == "submitted"
        await asyncio.sleep(2.0)  # many evaluator rounds past the wait
        assert (await subsidy.application(body["application_id"]))["status"] == "submitted"
    finally:
        subsidy.settings.facts_wait_s = 600.0
        subsidy.relay.paused = False

    async def judged() -> bool:
        return (await subsidy.application(body["application_id"]))["status"] == "eligible"

    await eventually(judged)
