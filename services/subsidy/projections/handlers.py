"""Keeps the subsidy service's projections (events in): registry people and employments, market
supervision's businesses from sharing's facts, and the sources' watermarks.

Both registry topics carry whole snapshots with a growing `version`; the projection keeps the
highest version it has seen and ignores older or equal ones, so redelivered or reordered events
change nothing. Every event type on a v1 topic (a death included) carries the same snapshot
payload. The whole snapshot is kept; a sensitive category arrives only as `restricted_difficulty`
and is kept as that. A business is kept as last reported (facts supersede by arrival, as in the
registry).

Whatever changes a beneficiary's facts, in the same transaction, evaluates their undecided
applications again (and those naming a business whose facts changed), so a status change is
published exactly when the change that caused it is applied.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import CloudEvent
from contracts.facts import BusinessAttributes
from contracts.outbox import OutboxWatermark
from contracts.registry import EmploymentSnapshot, PersonSnapshot
from contracts.sharing import Fact
from contracts.topics import REGISTRY_EMPLOYMENT, REGISTRY_PERSON, SHARING_FACT
from services.kit.clock import Clock, bureau_date
from services.kit.db import utcnow
from services.kit.inbox import Delivered, PermanentEventError
from services.subsidy.applications.consistency import Consistency
from services.subsidy.applications.evaluation import Evaluator
from services.subsidy.programmes.registry import Catalogue
from services.subsidy.projections.repository import CategoryKey, Listed, ProjectionRepository
from services.subsidy.tables import ProjectedBusiness, ProjectedEmployment

SnapshotT = TypeVar("SnapshotT", PersonSnapshot, EmploymentSnapshot, Fact, OutboxWatermark)


class Projections:
    """The handlers of the subsidy service's consumers."""

    def __init__(self, clock: Clock, catalogue: Catalogue, consistency: Consistency) -> None:
        self.clock = clock
        self.catalogue = catalogue
        self.consistency = consistency

    async def registry(self, session: AsyncSession, event: CloudEvent, topic: str) -> None:
        """`registry-projection`: people and employments."""
        repo = ProjectionRepository(session)
        evaluator = Evaluator(session, self.clock, self.catalogue)
        if topic == REGISTRY_PERSON:
            person = _decode(event, PersonSnapshot)
            if await keep_people(repo, [(person, bureau_date(event.time))]):
                await evaluator.reevaluate_for(beneficiaries={person.person_id})
        elif topic == REGISTRY_EMPLOYMENT:
            employment = _decode(event, EmploymentSnapshot)
            # The rows a judgement of the affected applications holds (evaluation.py): the person's,
            # and the founder's of the business they work at (startup_one_time counts its employees).
            await repo.lock_persons({employment.person_id} | await repo.founders_of(employment.employer_credit_code))
            if await apply_employment(repo, employment):
                await evaluator.reevaluate_for(
                    beneficiaries={employment.person_id}, businesses={employment.employer_credit_code}
                )
        else:
            raise PermanentEventError(f"the registry projection does not consume {topic}")

    async def registry_together(self, session: AsyncSession, delivered: list[Delivered]) -> None:
        """`registry-projection`, a poll of person snapshots at once: every snapshot kept in order as
        `registry` keeps it (`keep_people`), and the applications of everyone changed judged again
        once. Only `registry.person.v1`'s polls come here (the subscription's `batch_topics`);
        employment snapshots go one by one."""
        changed = await keep_people(
            ProjectionRepository(session),
            [(_decode(item.event, PersonSnapshot), bureau_date(item.event.time)) for item in delivered],
        )
        if changed:
            with delivered[-1].span():
                await Evaluator(session, self.clock, self.catalogue).reevaluate_for(beneficiaries=changed)

    async def sharing(self, session: AsyncSession, event: CloudEvent, topic: str) -> None:
        """`sharing-projection`: the businesses of market supervision; other datasets are not needed."""
        if topic != SHARING_FACT:
            raise PermanentEventError(f"the sharing projection does not consume {topic}")
        fact = _decode(event, Fact)
        if not isinstance(fact.attributes, BusinessAttributes) or fact.subject_ref is None:
            return
        await self._business(session, fact, fact.attributes, fact.subject_ref)

    async def sharing_together(self, session: AsyncSession, delivered: list[Delivered]) -> None:
        """`sharing-projection`, a poll at once: its business facts applied in order as `sharing`
        applies them, every other fact (most of a dibao or identity load) skipped without a span or
        a statement of its own. A fact that does not decode fails the batch, which the consumer then
        applies one by one, dead-lettering that fact alone."""
        for item in delivered:
            fact = _decode(item.event, Fact)
            if isinstance(fact.attributes, BusinessAttributes) and fact.subject_ref is not None:
                with item.span():
                    await self._business(session, fact, fact.attributes, fact.subject_ref)

    async def _business(
        self, session: AsyncSession, fact: Fact, attributes: BusinessAttributes, subject_ref: str
    ) -> None:
        repo = ProjectionRepository(session)
        persons = await repo.persons_with_subject_ref(subject_ref)
        # The founders' rows, new and former: a judgement of their applications holds them.
        await repo.lock_persons(set(persons) | await repo.founders_of(attributes.credit_code))
        await apply_business(repo, fact, attributes, subject_ref)
        await Evaluator(session, self.clock, self.catalogue).reevaluate_for(
            beneficiaries=set(persons), businesses={attributes.credit_code}
        )

    async def watermarks(self, session: AsyncSession, event: CloudEvent, topic: str) -> None:
        """`watermarks`: the sources' watermarks (no inbox: recording one twice changes nothing)."""
        await self.consistency.record(session, _decode(event, OutboxWatermark))


def _decode(event: CloudEvent, model: type[SnapshotT]) -> SnapshotT:
    try:
        return event.payload(model)
    except ValidationError as exc:
        raise PermanentEventError(f"{event.type} is not a valid {model.__name__}: {exc}") from exc


async def keep_people(repo: ProjectionRepository, snapshots: list[tuple[PersonSnapshot, date]]) -> set[uuid.UUID]:
    """Keep each snapshot newer than the person's kept version, in the order given, with the bureau
    date it was published on; the persons changed. Four statements whatever their number: the kept
    versions (rows locked) and category histories read, then the people and the categories touched
    written with two upserts, without an ORM object per row (they were a sixth of a rebuild's
    CPU)."""
    ids = {snapshot.person_id for snapshot, _ in snapshots}
    versions = await repo.person_versions(ids)
    histories = await repo.category_histories(ids)
    people: dict[uuid.UUID, dict[str, Any]] = {}
    touched: dict[tuple[uuid.UUID, CategoryKey], Listed] = {}
    now = utcnow()
    for snapshot, published_on in snapshots:
        kept = versions.get(snapshot.person_id)
        if kept is not None and kept >= snapshot.version:
            continue
        versions[snapshot.person_id] = snapshot.version
        people[snapshot.person_id] = {
            "person_id": snapshot.person_id,
            "subject_ref": snapshot.subject_ref,
            "version": snapshot.version,
            "deceased_on": snapshot.deceased_on,
            "snapshot": snapshot.model_dump(mode="json"),
            "updated_at": now,
        }
        history = histories.setdefault(snapshot.person_id, {})
        for key in record_categories(history, snapshot, published_on):
            touched[(snapshot.person_id, key)] = history[key]
    await repo.put_persons(list(people.values()))
    await repo.put_categories(
        [
            {
                "person_id": person_id,
                "category": category,
                "source": source,
                "valid_from": valid_from,
                "valid_until": listed.valid_until,
                "withdrawn_on": listed.withdrawn_on,
                "last_listed_version": listed.last_listed_version,
            }
            for (person_id, (category, source, valid_from)), listed in touched.items()
        ]
    )
    return set(people)


def record_categories(
    history: dict[CategoryKey, Listed], snapshot: PersonSnapshot, published_on: date
) -> set[CategoryKey]:
    """Keep every category the registry has listed, active or ended, in the person's `history`; the
    keys changed. An ended category carries its real end, which may lie before this event (an agency
    reporting late): that date, not the day the registry stopped listing it, decides what held at a
    hiring."""
    listed: set[CategoryKey] = set()
    for category in (*snapshot.difficulty_categories, *snapshot.ended_difficulty_categories):
        key: CategoryKey = (category.category, category.source, category.valid_from)
        if key in listed:
            continue
        listed.add(key)
        row = history.get(key)
        if row is None:
            history[key] = Listed(category.valid_until, None, snapshot.version)
        else:
            row.valid_until = category.valid_until
            row.withdrawn_on = None
            row.last_listed_version = snapshot.version
    withdrawn = {key for key, row in history.items() if key not in listed and row.withdrawn_on is None}
    for key in withdrawn:
        history[key].withdrawn_on = published_on
    return listed | withdrawn


async def apply_employment(repo: ProjectionRepository, snapshot: EmploymentSnapshot) -> bool:
    """Keep a newer snapshot; False when it is not newer (nothing changed)."""
    current = await repo.employment(snapshot.employment_id, for_update=True)
    if current is not None and current.version >= snapshot.version:
        return False
    data = snapshot.model_dump(mode="json")
    if current is None:
        repo.add(
            ProjectedEmployment(
                employment_id=snapshot.employment_id,
                person_id=snapshot.person_id,
                employer_credit_code=snapshot.employer_credit_code,
                version=snapshot.version,
                snapshot=data,
            )
        )
    else:
        current.person_id = snapshot.person_id
        current.employer_credit_code = snapshot.employer_credit_code
        current.version = snapshot.version
        current.snapshot = data
        current.updated_at = utcnow()
    await repo.session.flush()
    return True


async def apply_business(
    repo: ProjectionRepository, fact: Fact, business: BusinessAttributes, legal_rep_subject_ref: str
) -> None:
    current = await repo.business(business.credit_code, for_update=True)
    if current is None:
        repo.add(
            ProjectedBusiness(
                credit_code=business.credit_code,
                name=business.name,
                legal_rep_subject_ref=legal_rep_subject_ref,
                established_on=business.established_on,
                deregistered_on=business.deregistered_on,
                fact_id=fact.fact_id,
            )
        )
    else:
        current.name = business.name
        current.legal_rep_subject_ref = legal_rep_subject_ref
        current.established_on = business.established_on
        current.deregistered_on = business.deregistered_on
        current.fact_id = fact.fact_id
        current.updated_at = utcnow()
    await repo.session.flush()
