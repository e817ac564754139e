"""Test data and plumbing of the subsidy tests: registry snapshots published as real events on the
real broker, the callers of each role, and a view of the tables to prove a bad request changed
nothing."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col, select

from contracts.envelope import CloudEvent, new_event
from contracts.outbox import OUTBOX_WATERMARK as OUTBOX_WATERMARK_EVENT
from contracts.outbox import OutboxWatermark, PartitionOffset
from contracts.registry import (
    EMPLOYMENT_RECORDED,
    PERSON_DIFFICULTY_CHANGED,
    PERSON_UPDATED,
    ContributionMonth,
    EmploymentSnapshot,
    PersonSnapshot,
    PublishedDifficulty,
    UnemploymentRegistrationState,
)
from contracts.sharing import FACT_RECORDED, Fact
from contracts.topics import OUTBOX_WATERMARK, REGISTRY_EMPLOYMENT, REGISTRY_PERSON, SHARING_FACT, SUBSIDY_APPLICATION
from services.kit.clock import FixedClock
from services.kit.identifiers import CREDIT_ALPHABET, credit_check_character
from services.kit.inbox import ConsumerPosition, InboxEntry
from services.kit.outbox import OutboxMessage
from services.subsidy.app import PROJECTION_CONSUMER
from services.subsidy.settings import SubsidySettings
from services.subsidy.tables import Application, Budget, Payment, ProjectedEmployment, ProjectedPerson
from tests.support import ServiceClient, eventually, read_topic

API = "/subsidy/v1"
PROGRAMME = "hiring_key_groups"
GRANT_FEN = 600_000

SUBMITTER = {"client_id": "hrss-desk", "scopes": ["subsidy:apply", "subsidy:read"]}
REVIEWER = {"client_id": "hrss-reviewer", "scopes": ["subsidy:review", "subsidy:read"]}
TREASURY = {"client_id": "treasury", "scopes": ["subsidy:settle", "subsidy:read"]}
READER = {"client_id": "auditor", "scopes": ["subsidy:read"]}
ADMIN = {"client_id": "bureau-admin", "scopes": ["admin"]}

_names = itertools.count(1)


def credit_code() -> str:
    first17 = "91500226" + "".join(random.choices(CREDIT_ALPHABET, k=9))
    return first17 + credit_check_character(first17)


def months(first: str, count: int) -> list[ContributionMonth]:
    year, month = int(first[:4]), int(first[5:])
    out = []
    for i in range(count):
        y, m = divmod(month - 1 + i, 12)
        out.append(ContributionMonth(month=f"{year + y:04d}-{m + 1:02d}", insurances=["pension", "medical"]))
    return out


# Where each category of the tests comes from; a sensitive one shows only as restricted_difficulty.
SOURCES = {
    "low_income_family": "civil_affairs",
    "capacity_reduction_worker": "hrss",
    "restricted_difficulty": "restricted",
}


def category(code: str, valid_from: date = date(2018, 1, 1), valid_until: date | None = None) -> PublishedDifficulty:
    return PublishedDifficulty.model_validate(
        {
            "category": code,
            "source": SOURCES.get(code, "registry"),
            "valid_from": valid_from,
            "valid_until": valid_until,
        }
    )


@dataclass
class Hire:
    """A person hired by an employer, as the registry would publish them: eligible unless changed."""

    person: PersonSnapshot
    employment: EmploymentSnapshot

    @property
    def person_id(self) -> str:
        return str(self.person.person_id)

    @property
    def employment_id(self) -> str:
        return str(self.employment.employment_id)

    @property
    def employer(self) -> str:
        return self.employment.employer_credit_code

    def application(self, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "programme": PROGRAMME,
            "beneficiary_person_id": self.person_id,
            "applicant": {"kind": "employer", "credit_code": self.employer},
            "employment_id": self.employment_id,
        }
        body.update(changes)
        return body


def eligible_hire(**person_changes: Any) -> Hire:
    person_id = uuid.uuid4()
    n = next(_names)
    person = PersonSnapshot(
        person_id=person_id,
        subject_ref=uuid.uuid4().hex * 2,
        version=1,
        name_masked="张*梅",
        gender="female",
        birth_year=1995,
        hukou_type="rural",
        town="昌元街道",
        status="employed",
        household_no=f"HH-{n}",
        difficulty_categories=[category("low_income_family")],
        unemployment_registrations=[
            UnemploymentRegistrationState(
                registration_id=uuid.uuid4(), registered_on=date(2018, 3, 1), closed_on=date(2018, 4, 1)
            )
        ],
    )
    employment = EmploymentSnapshot(
        employment_id=uuid.uuid4(),
        person_id=person_id,
        version=1,
        employer_credit_code=credit_code(),
        employer_name="荣昌陶瓷有限公司",
        kind="employee",
        started_on=date(2018, 4, 1),
        contract_months=36,
        contribution_months=months("2018-04", 12),
    )
    return Hire(person.model_copy(update=person_changes), employment)


def changing_snapshots(people: int) -> list[CloudEvent]:
    """Snapshot events of `people` people; the first changes three times (its category withdrawn,
    then another listed) and its version 2 comes again after version 3, late: for projections that
    apply a poll of snapshots together."""
    events = []
    for n in range(people):
        person = eligible_hire().person
        versions = [person]
        if n == 0:
            versions.append(person.model_copy(update={"version": 2, "difficulty_categories": []}))
            versions.append(
                person.model_copy(
                    update={"version": 3, "difficulty_categories": [category("disabled", date(2020, 1, 1))]}
                )
            )
            versions.append(versions[1])
        events += [
            new_event(source="/registry", type=PERSON_DIFFICULTY_CHANGED, subject=str(v.person_id), data=v)
            for v in versions
        ]
    return events


# The source whose watermarks the test app waits for: the harness plays the registry's and sharing's
# relays (other processes on the session's broker publish watermarks as `registry` and `sharing`).
WATERMARK_SOURCE = "subsidy-tests"


class Relay:
    """Plays a relay for the test app: remembers the offset after every record the harness published,
    and publishes watermarks of them, as `services.kit.outbox` does for a service."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.positions: dict[tuple[str, int], int] = {}
        self.paused = False

    async def send(self, topic: str, event: CloudEvent, key: str) -> None:
        metadata = await self.producer.send_and_wait(topic, event.to_bytes(), key=key.encode())
        at = (metadata.topic, metadata.partition)
        self.positions[at] = max(self.positions.get(at, 0), metadata.offset + 1)

    async def watermark(self) -> None:
        as_of = datetime.now(UTC)
        positions = [
            PartitionOffset(topic=topic, partition=partition, next_offset=offset)
            for (topic, partition), offset in sorted(self.positions.items())
        ]
        data = OutboxWatermark(service=WATERMARK_SOURCE, as_of=as_of, positions=positions)
        event = new_event(source="/subsidy-tests", type=OUTBOX_WATERMARK_EVENT, subject=WATERMARK_SOURCE, data=data)
        await self.producer.send_and_wait(OUTBOX_WATERMARK, event.to_bytes(), key=WATERMARK_SOURCE.encode())

    async def run(self, interval_s: float = 0.05) -> None:
        while True:
            if not self.paused:
                await self.watermark()
            await asyncio.sleep(interval_s)


@dataclass
class Harness:
    client: ServiceClient
    producer: AIOKafkaProducer
    engine: AsyncEngine
    settings: SubsidySettings
    bootstrap: str
    # The app's clock: the bureau's day stands still for the whole session.
    clock: FixedClock
    relay: Relay
    published: list[CloudEvent] = field(default_factory=list)

    # Registry and sharing events in, through the real broker.

    async def publish_person(self, person: PersonSnapshot, event_type: str = PERSON_UPDATED) -> CloudEvent:
        event = new_event(source="/registry", type=event_type, subject=str(person.person_id), data=person)
        await self.relay.send(REGISTRY_PERSON, event, str(person.person_id))
        return event

    async def publish_employment(self, employment: EmploymentSnapshot) -> CloudEvent:
        event = new_event(
            source="/registry", type=EMPLOYMENT_RECORDED, subject=str(employment.person_id), data=employment
        )
        await self.relay.send(REGISTRY_EMPLOYMENT, event, str(employment.person_id))
        return event

    async def publish_fact(self, fact: Fact) -> CloudEvent:
        event = new_event(source="/sharing", type=FACT_RECORDED, subject=fact.subject_ref, data=fact)
        await self.relay.send(SHARING_FACT, event, fact.key)
        return event

    async def project(self, hire: Hire) -> Hire:
        """Publish the hire's person and employment and wait until the projection holds both."""
        await self.publish_person(hire.person)
        await self.publish_employment(hire.employment)
        await self.wait_projected(hire)
        return hire

    async def wait_projected(self, hire: Hire) -> None:
        async def both() -> bool:
            async with self.session() as s:
                person = await s.get(ProjectedPerson, hire.person.person_id)
                employment = await s.get(ProjectedEmployment, hire.employment.employment_id)
            return (
                person is not None
                and person.version >= hire.person.version
                and employment is not None
                and employment.version >= hire.employment.version
            )

        # Within a minute: the app's first catch-up reads every event the session's other tests left
        # on the topics (the end-to-end system's included).
        await eventually(both, within=60)

    async def wait_applied(self, event: CloudEvent) -> None:
        """Until this app's consumer has recorded the event in its inbox (applied or ignored)."""

        async def recorded() -> bool:
            async with self.session() as s:
                group = f"{self.settings.kafka_consumer_group_prefix}subsidy.{PROJECTION_CONSUMER}"
                key = (group, event.source, event.id)
                return await s.get(InboxEntry, key) is not None

        await eventually(recorded)

    async def wait_applied_all(self) -> None:
        """Until this app's consumers have applied everything the harness published."""

        async def caught_up() -> bool:
            async with self.session() as s:
                rows = (await s.execute(select(ConsumerPosition))).scalars().all()
            applied = {
                (r.topic, r.partition): r.next_offset
                for r in rows
                if r.consumer.startswith(self.settings.kafka_consumer_group_prefix)
            }
            return all(applied.get(at, 0) >= offset for at, offset in self.relay.positions.items())

        await eventually(caught_up)

    def session(self) -> AsyncSession:
        return AsyncSession(self.engine, expire_on_commit=False)

    # The API, as each role.

    async def apply(self, hire: Hire, **changes: Any) -> httpx.Response:
        return await self.client.post(f"{API}/applications", json=hire.application(**changes), **SUBMITTER)

    async def decide(
        self, application_id: str, decision: str = "approve", note: str | None = "checked", **caller: Any
    ) -> httpx.Response:
        who = caller or REVIEWER
        body = {"decision": decision, "note": note}
        return await self.client.post(f"{API}/applications/{application_id}/decision", json=body, **who)

    async def settle(self, payment_id: str, **body: Any) -> httpx.Response:
        return await self.client.post(f"{API}/payments/{payment_id}/settlement", json=body, **TREASURY)

    async def application(self, application_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{API}/applications/{application_id}", **READER)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def payments_of(self, application_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(f"{API}/payments?application_id={application_id}", **READER)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def budget(self) -> dict[str, Any]:
        year = self.clock.today().year
        response = await self.client.get(f"{API}/budgets?programme={PROGRAMME}&year={year}", **READER)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert len(items) == 1, items
        budget: dict[str, Any] = items[0]
        return budget

    async def give_budget_room(self, grants: int) -> dict[str, Any]:
        """Set this year's budget so exactly `grants` more grants fit."""
        year = self.clock.today().year
        async with self.session() as s:
            row = await s.get(Budget, (PROGRAMME, year))
        committed = 0 if row is None else row.reserved_fen + row.spent_fen
        response = await self.client.put(
            f"{API}/budgets/{PROGRAMME}/{year}", json={"amount_fen": committed + grants * GRANT_FEN}, **ADMIN
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def approved(self, hire: Hire) -> tuple[dict[str, Any], dict[str, Any]]:
        """Apply, approve; return the application and its instructed payment."""
        applied = await self.apply(hire)
        assert applied.status_code == 201 and applied.json()["status"] == "eligible", applied.text
        decided = await self.decide(applied.json()["application_id"])
        assert decided.status_code == 200, decided.text
        application = decided.json()
        [payment] = await self.payments_of(application["application_id"])
        return application, payment

    # The tables, to show that a refused request changed nothing.

    async def state(self) -> dict[str, Any]:
        async with self.session() as s:
            applications = (await s.execute(select(Application).order_by(col(Application.application_id)))).scalars()
            payments = (await s.execute(select(Payment).order_by(col(Payment.payment_id)))).scalars()
            budgets = (await s.execute(select(Budget).order_by(col(Budget.programme), col(Budget.year)))).scalars()
            outbox = await s.scalar(select(sa.func.count()).select_from(OutboxMessage))
            return {
                "applications": [
                    (a.application_id, a.status, a.decided_by, a.decision_note, a.updated_at) for a in applications
                ],
                "payments": [(p.payment_id, p.status, p.bank_reference, p.reason, p.resolved_at) for p in payments],
                "budgets": [(b.programme, b.year, b.amount_fen, b.reserved_fen, b.spent_fen) for b in budgets],
                "outbox": outbox,
            }


async def application_events(bootstrap: str, application_id: str, count: int) -> list[CloudEvent]:
    """The application's events on subsidy.application.v1, once `count` of them have arrived."""
    found: list[CloudEvent] = []

    async def arrived() -> bool:
        found.clear()
        for record in await read_topic(bootstrap, SUBSIDY_APPLICATION):
            event = CloudEvent.from_bytes(record.value)
            if event.data.get("application_id") == application_id:
                found.append(event)
        return len(found) >= count

    await eventually(arrived, within=30)
    return found


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and type; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:rongchang-employment:problem:{slug}", body
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def changed(hire: Hire, **employment_changes: Any) -> Hire:
    return replace(hire, employment=hire.employment.model_copy(update=employment_changes))
