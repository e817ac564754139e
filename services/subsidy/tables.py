"""The subsidy service's tables: its projection of the registry, applications, budgets, payments.

The once-only rule of one-time programmes lives in two partial unique indexes, so no retry, crash
or race can pay a beneficiary twice: at most one live application (submitted, eligible, approved
or paid) per programme and beneficiary, and at most one live payment (instructed or settled).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.kit.db import UTCDateTime, utcnow

LIVE_APPLICATION_STATUSES = ("submitted", "eligible", "approved", "paid")
LIVE_PAYMENT_STATUSES = ("instructed", "settled")
APPLICATION_STATUSES = ("submitted", "eligible", "ineligible", "approved", "rejected", "paid", "payment_failed")
PAYMENT_STATUSES = ("instructed", "settled", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _partial(condition: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


class ProjectedPerson(SQLModel, table=True):
    """The newest registry snapshot of a person this service has seen."""

    __tablename__ = "subsidy_person"

    person_id: uuid.UUID = Field(primary_key=True)
    version: int
    deceased_on: date | None = None
    snapshot: dict[str, Any] = Field(sa_type=sa.JSON)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProjectedCategory(SQLModel, table=True):
    """Every difficulty category the registry has listed for a person, and when it stopped listing it.

    Snapshots carry only the categories active when published; some end because of the very hiring
    a subsidy rewards (a zero-employment household is no longer one), so eligibility needs the
    history, not just the newest list.
    """

    __tablename__ = "subsidy_person_category"

    person_id: uuid.UUID = Field(primary_key=True)
    category: str = Field(primary_key=True)
    source: str = Field(primary_key=True)
    valid_from: date = Field(primary_key=True)
    valid_until: date | None = None
    # The bureau date of the first snapshot that no longer listed it; null while listed.
    withdrawn_on: date | None = None
    last_listed_version: int


class ProjectedEmployment(SQLModel, table=True):
    """The newest registry snapshot of an employment this service has seen."""

    __tablename__ = "subsidy_employment"

    employment_id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(index=True)
    employer_credit_code: str = Field(index=True)
    version: int
    snapshot: dict[str, Any] = Field(sa_type=sa.JSON)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Application(SQLModel, table=True):
    __tablename__ = "subsidy_application"
    __table_args__ = (
        sa.Index(
            "uq_subsidy_application_one_time_live",
            "programme",
            "beneficiary_person_id",
            unique=True,
            **_partial(f"one_time AND {_in('status', LIVE_APPLICATION_STATUSES)}"),
        ),
        sa.Index("ix_subsidy_application_listing", "created_at", "application_id"),
        sa.CheckConstraint(_in("status", APPLICATION_STATUSES), name="ck_subsidy_application_status"),
        sa.CheckConstraint("amount_fen >= 0", name="ck_subsidy_application_amount"),
    )

    application_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    programme: str = Field(max_length=40)
    one_time: bool
    beneficiary_person_id: uuid.UUID = Field(index=True)
    applicant_kind: str = Field(max_length=10)
    applicant_credit_code: str | None = Field(default=None, max_length=18)
    applicant_person_id: uuid.UUID | None = None
    employment_id: uuid.UUID | None = None
    status: str = Field(max_length=20)
    amount_fen: int = Field(sa_type=sa.BigInteger)
    checks: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    evaluated_on: date
    submitted_by: str = Field(max_length=100)
    decided_by: str | None = Field(default=None, max_length=100)
    decision_note: str | None = Field(default=None, max_length=2000)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Budget(SQLModel, table=True):
    """A programme's budget for one year; the CHECK keeps reservations and spending within it."""

    __tablename__ = "subsidy_budget"
    __table_args__ = (
        sa.CheckConstraint("reserved_fen >= 0 AND spent_fen >= 0", name="ck_subsidy_budget_non_negative"),
        sa.CheckConstraint("reserved_fen + spent_fen <= amount_fen", name="ck_subsidy_budget_not_overspent"),
    )

    programme: str = Field(primary_key=True, max_length=40)
    year: int = Field(primary_key=True)
    amount_fen: int = Field(sa_type=sa.BigInteger)
    reserved_fen: int = Field(default=0, sa_type=sa.BigInteger)
    spent_fen: int = Field(default=0, sa_type=sa.BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Payment(SQLModel, table=True):
    __tablename__ = "subsidy_payment"
    __table_args__ = (
        sa.Index(
            "uq_subsidy_payment_one_time_live",
            "programme",
            "beneficiary_person_id",
            unique=True,
            **_partial(f"one_time AND {_in('status', LIVE_PAYMENT_STATUSES)}"),
        ),
        sa.CheckConstraint(_in("status", PAYMENT_STATUSES), name="ck_subsidy_payment_status"),
        sa.CheckConstraint("amount_fen > 0", name="ck_subsidy_payment_amount"),
    )

    payment_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    application_id: uuid.UUID = Field(foreign_key="subsidy_application.application_id", unique=True)
    programme: str = Field(max_length=40)
    one_time: bool
    beneficiary_person_id: uuid.UUID = Field(index=True)
    payee_kind: str = Field(max_length=10)
    payee_credit_code: str | None = Field(default=None, max_length=18)
    payee_person_id: uuid.UUID | None = None
    amount_fen: int = Field(sa_type=sa.BigInteger)
    budget_year: int
    status: str = Field(max_length=20)
    bank_reference: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=2000)
    instructed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


TABLES = {
    ProjectedPerson.__tablename__,
    ProjectedCategory.__tablename__,
    ProjectedEmployment.__tablename__,
    Application.__tablename__,
    Budget.__tablename__,
    Payment.__tablename__,
}
