"""The registry's tables: people, unemployment registrations, employments, contribution months and
the agency facts that give difficulty categories."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.kit.db import UTCDateTime, utcnow


class Person(SQLModel, table=True):
    __tablename__ = "registry_person"

    person_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # AES-GCM ciphertext of the id number; found through the keyed blind index, never by value.
    id_number_ciphertext: bytes = Field(sa_type=sa.LargeBinary)
    id_number_index: str = Field(unique=True, max_length=64)
    id_number_masked: str = Field(max_length=18)
    subject_ref: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    gender: str = Field(max_length=6)
    birth_date: date
    hukou_type: str = Field(max_length=5)
    hukou_local: bool | None = None
    town: str | None = Field(default=None, max_length=100, index=True)
    education: str | None = Field(default=None, max_length=50)
    graduation_date: date | None = None
    household_no: str | None = Field(default=None, max_length=64, index=True)
    hukou_area_code: str | None = Field(default=None, max_length=6)
    deceased_on: date | None = None
    version: int = 1
    # The categories last published for the person (a fingerprint): the daily sweep publishes a
    # person again only when today's differ, so a sweep run twice, or by two replicas, publishes once.
    published_categories: str = Field(default="", max_length=4000)
    # The first bureau day on which the calendar alone may change those categories (a fact starting
    # or ending, a 40th or 50th birthday): the daily sweep looks only at the people due.
    # NULL: not worked out yet (the next sweep looks); 9999-12-31: no such day.
    categories_due_on: date | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UnemploymentRegistration(SQLModel, table=True):
    __tablename__ = "registry_unemployment_registration"
    __table_args__ = (
        # At most one open registration per person, whatever the concurrency.
        sa.Index(
            "uq_registry_unemployment_open",
            "person_id",
            unique=True,
            postgresql_where=sa.text("closed_on IS NULL"),
            sqlite_where=sa.text("closed_on IS NULL"),
        ),
    )

    registration_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="registry_person.person_id", index=True)
    registered_on: date = Field(index=True)
    closed_on: date | None = None
    close_reason: str | None = Field(default=None, max_length=50)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Employment(SQLModel, table=True):
    __tablename__ = "registry_employment"

    employment_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="registry_person.person_id", index=True)
    employer_credit_code: str = Field(max_length=18, index=True)
    employer_name: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    # Indicators count employments started in a period (indicators/repository.py).
    started_on: date = Field(index=True)
    contract_months: int | None = None
    ended_on: date | None = None
    end_reason: str | None = Field(default=None, max_length=200)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ContributionMonth(SQLModel, table=True):
    __tablename__ = "registry_contribution_month"

    employment_id: uuid.UUID = Field(foreign_key="registry_employment.employment_id", primary_key=True)
    month: str = Field(primary_key=True, max_length=7)
    insurances: list[str] = Field(sa_type=sa.JSON)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PersonFact(SQLModel, table=True):
    """The latest agency fact per (subject, agency, dataset); kept for people not registered yet too.
    `attributes` is the fact's typed attributes (contracts.facts) as JSON; what a fact gives is
    worked out from them by the dataset's applier (services/registry/facts/appliers.py)."""

    __tablename__ = "registry_person_fact"
    __table_args__ = (sa.UniqueConstraint("subject_ref", "agency", "dataset", name="uq_registry_fact_key"),)

    id: int | None = Field(default=None, primary_key=True)
    subject_ref: str = Field(max_length=64, index=True)
    agency: str = Field(max_length=32)
    dataset: str = Field(max_length=64)
    fact_id: uuid.UUID
    valid_from: date | None = None
    valid_until: date | None = None
    attributes: dict[str, object] = Field(default_factory=dict, sa_type=sa.JSON)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def code(self) -> str:
        return fact_code(self.agency, self.dataset)


def fact_code(agency: str, dataset: str) -> str:
    """`agency/dataset`, the key of the dataset's applier."""
    return f"{agency}/{dataset}"


class LabourForce(SQLModel, table=True):
    """The statistics bureau's urban employed total per month (`statistics/labour_force` facts, the
    latest per period): the denominator of the registered urban unemployment rate."""

    __tablename__ = "registry_labour_force"

    period: str = Field(primary_key=True, max_length=7)
    urban_employed_total: int
    fact_id: uuid.UUID
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EmploymentWarning(SQLModel, table=True):
    """A large-scale unemployment warning (SPEC 2.5): an employer's separations in 30 days crossed a tier."""

    __tablename__ = "registry_warning"
    __table_args__ = (sa.Index("ix_registry_warning_status_level", "status", "level"),)

    warning_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    employer_credit_code: str = Field(max_length=18, index=True)
    employer_name: str = Field(max_length=200)
    level: str = Field(max_length=8)
    separations_30d: int
    threshold: int
    as_of: date
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: str = Field(default="open", max_length=8)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=255)
    note: str | None = Field(default=None, max_length=1000)


class EmployerRisk(SQLModel, table=True):
    """An employer's current episode: the highest tier warned of since its separations last rose to
    the lowest tier. Its row is locked by every separation at the employer, so a tier is raised once
    per episode whatever the concurrency or the replicas; back below the lowest tier, the episode ends."""

    __tablename__ = "registry_employer_risk"

    employer_credit_code: str = Field(primary_key=True, max_length=18)
    level: str | None = Field(default=None, max_length=8)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Training(SQLModel, table=True):
    __tablename__ = "registry_training"

    training_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="registry_person.person_id", index=True)
    kind: str = Field(max_length=32)
    completed_on: date = Field(index=True)
    certificate_level: str | None = Field(default=None, max_length=32)
    provider: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Household(SQLModel, table=True):
    """A household as last derived from its members (SPEC 2.2); members are the persons with its number."""

    __tablename__ = "registry_household"

    household_no: str = Field(primary_key=True, max_length=64)
    version: int = 1
    zero_employment: bool = Field(default=False, index=True)
    kind: str | None = Field(default=None, max_length=32)
    since: date | None = None
    town: str | None = Field(default=None, max_length=100, index=True)
    # The member ids last published, sorted and comma-joined: a member joining or leaving is a change.
    published_members: str = Field(default="", max_length=8000)
    # The first bureau day on which a living member comes of or out of working age: the daily sweep
    # works out only the households due. NULL: not worked out yet; 9999-12-31: no such day.
    due_on: date | None = Field(default=None, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Business(SQLModel, table=True):
    """Businesses from market supervision, with their legal representative (the startup programme's founder)."""

    __tablename__ = "registry_business"

    credit_code: str = Field(primary_key=True, max_length=18)
    name: str = Field(max_length=200)
    legal_rep_subject_ref: str = Field(max_length=64, index=True)
    established_on: date
    deregistered_on: date | None = None
    fact_id: uuid.UUID
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


TABLES = frozenset(
    {
        Person.__tablename__,
        LabourForce.__tablename__,
        EmploymentWarning.__tablename__,
        EmployerRisk.__tablename__,
        UnemploymentRegistration.__tablename__,
        Employment.__tablename__,
        ContributionMonth.__tablename__,
        PersonFact.__tablename__,
        Training.__tablename__,
        Household.__tablename__,
        Business.__tablename__,
    }
)
