"""Sharing outward, through the running sharing service against real PostgreSQL and a real tansu broker:
agreements, queries answered with the agreed fields only or refused, identity verification, the
hash-chained audit log (listed, filtered, verified, append-only, tamper found) and statistics reports
with disclosure control. The registry's events are played onto the broker by the test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import create_async_engine

from contracts.envelope import CloudEvent, new_event
from contracts.registry import (
    EMPLOYMENT_RECORDED,
    PERSON_UPDATED,
    EmploymentSnapshot,
    PersonSnapshot,
    PublishedDifficulty,
    TrainingState,
    UnemploymentRegistrationState,
)
from contracts.statistics import StatisticsReport
from contracts.topics import REGISTRY_EMPLOYMENT, REGISTRY_PERSON, SHARING_STATISTICS_REPORT
from services.kit.clock import FixedClock
from services.kit.errors import PROBLEM_JSON
from services.kit.identifiers import mask_id_number
from services.kit.migrations import upgrade
from services.sharing.audit.chain import GENESIS_HASH, entry_hash
from services.sharing.datasets.catalog import CATALOG
from tests.sharing.factories import id_number
from tests.sharing.harness import SharingService, sharing_service
from tests.support import PostgresDatabases, eventually, read_topic_sync

pytestmark = pytest.mark.integration

TODAY = date(2026, 12, 3)
AGREEMENTS = "/sharing/v1/agreements"
QUERIES = "/sharing/v1/queries"
VERIFY = "/sharing/v1/verifications/identity"
AUDIT = "/sharing/v1/audit"
REPORTS = "/sharing/v1/statistics/reports"
IDENTITY_PATH = "/sharing/v1/agencies/public_security/datasets/identity/records"
DIBAO_PATH = "/sharing/v1/agencies/civil_affairs/datasets/dibao/records"

CIVIL = {"scopes": ["sharing:query"], "agency": "civil_affairs", "client_id": "civil-affairs-review"}
DISABLED = {"scopes": ["sharing:query"], "agency": "disabled_federation", "client_id": "dpf-system"}
READER = {"scopes": ["sharing:read"], "agency": "hrss", "client_id": "bureau-auditor"}
VERIFIER = {"scopes": ["sharing:verify"], "agency": "civil_affairs", "client_id": "civil-affairs-counter"}
POLICE = {"scopes": ["sharing:submit"], "agency": "public_security", "client_id": "police-system"}
STATISTICS = {"scopes": ["statistics:read"], "agency": "statistics", "client_id": "statistics-bureau"}

ALICE = id_number("19750312", "222")  # registered unemployed, low income, a sensitive category too
BOB = id_number("19680101", "111")  # employed
CAROL = id_number("19950630", "468")  # unknown to the registry
DAVE = id_number("19800808", "135")  # deceased, per public security


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"urn:rongchang-employment:problem:{slug}"
    assert problem["status"] == status and problem["detail"]
    return problem


def person(sharing: SharingService, number: str, **changes: Any) -> PersonSnapshot:
    return PersonSnapshot.model_validate(
        {
            "person_id": uuid.uuid4(),
            "subject_ref": sharing.subject(number),
            "version": 1,
            "name_masked": "刘*梅",
            "gender": "female",
            "birth_year": int(number[6:10]),
            "hukou_type": "urban",
            "town": "昌元街道",
            "status": "none",
            "difficulty_categories": [],
            "unemployment_registrations": [],
            **changes,
        }
    )


def employment(
    of: PersonSnapshot, started_on: date, ended_on: date | None = None, end_reason: str = "contract_expired"
) -> EmploymentSnapshot:
    return EmploymentSnapshot.model_validate(
        {
            "employment_id": uuid.uuid4(),
            "person_id": of.person_id,
            "version": 1,
            "employer_credit_code": "91500153MA5U3P7X1",
            "employer_name": "荣昌陶瓷有限公司",
            "kind": "employee",
            "started_on": started_on,
            "ended_on": ended_on,
            "end_reason": end_reason if ended_on else None,
            "contribution_months": [],
        }
    )


def registration(on: date, closed_on: date | None = None) -> UnemploymentRegistrationState:
    return UnemploymentRegistrationState(registration_id=uuid.uuid4(), registered_on=on, closed_on=closed_on)


class Registry:
    """Plays the registry's events onto the session's broker."""

    def __init__(self, producer: AIOKafkaProducer, sharing: SharingService) -> None:
        self.producer = producer
        self.sharing = sharing

    async def publish(self, *items: PersonSnapshot | EmploymentSnapshot) -> list[str]:
        """Each item as an event of its own; the events' ids."""
        ids = []
        for item in items:
            if isinstance(item, PersonSnapshot):
                event = new_event(source="/registry", type=PERSON_UPDATED, subject=str(item.person_id), data=item)
                await self.producer.send_and_wait(REGISTRY_PERSON, event.to_bytes(), key=str(item.person_id).encode())
            else:
                event = new_event(source="/registry", type=EMPLOYMENT_RECORDED, subject=str(item.person_id), data=item)
                await self.producer.send_and_wait(
                    REGISTRY_EMPLOYMENT, event.to_bytes(), key=str(item.person_id).encode()
                )
            ids.append(event.id)
        return ids

    async def wait_applied(self, event_ids: list[str]) -> None:
        """Until the app's inbox has recorded each event (applied, or found to change nothing)."""

        async def recorded() -> bool:
            async with self.sharing.engine.connect() as conn:
                n = (
                    await conn.execute(
                        sa.text("SELECT count(*) FROM inbox_entry WHERE event_id = ANY(:ids)"), {"ids": event_ids}
                    )
                ).scalar_one()
            return int(n) == len(event_ids)

        await eventually(recorded, within=60)

    async def wait_projected(self, *items: PersonSnapshot | EmploymentSnapshot) -> None:
        persons = [str(i.person_id) for i in items if isinstance(i, PersonSnapshot)]
        employments = [str(i.employment_id) for i in items if isinstance(i, EmploymentSnapshot)]

        async def arrived() -> bool:
            async with self.sharing.engine.connect() as conn:
                n = (
                    await conn.execute(
                        sa.text("SELECT count(*) FROM sharing_person WHERE person_id = ANY(CAST(:ids AS uuid[]))"),
                        {"ids": persons},
                    )
                ).scalar_one()
                m = (
                    await conn.execute(
                        sa.text(
                            "SELECT count(*) FROM sharing_employment WHERE employment_id = ANY(CAST(:ids AS uuid[]))"
                        ),
                        {"ids": employments},
                    )
                ).scalar_one()
            return int(n) == len(persons) and int(m) == len(employments)

        # The app's first catch-up reads every registry event the session's other tests left.
        await eventually(arrived, within=90)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clock() -> FixedClock:
    return FixedClock.on(TODAY)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sharing(
    kafka_bootstrap: str, databases: PostgresDatabases, clock: FixedClock
) -> AsyncIterator[SharingService]:
    async with sharing_service(
        databases, kafka_bootstrap, clock=clock, statistics_interval_s=0.5, statistics_close_grace_s=3600
    ) as service:
        # November closed before the app's day: its report is produced at start-up, in the background.
        # Waited for here, so that the audit entry of its delivery lands before any test counts entries.
        async def november_kept() -> bool:
            return await table_count(service, "sharing_statistics_report") >= 1

        await eventually(november_kept)
        yield service


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def registry(kafka_bootstrap: str, sharing: SharingService) -> AsyncIterator[Registry]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        yield Registry(producer, sharing)
    finally:
        await producer.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def people(registry: Registry, sharing: SharingService) -> dict[str, Any]:
    alice = person(
        sharing,
        ALICE,
        status="unemployed",
        unemployment_registrations=[registration(date(2026, 10, 8))],
        difficulty_categories=[
            PublishedDifficulty(category="low_income_family", source="civil_affairs", valid_from=date(2026, 1, 1)),
            PublishedDifficulty(category="restricted_difficulty", source="restricted", valid_from=date(2025, 5, 1)),
        ],
    )
    bob = person(sharing, BOB, status="employed", gender="male")
    job = employment(bob, date(2026, 11, 2))
    await registry.publish(alice, bob, job)
    await registry.wait_projected(alice, bob, job)
    return {"alice": alice, "bob": bob, "job": job}


async def make_agreement(sharing: SharingService, **changes: Any) -> dict[str, Any]:
    body = {
        "consumer_agency": "civil_affairs",
        "dataset": "hrss/employment_status",
        "fields": ["status", "employer_name"],
        "purpose": "低保复核 dibao review",
        "valid_from": "2026-01-01",
        "valid_until": "2026-12-31",
        **changes,
    }
    response = await sharing.client.post(AGREEMENTS, json=body)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{AGREEMENTS}/{response.json()['agreement_id']}"
    created: dict[str, Any] = response.json()
    return created


async def audit_entries(sharing: SharingService, query: str = "") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        separator = "&" if query else ""
        response = await sharing.client.get(f"{AUDIT}?{query}{separator}limit=200{cursor}", **READER)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        cursor = f"&cursor={page['next_cursor']}"


async def table_count(sharing: SharingService, table: str) -> int:
    async with sharing.engine.connect() as conn:
        return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())


# --------------------------------------------------------------------------------------- agreements


async def test_inbound_agreements_are_the_catalogue_s_declarations(sharing: SharingService) -> None:
    response = await sharing.client.get(f"{AGREEMENTS}?direction=inbound&limit=100", **READER)
    assert response.status_code == 200, response.text
    inbound = {item["dataset"]: item for item in response.json()["items"]}
    assert set(inbound) == {dataset.code for dataset in CATALOG}
    dibao = inbound["civil_affairs/dibao"]
    assert (dibao["provider_agency"], dibao["consumer_agency"], dibao["status"]) == ("civil_affairs", "hrss", "active")
    assert "id_number" in dibao["fields"] and "since" in dibao["fields"]
    revoke = await sharing.client.post(f"{AGREEMENTS}/{dibao['agreement_id']}/revoke")
    assert_problem(revoke, 409, "agreement-declared")


async def test_only_an_administrator_makes_an_agreement(sharing: SharingService) -> None:
    before = await table_count(sharing, "sharing_agreement")
    body = {
        "consumer_agency": "civil_affairs",
        "dataset": "hrss/employment_status",
        "fields": ["status"],
        "purpose": "x",
        "valid_from": "2026-01-01",
        "valid_until": "2026-12-31",
    }
    response = await sharing.client.post(AGREEMENTS, json=body, **READER)
    assert_problem(response, 403, "forbidden")
    assert await table_count(sharing, "sharing_agreement") == before


@pytest.mark.parametrize(
    ("changes", "slug", "says"),
    [
        ({"dataset": "civil_affairs/dibao"}, "invalid-agreement", "not shared outward"),
        ({"fields": ["status", "salary"]}, "invalid-agreement", "'salary'"),
        ({"consumer_agency": "statistics"}, "invalid-agreement", "aggregates only"),
        ({"valid_from": "2025-01-01", "valid_until": "2025-12-31"}, "invalid-agreement", "has passed"),
        ({"valid_from": "2026-12-31", "valid_until": "2026-01-01"}, "validation-error", "before valid_from"),
        ({"fields": []}, "validation-error", "fields"),
        ({"fields": ["status", "status"]}, "validation-error", "twice"),
        ({"consumer_agency": "tax_bureau"}, "validation-error", "consumer_agency"),
    ],
)
async def test_an_agreement_that_cannot_be_made_is_a_422_that_changes_nothing(
    sharing: SharingService, changes: dict[str, Any], slug: str, says: str
) -> None:
    before = await table_count(sharing, "sharing_agreement")
    body = {
        "consumer_agency": "civil_affairs",
        "dataset": "hrss/employment_status",
        "fields": ["status"],
        "purpose": "低保复核",
        "valid_from": "2026-01-01",
        "valid_until": "2026-12-31",
        **changes,
    }
    problem = assert_problem(await sharing.client.post(AGREEMENTS, json=body), 422, slug)
    assert says in str(problem)
    assert await table_count(sharing, "sharing_agreement") == before


async def test_an_agreement_reads_back_and_an_unknown_one_is_404(sharing: SharingService) -> None:
    agreement = await make_agreement(sharing)
    response = await sharing.client.get(f"{AGREEMENTS}/{agreement['agreement_id']}", **READER)
    assert response.status_code == 200
    assert response.json() == agreement
    assert agreement["status"] == "active" and agreement["direction"] == "outward"
    assert agreement["provider_agency"] == "hrss"
    assert_problem(await sharing.client.get(f"{AGREEMENTS}/{uuid.uuid4()}", **READER), 404, "agreement-not-found")


# ------------------------------------------------------------------------------------------ queries


async def test_a_query_answers_the_agreed_fields_only(sharing: SharingService, people: dict[str, Any]) -> None:
    agreement = await make_agreement(sharing, fields=["status", "employer_name"])
    body = {"agreement_id": agreement["agreement_id"], "id_numbers": [ALICE, BOB, CAROL, ALICE]}
    response = await sharing.client.post(QUERIES, json=body, **CIVIL)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["fields"] == ["status", "employer_name"]
    assert answer["records"] == [
        {"index": 0, "id_number_masked": mask_id_number(ALICE), "status": "unemployed", "employer_name": None},
        {
            "index": 1,
            "id_number_masked": mask_id_number(BOB),
            "status": "employed",
            "employer_name": "荣昌陶瓷有限公司",
        },
        {"index": 3, "id_number_masked": mask_id_number(ALICE), "status": "unemployed", "employer_name": None},
    ]
    assert answer["not_found"] == [{"index": 2, "id_number_masked": mask_id_number(CAROL)}]
    assert ALICE not in response.text and BOB not in response.text


async def test_sensitive_categories_never_leave(sharing: SharingService, people: dict[str, Any]) -> None:
    agreement = await make_agreement(
        sharing, fields=["difficulty_categories", "registered_unemployed_since", "employed_since"]
    )
    body = {"agreement_id": agreement["agreement_id"], "id_numbers": [ALICE, BOB]}
    answer = (await sharing.client.post(QUERIES, json=body, **CIVIL)).json()
    alice, bob = answer["records"]
    assert alice["difficulty_categories"] == [
        {"category": "low_income_family", "valid_from": "2026-01-01", "valid_until": None}
    ]
    assert alice["registered_unemployed_since"] == "2026-10-08" and alice["employed_since"] is None
    assert bob["employed_since"] == "2026-11-02" and bob["difficulty_categories"] == []
    assert "restricted" not in str(answer) and "status" not in alice


async def test_a_query_is_audited_with_the_persons_answered(sharing: SharingService, people: dict[str, Any]) -> None:
    agreement = await make_agreement(sharing, purpose="残联跟踪 follow-up", consumer_agency="disabled_federation")
    body = {"agreement_id": agreement["agreement_id"], "id_numbers": [BOB, CAROL]}
    answered = await sharing.client.post(QUERIES, json=body, **DISABLED)
    assert answered.status_code == 200, answered.text
    [entry] = await audit_entries(sharing, "agency=disabled_federation&action=query")
    assert entry["outcome"] == "answered" and entry["reason"] is None
    assert (entry["dataset"], entry["purpose"], entry["records"]) == ("hrss/employment_status", "残联跟踪 follow-up", 1)
    assert entry["subjects"] == [sharing.subject(BOB)]
    assert entry["client_id"] == "dpf-system"


@pytest.mark.parametrize("case", ["unknown", "another-agency", "revoked", "not-yet-valid"])
async def test_a_query_without_a_valid_agreement_is_refused_and_audited(
    sharing: SharingService, people: dict[str, Any], case: str
) -> None:
    if case == "unknown":
        agreement_id = str(uuid.uuid4())
    elif case == "another-agency":
        agreement_id = (await make_agreement(sharing, consumer_agency="disabled_federation"))["agreement_id"]
    elif case == "revoked":
        agreement_id = (await make_agreement(sharing))["agreement_id"]
        revoked = await sharing.client.post(f"{AGREEMENTS}/{agreement_id}/revoke")
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    else:
        agreement_id = (await make_agreement(sharing, valid_from="2026-12-10"))["agreement_id"]
    audited_before = len(await audit_entries(sharing, "action=query"))
    body = {"agreement_id": agreement_id, "id_numbers": [ALICE]}
    response = await sharing.client.post(QUERIES, json=body, **CIVIL)
    problem = assert_problem(response, 403, "not-agreed")
    assert problem["agreement_id"] == agreement_id
    assert "低保" not in problem["detail"]
    entries = await audit_entries(sharing, "action=query")
    assert len(entries) == audited_before + 1
    refused = entries[-1]
    assert (refused["outcome"], refused["records"], refused["subjects"]) == ("refused", 0, [])
    assert refused["agency"] == "civil_affairs" and refused["reason"] == problem["detail"]


async def test_an_agreement_is_refused_the_day_after_it_expires(
    sharing: SharingService, people: dict[str, Any], clock: FixedClock
) -> None:
    agreement = await make_agreement(sharing, valid_until=TODAY.isoformat())
    body = {"agreement_id": agreement["agreement_id"], "id_numbers": [ALICE]}
    assert (await sharing.client.post(QUERIES, json=body, **CIVIL)).status_code == 200
    today = clock.instant
    clock.instant = today + timedelta(days=1)
    try:
        problem = assert_problem(await sharing.client.post(QUERIES, json=body, **CIVIL), 403, "not-agreed")
        assert "expired" in problem["detail"]
    finally:
        clock.instant = today


async def test_a_query_needs_its_scope_and_valid_id_numbers(sharing: SharingService) -> None:
    agreement = await make_agreement(sharing)
    before = await table_count(sharing, "sharing_audit_entry")
    body = {"agreement_id": agreement["agreement_id"], "id_numbers": [ALICE]}
    assert_problem(await sharing.client.post(QUERIES, json=body, **READER), 403, "forbidden")
    bad = {"agreement_id": agreement["agreement_id"], "id_numbers": [ALICE, ALICE[:17] + "0"]}
    problem = assert_problem(await sharing.client.post(QUERIES, json=bad, **CIVIL), 422, "validation-error")
    assert "id_numbers.1" in str(problem)
    too_many = {"agreement_id": agreement["agreement_id"], "id_numbers": [ALICE] * 10_001}
    assert_problem(await sharing.client.post(QUERIES, json=too_many, **CIVIL), 422, "validation-error")
    assert await table_count(sharing, "sharing_audit_entry") == before


# ---------------------------------------------------------------------------- identity verification


async def test_identity_verification_answers_match_no_match_and_deceased(sharing: SharingService) -> None:
    records = [
        {
            "id_number": ALICE,
            "name": "刘小梅",
            "hukou_type": "urban",
            "hukou_area_code": "500153",
            "household_no": "H-1",
        },
        {
            "id_number": DAVE,
            "name": "王大伟",
            "hukou_type": "rural",
            "hukou_area_code": "500153",
            "household_no": "H-2",
            "deceased_on": "2026-11-20",
        },
    ]
    pushed = await sharing.client.post(IDENTITY_PATH, json={"records": records}, **POLICE)
    assert pushed.status_code == 201 and pushed.json()["accepted"] == 2, pushed.text
    verified_before = len(await audit_entries(sharing, "action=verify"))

    async def check(number: str, name: str) -> dict[str, Any]:
        response = await sharing.client.post(VERIFY, json={"id_number": number, "name": name}, **VERIFIER)
        assert response.status_code == 200, response.text
        verdict: dict[str, Any] = response.json()
        assert set(verdict) == {"match", "deceased"}
        return verdict

    assert await check(ALICE, "刘小梅") == {"match": True, "deceased": False}
    assert await check(ALICE, " 刘小梅 ") == {"match": True, "deceased": False}
    assert await check(ALICE, "刘晓梅") == {"match": False, "deceased": False}
    assert await check(DAVE, "王大伟") == {"match": True, "deceased": True}
    assert await check(DAVE, "王小伟") == {"match": False, "deceased": False}, "a death is told only with the name"
    assert await check(CAROL, "陈某") == {"match": False, "deceased": False}
    entries = await audit_entries(sharing, "action=verify")
    assert len(entries) == verified_before + 6
    assert entries[-1]["subjects"] == [sharing.subject(CAROL)]
    assert entries[-1]["dataset"] == "public_security/identity"
    async with sharing.engine.connect() as conn:
        stored = (await conn.execute(sa.text("SELECT * FROM sharing_identity"))).mappings().all()
    assert "刘小梅" not in str(stored) and ALICE not in str(stored)


async def test_a_newer_identity_record_supersedes_the_older(sharing: SharingService) -> None:
    number = id_number("19900909", "357")
    record = {
        "id_number": number,
        "name": "赵一",
        "hukou_type": "urban",
        "hukou_area_code": "500153",
        "household_no": "H",
    }
    await sharing.client.post(IDENTITY_PATH, json={"records": [record]}, **POLICE)
    renamed = {**record, "name": "赵二", "deceased_on": "2026-12-01"}
    await sharing.client.post(IDENTITY_PATH, json={"records": [renamed]}, **POLICE)
    old = await sharing.client.post(VERIFY, json={"id_number": number, "name": "赵一"}, **VERIFIER)
    new = await sharing.client.post(VERIFY, json={"id_number": number, "name": "赵二"}, **VERIFIER)
    assert old.json() == {"match": False, "deceased": False}
    assert new.json() == {"match": True, "deceased": True}


async def test_identity_verification_needs_its_scope_and_a_valid_id_number(sharing: SharingService) -> None:
    before = await table_count(sharing, "sharing_audit_entry")
    assert_problem(await sharing.client.post(VERIFY, json={"id_number": ALICE, "name": "x"}, **CIVIL), 403, "forbidden")
    bad = {"id_number": ALICE[:17] + "0", "name": "刘小梅"}
    assert_problem(await sharing.client.post(VERIFY, json=bad, **VERIFIER), 422, "validation-error")
    assert_problem(
        await sharing.client.post(VERIFY, json={"id_number": ALICE, "name": ""}, **VERIFIER), 422, "validation-error"
    )
    assert await table_count(sharing, "sharing_audit_entry") == before


# ----------------------------------------------------------------------------------------- audit log


async def test_pushes_are_audited_with_their_subjects(sharing: SharingService) -> None:
    civil = {"scopes": ["sharing:submit"], "agency": "civil_affairs", "client_id": "civil-affairs-system"}
    records = [{"id_number": ALICE, "since": "2026-01-01"}, {"id_number": "not an id", "since": "2026-01-01"}]
    pushed = await sharing.client.post(DIBAO_PATH, json={"records": records}, **civil)
    assert pushed.status_code == 201
    [entry] = [e for e in await audit_entries(sharing, "action=push&dataset=civil_affairs/dibao")]
    assert (entry["agency"], entry["records"], entry["subjects"]) == ("civil_affairs", 2, [sharing.subject(ALICE)])
    assert entry["purpose"].startswith("inbound: ")
    assert ALICE not in str(entry)


async def test_the_audit_log_filters_by_subject_time_and_pages_in_chain_order(
    sharing: SharingService, people: dict[str, Any]
) -> None:
    everything = await audit_entries(sharing)
    assert [e["seq"] for e in everything] == list(range(1, len(everything) + 1))
    alice = await audit_entries(sharing, f"subject_id_number={ALICE}")
    assert alice and all(sharing.subject(ALICE) in e["subjects"] for e in alice)
    assert len(alice) == sum(sharing.subject(ALICE) in e["subjects"] for e in everything)
    instant = datetime.fromisoformat(everything[0]["at"])

    def at(moment: datetime) -> str:
        return moment.isoformat().replace("+", "%2B")

    def recorded(e: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(e["at"])

    later = instant + timedelta(microseconds=1)
    assert await audit_entries(sharing, f"since={at(instant)}") == everything
    assert await audit_entries(sharing, f"since={at(later)}") == [e for e in everything if recorded(e) >= later]
    assert await audit_entries(sharing, f"until={at(instant)}") == []
    assert await audit_entries(sharing, f"until={at(later)}") == [e for e in everything if recorded(e) < later]
    page = await sharing.client.get(f"{AUDIT}?limit=2", **READER)
    assert [e["seq"] for e in page.json()["items"]] == [1, 2]
    naive = await sharing.client.get(f"{AUDIT}?since=2026-12-01T00:00:00", **READER)
    assert_problem(naive, 422, "validation-error")
    assert_problem(await sharing.client.get(f"{AUDIT}?subject_id_number=123", **READER), 422, "validation-error")
    assert_problem(await sharing.client.get(AUDIT, **CIVIL), 403, "forbidden")


async def test_each_entry_s_hash_is_recomputable_from_the_listing(sharing: SharingService) -> None:
    """What an auditor's own script does (README, "Verifying the audit chain")."""
    import hashlib
    import json

    previous = GENESIS_HASH
    entries = await audit_entries(sharing)
    assert entries
    for entry in entries:
        fields = {name: value for name, value in entry.items() if name not in ("hash", "subjects")}
        encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert hashlib.sha256(encoded).hexdigest() == entry["hash"] == entry_hash(fields)
        assert entry["prev_hash"] == previous
        if entry["subjects"] is not None:
            assert hashlib.sha256("\n".join(entry["subjects"]).encode()).hexdigest() == entry["subjects_digest"]
        previous = entry["hash"]


async def test_who_a_special_population_push_concerns_is_shown_only_to_admin_and_the_pusher(
    sharing: SharingService,
) -> None:
    number = id_number("19770707", "531")
    pushed = await sharing.client.post(
        "/sharing/v1/agencies/public_security/datasets/special_population/records",
        json={"records": [{"id_number": number, "kind": "released_prisoner", "since": "2025-03-01"}]},
        **POLICE,
    )
    assert pushed.status_code == 201, pushed.text
    sensitive = "dataset=public_security/special_population"
    [seen] = await audit_entries(sharing, sensitive)
    assert seen["subjects"] is None and seen["records"] == 1, "a sharing:read reader sees that it happened, not whom"
    assert await audit_entries(sharing, f"subject_id_number={number}") == []
    police_reader = {"scopes": ["sharing:read"], "agency": "public_security", "client_id": "police-auditor"}
    own = (await sharing.client.get(f"{AUDIT}?{sensitive}", **police_reader)).json()["items"]
    assert own[0]["subjects"] == [sharing.subject(number)]
    admin = (await sharing.client.get(f"{AUDIT}?subject_id_number={number}")).json()["items"]
    assert [e["seq"] for e in admin] == [seen["seq"]] and admin[0]["subjects"] == [sharing.subject(number)]
    assert admin[0]["subjects_digest"] == seen["subjects_digest"]


async def test_fifty_concurrent_pushes_leave_one_unbroken_chain(sharing: SharingService) -> None:
    civil = {"scopes": ["sharing:submit"], "agency": "civil_affairs", "client_id": "civil-affairs-system"}
    before = await table_count(sharing, "sharing_audit_entry")

    async def push(n: int) -> int:
        record = {"id_number": id_number("19700101", f"{n:03d}"), "since": "2026-01-01"}
        response = await sharing.client.post(DIBAO_PATH, json={"records": [record]}, **civil)
        return response.status_code

    assert await asyncio.gather(*(push(n) for n in range(50))) == [201] * 50
    assert await table_count(sharing, "sharing_audit_entry") == before + 50
    verified = (await sharing.client.get(f"{AUDIT}/verify", **READER)).json()
    assert verified["valid"] is True and verified["first_bad_seq"] is None
    assert verified["entries"] == verified["last_seq"] >= before + 50
    metrics = (await sharing.client.http.get("/metrics")).text
    assert "sharing_audit_chain_valid 1.0" in metrics
    assert 'sharing_audit_entries_total{action="push",agency="civil_affairs"}' in metrics


@pytest.mark.parametrize(
    "statement", ["UPDATE sharing_audit_entry SET purpose = 'x'", "DELETE FROM sharing_audit_entry"]
)
async def test_the_database_refuses_to_change_audit_rows(sharing: SharingService, statement: str) -> None:
    before = await audit_entries(sharing)
    assert before
    async with sharing.engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            await conn.execute(sa.text(f"{statement} WHERE seq = 1"))
        await conn.rollback()
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            await conn.execute(sa.text("TRUNCATE sharing_audit_entry CASCADE"))
        await conn.rollback()
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            await conn.execute(sa.text("DELETE FROM sharing_audit_subject"))
        await conn.rollback()
    assert await audit_entries(sharing) == before


async def test_sqlite_refuses_to_change_audit_rows_too(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sharing.db'}"
    await asyncio.to_thread(upgrade, "sharing", url)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO sharing_audit_entry (seq, at, client_id, agency, action, dataset, purpose, outcome, "
                    "request_id, records, subjects, prev_hash, hash) VALUES (1, '2026-12-03 00:00:00', 'c', 'a', "
                    "'push', 'd', 'p', 'answered', 'r', 0, '[]', :h, :h)"
                ),
                {"h": GENESIS_HASH},
            )
        for statement in ("UPDATE sharing_audit_entry SET purpose = 'x'", "DELETE FROM sharing_audit_entry"):
            async with engine.connect() as conn:
                with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                    await conn.execute(sa.text(statement))
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT purpose FROM sharing_audit_entry"))).scalar_one() == "p"
    finally:
        await engine.dispose()


async def test_one_flipped_byte_is_named_by_the_verification(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    async with sharing_service(databases, kafka_bootstrap) as tampered:
        civil = {"scopes": ["sharing:submit"], "agency": "civil_affairs", "client_id": "civil-affairs-system"}
        for n in range(5):
            record = {"id_number": id_number("19710101", f"{n:03d}"), "since": "2026-01-01"}
            assert (await tampered.client.post(DIBAO_PATH, json={"records": [record]}, **civil)).status_code == 201
        assert (await tampered.client.get(f"{AUDIT}/verify", **READER)).json()["valid"] is True
        async with tampered.engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE sharing_audit_entry DISABLE TRIGGER USER"))
            # One byte of seq 3: the 'i' of "inbound" becomes 'I'.
            await conn.execute(
                sa.text("UPDATE sharing_audit_entry SET purpose = 'I' || substr(purpose, 2) WHERE seq = 3")
            )
            await conn.execute(sa.text("ALTER TABLE sharing_audit_entry ENABLE TRIGGER USER"))
        verified = (await tampered.client.get(f"{AUDIT}/verify", **READER)).json()
        assert (verified["valid"], verified["first_bad_seq"], verified["entries"]) == (False, 3, 3)
        metrics = (await tampered.client.http.get("/metrics")).text
        assert "sharing_audit_chain_valid 0.0" in metrics and "sharing_audit_chain_first_bad_seq 3.0" in metrics


# ------------------------------------------------------------------------------- statistics reports


def recoverable(column: list[dict[str, Any]], total: dict[str, Any]) -> bool:
    """With only column totals published, a suppressed cell of a column can be worked out exactly when
    the total is published and the column hides one cell, or hides cells that must all be zero."""
    hidden = [cell for cell in column if cell["suppressed"]]
    if not hidden or total["suppressed"]:
        return False
    rest = total["value"] - sum(cell["value"] for cell in column if not cell["suppressed"])
    return len(hidden) == 1 or rest == 0


def assert_disclosure_controlled(report: dict[str, Any]) -> None:
    cells = [cell for row in report["rows"] for cell in row["cells"]] + report["totals"]
    for cell in cells:
        assert cell["suppressed"] == (cell["value"] is None)
        assert cell["value"] is None or cell["value"] >= 5, cell
    for j, measure in enumerate(report["measures"]):
        column = [row["cells"][j] for row in report["rows"]]
        assert all(cell["measure"] == measure for cell in column)
        assert not recoverable(column, report["totals"][j]), measure


async def test_a_month_s_report_counts_by_town_and_suppresses_small_cells(
    sharing: SharingService, registry: Registry
) -> None:
    big, small = f"测试镇{uuid.uuid4().hex[:6]}", f"试点村{uuid.uuid4().hex[:6]}"
    published: list[PersonSnapshot | EmploymentSnapshot] = []
    for n in range(7):
        unemployed = person(
            sharing,
            id_number("19800101", f"{n:03d}"),
            town=big,
            status="unemployed",
            unemployment_registrations=[registration(date(2026, 12, 1))],
            trainings=[TrainingState(training_id=uuid.uuid4(), kind="vocational", completed_on=date(2026, 12, 2))],
            difficulty_categories=[
                PublishedDifficulty(category="age_4050", source="registry", valid_from=date(2026, 1, 1)),
                PublishedDifficulty(category="restricted_difficulty", source="restricted", valid_from=date(2025, 1, 1)),
            ],
        )
        published.append(unemployed)
    for n in range(6):
        hired = person(sharing, id_number("19850101", f"{n:03d}"), town=big, status="employed")
        published += [hired, employment(hired, date(2026, 12, 1))]
    # Separations: 5 contracts that ended in December count; 3 retirements do not (SPEC 2.1).
    for n, reason in enumerate(["contract_expired"] * 3 + ["layoff", "dismissed"] + ["retired"] * 3):
        left = person(sharing, id_number("19600101", f"{n:03d}"), town=big, status="none")
        published += [left, employment(left, date(2020, 1, 1), ended_on=date(2026, 12, 2), end_reason=reason)]
    # The small town has 2 of each: hidden, and the district totals leave 2 for its hidden cells and
    # the zeros of other towns, so they cannot be worked out and the big town's counts are shown.
    for n in range(2):
        few = person(
            sharing,
            id_number("19900101", f"{n:03d}"),
            town=small,
            status="unemployed",
            unemployment_registrations=[registration(date(2026, 11, 20))],
            trainings=[TrainingState(training_id=uuid.uuid4(), kind="vocational", completed_on=date(2026, 12, 2))],
            difficulty_categories=[
                PublishedDifficulty(category="age_4050", source="registry", valid_from=date(2026, 1, 1))
            ],
        )
        hired = person(sharing, id_number("19910101", f"{n:03d}"), town=small, status="employed")
        left = person(sharing, id_number("19610101", f"{n:03d}"), town=small, status="none")
        published += [few, hired, employment(hired, date(2026, 12, 2))]
        published += [left, employment(left, date(2019, 1, 1), ended_on=date(2026, 12, 2))]
    await registry.publish(*published)
    await registry.wait_projected(*published)

    response = await sharing.client.get(f"{REPORTS}?period=2026-12", **STATISTICS)
    assert response.status_code == 200, response.text
    report = StatisticsReport.model_validate(response.json()).model_dump(mode="json")
    assert report["status"] == "draft" and report["period"] == "2026-12"
    assert "category:released_prisoner" not in report["measures"] and "category:drug_rehab" not in report["measures"]
    assert not any("restricted" in m for m in report["measures"])
    rows = {row["town"]: {c["measure"]: c["value"] for c in row["cells"]} for row in report["rows"]}
    assert rows[big]["registered_unemployed"] == 7
    assert rows[big]["new_employments"] == 6
    assert rows[big]["separations"] == 5
    assert rows[big]["trainings_completed"] == 7
    assert rows[big]["category:age_4050"] == 7
    assert set(rows[small].values()) == {None}, "2, or 0, is below 5"
    assert_disclosure_controlled(report)
    [delivered] = [e for e in await audit_entries(sharing, "action=report") if e["client_id"] == "statistics-bureau"]
    assert (delivered["agency"], delivered["dataset"], delivered["subjects"]) == (
        "statistics",
        "hrss/statistics_report",
        [],
    )


async def test_a_closed_month_s_report_is_final_published_once_and_audited(
    sharing: SharingService, clock: FixedClock, kafka_bootstrap: str
) -> None:
    # The app started on 2026-12-03: November closed before, so its report was produced then.
    async def november_kept() -> bool:
        return await table_count(sharing, "sharing_statistics_report") >= 1

    await eventually(november_kept)
    first = (await sharing.client.get(f"{REPORTS}?period=2026-11", **STATISTICS)).json()
    again = (await sharing.client.get(f"{REPORTS}?period=2026-11", **STATISTICS)).json()
    assert first == again and first["status"] == "final"
    assert_disclosure_controlled(first)
    today = clock.instant
    clock.instant = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)  # 11:00 on 1 January, bureau time
    try:
        december = (await sharing.client.get(f"{REPORTS}?period=2026-12", **STATISTICS)).json()
        assert december["status"] == "final"
        assert_disclosure_controlled(december)
    finally:
        clock.instant = today
    await sharing.wait_until_relayed()
    records = await asyncio.to_thread(read_topic_sync, kafka_bootstrap, SHARING_STATISTICS_REPORT)
    events = [CloudEvent.from_bytes(r.value) for r in records if r.event_id is not None]
    # Every report on the topic (the other test apps close no month): one per month, the kept one.
    assert sorted((e.data["period"], e.data["report_id"]) for e in events) == [
        ("2026-11", first["report_id"]),
        ("2026-12", december["report_id"]),
    ]
    assert sorted(r.key for r in records if r.event_id is not None) == ["2026-11", "2026-12"]
    deliveries = [
        e for e in await audit_entries(sharing, "action=report&agency=statistics") if e["client_id"] == "sharing"
    ]
    assert {e["request_id"] for e in deliveries} >= {first["report_id"], december["report_id"]}
    assert_problem(await sharing.client.get(f"{REPORTS}?period=2027-01", **STATISTICS), 422, "period-in-future")
    assert_problem(await sharing.client.get(f"{REPORTS}?period=0000-01", **STATISTICS), 422, "period-before-records")
    assert_problem(await sharing.client.get(f"{REPORTS}?period=2017-12", **STATISTICS), 422, "period-before-records")
    assert_problem(await sharing.client.get(f"{REPORTS}?period=2026-13", **STATISTICS), 422, "validation-error")
    assert_problem(await sharing.client.get(f"{REPORTS}?period=2026-11", **READER), 403, "forbidden")


# ------------------------------------------------------------------------------- the projection


async def test_the_projection_keeps_the_newest_snapshot_whatever_the_order(
    sharing: SharingService, registry: Registry
) -> None:
    number = id_number("19660606", "246")
    first = person(sharing, number, status="unemployed", unemployment_registrations=[registration(date(2026, 9, 1))])
    second = PersonSnapshot.model_validate(
        {**first.model_dump(), "version": 2, "status": "none", "unemployment_registrations": []}
    )
    await registry.publish(second)
    await registry.wait_projected(second)
    await registry.wait_applied(await registry.publish(first, first))  # older, and twice

    async def read() -> tuple[int, str, int]:
        async with sharing.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.text(
                        "SELECT p.version, p.status, (SELECT count(*) FROM sharing_person_registration r "
                        "WHERE r.person_id = p.person_id) FROM sharing_person p WHERE p.person_id = :id"
                    ),
                    {"id": first.person_id},
                )
            ).one()
        return int(row[0]), str(row[1]), int(row[2])

    assert await read() == (2, "none", 0)


@pytest.mark.parametrize(
    "path",
    [
        f"{AUDIT}?since=0001-01-01T00:00:00%2B14:00",
        f"{AUDIT}?until=9999-12-31T23:59:59-14:00",
        f"{AUDIT}?dataset=civil_affairs/dibao%00",
        f"{AUDIT}?dataset=../../etc",
        f"{AGREEMENTS}?dataset=%00",
        f"{AUDIT}?cursor=eyJzZXEiOi0xfQ",
        f"{AUDIT}?cursor=eyJzZXEiOjEuNX0",
        f"{AGREEMENTS}?cursor=eyJjcmVhdGVkX2F0IjoiMDAwMS0wMS0wMVQwMDowMDowMCsxNDowMCIsImFncmVlbWVudF9pZCI6IjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCJ9",
    ],
)
async def test_odd_filters_and_forged_cursors_are_a_422(sharing: SharingService, path: str) -> None:
    response = await sharing.client.get(path, **READER)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_a_refused_query_repeated_with_its_idempotency_key_is_answered_and_audited_once(
    sharing: SharingService,
) -> None:
    body = {"agreement_id": str(uuid.uuid4()), "id_numbers": [ALICE]}
    before = len(await audit_entries(sharing, "action=query"))
    key = {"Idempotency-Key": f"refused-{uuid.uuid4()}"}
    first = await sharing.client.post(QUERIES, json=body, headers=key, **CIVIL)
    again = await sharing.client.post(QUERIES, json=body, headers=key, **CIVIL)
    assert_problem(first, 403, "not-agreed")
    assert (again.status_code, again.json()) == (403, first.json())
    assert again.headers.get("idempotent-replayed") == "true"
    assert len(await audit_entries(sharing, "action=query")) == before + 1
