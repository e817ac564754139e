"""Every query of the persons feature."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contracts.vocabulary import HouseholdKind
from services.kit.db import among, json_rows_reader, rows_as_json, utcnow
from services.kit.pagination import paginate
from services.registry.households.schemas import HouseholdsCursor
from services.registry.persons.schemas import PersonsCursor
from services.registry.tables import (
    Employment,
    Household,
    Person,
    PersonFact,
    Training,
    UnemploymentRegistration,
    fact_code,
)


@dataclass(frozen=True, slots=True)
class PersonView:
    """A person as an answer reads them (a page, a look-up): the columns the answer and the derived
    state need, read as plain rows. A page of 500 `Person` ORM objects cost more CPU than the page's
    queries (identity map, instance state, instrumented attributes); the write paths keep `Person`."""

    person_id: uuid.UUID
    id_number_ciphertext: bytes
    id_number_masked: str
    subject_ref: str
    name: str
    phone: str | None
    gender: str
    birth_date: date
    hukou_type: str
    hukou_local: bool | None
    town: str | None
    education: str | None
    graduation_date: date | None
    household_no: str | None
    hukou_area_code: str | None
    deceased_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FactView:
    """An agency fact as a person's derived state reads it, read as a plain row (see `PersonView`):
    a page of people from a dibao roster has as many facts as people."""

    subject_ref: str
    agency: str
    dataset: str
    valid_from: date | None
    valid_until: date | None
    attributes: dict[str, object]
    received_at: datetime

    @property
    def code(self) -> str:
        return fact_code(self.agency, self.dataset)


@dataclass(slots=True)
class NewPerson:
    """A person being registered, as plain data: the row `register` inserts with one Core statement.
    A `Person` ORM object built per request cost the registry about a tenth of its CPU per
    registration (SQLModel's validation, SQLAlchemy's instance state, pydantic looking up each
    default factory's signature), for a row that is inserted once and never flushed."""

    id_number_ciphertext: bytes
    id_number_index: str
    id_number_masked: str
    subject_ref: str
    name: str
    gender: str
    birth_date: date
    hukou_type: str
    phone: str | None = None
    hukou_local: bool | None = None
    town: str | None = None
    education: str | None = None
    graduation_date: date | None = None
    household_no: str | None = None
    hukou_area_code: str | None = None
    deceased_on: date | None = None
    version: int = 1
    published_categories: str = ""
    categories_due_on: date | None = None
    person_id: uuid.UUID = field(default_factory=uuid.uuid4)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    def row(self) -> dict[str, Any]:
        """The `registry_person` row, every column named."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# Whom a derived state is of: the ORM object (write paths), the view (answers, fact batches), or a
# person being registered.
AnyPerson = Person | PersonView | NewPerson
# Whom a fact's update or a published fingerprint is written on.
WritablePerson = Person | NewPerson


@dataclass(frozen=True, slots=True)
class RegistrationView:
    """An unemployment registration as a person's derived state reads it (see `PersonRecords`)."""

    registration_id: uuid.UUID
    registered_on: date
    closed_on: date | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TrainingView:
    """A completed training as a person's derived state reads it (see `PersonRecords`)."""

    training_id: uuid.UUID
    kind: str
    completed_on: date
    certificate_level: str | None
    provider: str | None


@dataclass(frozen=True, slots=True)
class PersonRecords:
    """What a person's derived state reads besides their own row: their unemployment registrations
    (oldest first), whether an employment is open, their trainings (in the order completed), the
    agency facts naming them, and since when their household has been a zero-employment one."""

    registrations: list[RegistrationView]
    employed: bool
    trainings: list[TrainingView]
    facts: list[FactView]
    zero_employment_since: date | None


NO_RECORDS = PersonRecords([], False, [], [], None)


def columns_of(entity: type[Any], view: type[Any]) -> list[sa.Column[Any]]:
    """The `entity`'s table columns named by the `view`'s fields, in their order: a row of them,
    unpacked, is the view's arguments. A select of table columns is a Core one: the session does not
    flush what is pending before it (a reader in a write path flushes first), and the rows come back
    as tuples, about 4 µs a row cheaper than a select of the entity's attributes."""
    return [entity.__table__.c[field.name] for field in fields(view)]


PERSON_VIEW = columns_of(Person, PersonView)
FACT_VIEW = columns_of(PersonFact, FactView)
PERSON = cast(sa.Table, Person.__table__)  # type: ignore[attr-defined]
_PERSON = PERSON.c
_REGISTRATION = UnemploymentRegistration.__table__.c  # type: ignore[attr-defined]
_EMPLOYMENT = Employment.__table__.c  # type: ignore[attr-defined]
_TRAINING = Training.__table__.c  # type: ignore[attr-defined]
_FACT = PersonFact.__table__.c  # type: ignore[attr-defined]
_HOUSEHOLD = Household.__table__.c  # type: ignore[attr-defined]
# Since when a household has been in the zero-employment queue (no row: it is not).
_ZERO_EMPLOYMENT_SINCE = sa.select(_HOUSEHOLD.since).where(_HOUSEHOLD.kind == HouseholdKind.zero_employment)
# A person's records as columns of a select from the persons' table (`records_from`): one statement
# reads a page of people with everything their states need, each part an index scan per person.
PERSON_RECORDS = [
    rows_as_json(columns_of(UnemploymentRegistration, RegistrationView), _REGISTRATION.person_id == _PERSON.person_id),
    sa.exists().where(_EMPLOYMENT.person_id == _PERSON.person_id, _EMPLOYMENT.ended_on.is_(None)),
    rows_as_json(columns_of(Training, TrainingView), _TRAINING.person_id == _PERSON.person_id),
    rows_as_json(FACT_VIEW, _FACT.subject_ref == _PERSON.subject_ref),
    _ZERO_EMPLOYMENT_SINCE.where(_HOUSEHOLD.household_no == _PERSON.household_no).scalar_subquery(),
]
# A person with their records: the look-ups and a page select this.
PERSON_WITH_RECORDS = sa.select(*PERSON_VIEW, *PERSON_RECORDS)
_registrations = json_rows_reader(RegistrationView)
_trainings = json_rows_reader(TrainingView)
_facts = json_rows_reader(FactView)


# The look-ups, built once: a statement made per request had its cache key worked out again each
# time, over all its subqueries (a fifth of the CPU the look-up itself took).
PERSON_BY_ID = PERSON_WITH_RECORDS.where(_PERSON.person_id == sa.bindparam("person_id"))
PERSON_BY_INDEX = PERSON_WITH_RECORDS.where(_PERSON.id_number_index == sa.bindparam("index"))
# Registration's and the fact batches', built once for the same reason.
_FACTS_OF_SUBJECT = sa.select(*FACT_VIEW).where(_FACT.subject_ref == sa.bindparam("subject_ref"))
_LOCK_SUBJECT = sa.text("SELECT pg_advisory_xact_lock(hashtext(:ref))")
_LOCK_SUBJECTS = sa.text(
    "SELECT pg_advisory_xact_lock(h) FROM "
    "(SELECT DISTINCT hashtext(r) AS h FROM unnest(CAST(:refs AS text[])) AS r ORDER BY h) AS locks"
)


def records_from(values: Sequence[Any]) -> PersonRecords:
    """The `PersonRecords` of the values of `PERSON_RECORDS` in a row."""
    registrations, employed, trainings, facts, zero_employment_since = values
    return PersonRecords(
        sorted(_registrations(registrations), key=lambda r: (r.registered_on, r.created_at)),
        bool(employed),
        sorted(_trainings(trainings), key=lambda t: (t.completed_on, t.training_id)),
        _facts(facts),
        zero_employment_since,
    )


def person_and_records(row: Sequence[Any]) -> tuple[PersonView, PersonRecords]:
    """A row of `PERSON_VIEW` and `PERSON_RECORDS`."""
    return PersonView(*row[: len(PERSON_VIEW)]), records_from(row[len(PERSON_VIEW) :])


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, person_id: uuid.UUID, *, for_update: bool = False) -> Person | None:
        return await self.session.get(Person, person_id, with_for_update=for_update)

    async def lock_person(self, person_id: uuid.UUID) -> Person:
        """The person's row, locked and read again (not the copy the session may hold)."""
        return (
            await self.session.execute(
                select(Person)
                .where(Person.person_id == person_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one()

    async def by_id_number_index(self, index: str) -> Person | None:
        result = await self.session.execute(select(Person).where(Person.id_number_index == index))
        return result.scalar_one_or_none()

    async def by_subject_refs(self, subject_refs: list[str]) -> dict[str, Person]:
        """The registered people among `subject_refs`, their rows locked."""
        result = await self.session.execute(
            select(Person).where(col(Person.subject_ref).in_(subject_refs)).with_for_update()
        )
        return {p.subject_ref: p for p in result.scalars()}

    async def by_subject_ref(self, subject_ref: str, *, for_update: bool = False) -> Person | None:
        query = select(Person).where(Person.subject_ref == subject_ref)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def registrations(self, person_id: uuid.UUID) -> list[UnemploymentRegistration]:
        result = await self.session.execute(
            select(UnemploymentRegistration)
            .where(UnemploymentRegistration.person_id == person_id)
            .order_by(col(UnemploymentRegistration.registered_on), col(UnemploymentRegistration.created_at))
        )
        return list(result.scalars())

    async def open_registration(self, person_id: uuid.UUID) -> UnemploymentRegistration | None:
        result = await self.session.execute(
            select(UnemploymentRegistration)
            .where(UnemploymentRegistration.person_id == person_id)
            .where(col(UnemploymentRegistration.closed_on).is_(None))
        )
        return result.scalar_one_or_none()

    async def open_employments(self, person_id: uuid.UUID) -> list[Employment]:
        result = await self.session.execute(
            select(Employment).where(Employment.person_id == person_id).where(col(Employment.ended_on).is_(None))
        )
        return list(result.scalars())

    async def lock_subject(self, subject_ref: str) -> None:
        """Serialise a registration and a fact about the same person (or two refreshes of the same
        household, `household:<no>`) until the transaction ends (PostgreSQL; SQLite transactions are
        serial already). Without it, a fact arriving while the person registers could be missed by both."""
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            await self.session.execute(_LOCK_SUBJECT, {"ref": subject_ref})

    async def lock_subjects(self, subject_refs: list[str]) -> None:
        """`lock_subject` for many at once, in one statement and in the locks' order (two batches
        locking overlapping subjects wait for each other instead of deadlocking)."""
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql" and subject_refs:
            await self.session.execute(_LOCK_SUBJECTS, {"refs": subject_refs})

    async def latest_employment_day(self, person_id: uuid.UUID) -> date | None:
        """The last day any employment of the person is known to have run (its end, else its start)."""
        day = sa.func.coalesce(Employment.ended_on, Employment.started_on)
        result = await self.session.execute(sa.select(sa.func.max(day)).where(col(Employment.person_id) == person_id))
        return result.scalar_one_or_none()

    async def facts(self, subject_ref: str) -> list[FactView]:
        """The facts naming a subject (a person being registered), as rows."""
        return [FactView(*row) for row in await self.session.execute(_FACTS_OF_SUBJECT, {"subject_ref": subject_ref})]

    async def records_of(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, PersonRecords]:
        """The records of the people with these ids, in one statement; someone not found is left out."""
        if not ids:
            return {}
        # A fact batch reads the facts it has just written, and a household refresh the people it
        # has changed: a Core select does not autoflush.
        await self.session.flush()
        result = await self.session.execute(
            sa.select(_PERSON.person_id, *PERSON_RECORDS).where(among(self.session, _PERSON.person_id, ids))
        )
        return {row[0]: records_from(row[1:]) for row in result}

    async def zero_employment_since(self, household_no: str) -> date | None:
        """Since when the household has been a zero-employment one (None: it is not). Flushes first:
        a registration reads it right after refreshing the household in the same transaction."""
        await self.session.flush()
        query = _ZERO_EMPLOYMENT_SINCE.where(_HOUSEHOLD.household_no == household_no)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def household(self, household_no: str) -> Household | None:
        return await self.session.get(Household, household_no)

    async def members(self, household_no: str) -> list[Person]:
        return (await self.members_of([household_no])).get(household_no, [])

    async def members_of(self, numbers: list[str]) -> dict[str, list[Person]]:
        found: dict[str, list[Person]] = defaultdict(list)
        if numbers:
            result = await self.session.execute(
                select(Person).where(col(Person.household_no).in_(numbers)).order_by(col(Person.person_id))
            )
            for person in result.scalars():
                found[person.household_no or ""].append(person)
        return found

    async def households_page(
        self, *, zero_employment: bool | None, kind: str | None, town: str | None, limit: int, cursor: str | None
    ) -> tuple[list[Household], str | None]:
        query = select(Household)
        if zero_employment is not None:
            query = query.where(Household.zero_employment == zero_employment)
        if kind is not None:
            query = query.where(Household.kind == kind)
        if town is not None:
            query = query.where(Household.town == town)
        return await paginate(
            self.session,
            query,
            keys=[col(Household.household_no)],
            position=HouseholdsCursor,
            limit=limit,
            cursor=cursor,
        )

    async def persons_page(
        self, *, index: str | None, limit: int, cursor: str | None
    ) -> tuple[list[tuple[PersonView, PersonRecords]], str | None]:
        """A page of people with their records, in one statement."""
        if index is not None and cursor is None:
            # The look-up by id number (a unique index): one person or none, so no page to follow.
            row = (await self.session.execute(PERSON_BY_INDEX, {"index": index})).first()
            return ([] if row is None else [person_and_records(row)]), None
        query = PERSON_WITH_RECORDS
        if index is not None:
            query = query.where(_PERSON.id_number_index == index)
        return await paginate(
            self.session,
            query,
            keys=[_PERSON.person_id],
            position=PersonsCursor,
            limit=limit,
            cursor=cursor,
            row=person_and_records,
        )

    async def view(self, person_id: uuid.UUID) -> tuple[PersonView, PersonRecords] | None:
        """The person with their records, in one statement."""
        row = (await self.session.execute(PERSON_BY_ID, {"person_id": person_id})).first()
        return None if row is None else person_and_records(row)
