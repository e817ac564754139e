"""The subsidy service's tables: its projections of the registry and of sharing, the watermarks it
judges applications by, applications, grants, budgets, payments and public notices.

"At most once" lives in the database, so no retry, crash or race can pay twice:
- `subsidy_grant`: what an approval uses up for a beneficiary (`once` for a one-time programme, a
  month of social insurance, a training's certificate), each at most once per programme;
- at most one open application (submitted, eligible, ineligible) per one-time programme and
  beneficiary, and at most one live payment (instructed or settled) per application and per
  one-time programme and beneficiary.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.kit.db import UTCDateTime, utcnow

OPEN_APPLICATION_STATUSES = ("submitted", "eligible", "ineligible")
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
    # Matches a business's legal representative (market supervision names people by subject_ref).
    subject_ref: str | None = Field(default=None, max_length=64, index=True)
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


class ProjectedBusiness(SQLModel, table=True):
    """A business from market supervision's facts on sharing.fact.v1, as last reported."""

    __tablename__ = "subsidy_business"

    credit_code: str = Field(primary_key=True, max_length=18)
    name: str = Field(max_length=200)
    legal_rep_subject_ref: str = Field(max_length=64, index=True)
    established_on: date
    deregistered_on: date | None = None
    fact_id: uuid.UUID
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Watermark(SQLModel, table=True):
    """A producer's watermark (contracts/outbox.py) as received; kept a while, then purged."""

    __tablename__ = "subsidy_watermark"

    service: str = Field(primary_key=True, max_length=40)
    as_of: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    positions: list[dict[str, Any]] = Field(sa_type=sa.JSON)


class Application(SQLModel, table=True):
    __tablename__ = "subsidy_application"
    __table_args__ = (
        sa.Index(
            "uq_subsidy_application_one_time_open",
            "programme",
            "beneficiary_person_id",
            unique=True,
            **_partial(f"one_time AND {_in('status', OPEN_APPLICATION_STATUSES)}"),
        ),
        sa.Index("ix_subsidy_application_listing", "created_at", "application_id"),
        sa.Index("ix_subsidy_application_status", "status", "created_at"),
        sa.Index("ix_subsidy_application_business", "business_credit_code"),
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
    business_credit_code: str | None = Field(default=None, max_length=18)
    training_id: uuid.UUID | None = None
    months: list[str] | None = Field(default=None, sa_type=sa.JSON)
    status: str = Field(max_length=20)
    amount_fen: int = Field(sa_type=sa.BigInteger)
    checks: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    # Null while submitted: the bureau date of the last evaluation.
    evaluated_on: date | None = None
    # When the first decision (eligible or ineligible) was made: submission to it is measured.
    first_evaluated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    payee_kind: str | None = Field(default=None, max_length=10)
    payee_name: str | None = Field(default=None, max_length=200)
    payee_credit_code: str | None = Field(default=None, max_length=18)
    payee_person_id: uuid.UUID | None = None
    submitted_by: str = Field(max_length=100)
    decided_by: str | None = Field(default=None, max_length=100)
    decision_note: str | None = Field(default=None, max_length=2000)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Grant(SQLModel, table=True):
    """What an approval used up for a beneficiary, once per programme: the primary key is the rule."""

    __tablename__ = "subsidy_grant"

    programme: str = Field(primary_key=True, max_length=40)
    beneficiary_person_id: uuid.UUID = Field(primary_key=True)
    unit: str = Field(primary_key=True, max_length=40)
    application_id: uuid.UUID = Field(foreign_key="subsidy_application.application_id", index=True)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


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
        sa.Index(
            "uq_subsidy_payment_live_per_application",
            "application_id",
            unique=True,
            **_partial(_in("status", LIVE_PAYMENT_STATUSES)),
        ),
        sa.CheckConstraint(_in("status", PAYMENT_STATUSES), name="ck_subsidy_payment_status"),
        sa.CheckConstraint("amount_fen > 0", name="ck_subsidy_payment_amount"),
    )

    payment_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    application_id: uuid.UUID = Field(foreign_key="subsidy_application.application_id", index=True)
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


class Notice(SQLModel, table=True):
    """A public notice (公示) of an approved grant: masked name, town, payee, amount, period."""

    __tablename__ = "subsidy_notice"
    __table_args__ = (sa.Index("ix_subsidy_notice_listing", "approved_on", "notice_id"),)

    notice_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    application_id: uuid.UUID = Field(foreign_key="subsidy_application.application_id", unique=True)
    programme: str = Field(max_length=40)
    name_masked: str = Field(max_length=100)
    town: str | None = Field(default=None, max_length=100)
    payee_name: str = Field(max_length=200)
    amount_fen: int = Field(sa_type=sa.BigInteger)
    approved_on: date
    until: date = Field(index=True)


TABLES = {
    ProjectedPerson.__tablename__,
    ProjectedCategory.__tablename__,
    ProjectedEmployment.__tablename__,
    ProjectedBusiness.__tablename__,
    Watermark.__tablename__,
    Application.__tablename__,
    Grant.__tablename__,
    Notice.__tablename__,
    Budget.__tablename__,
    Payment.__tablename__,
}
