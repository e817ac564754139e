"""The sharing service's tables: raw batches as pushed (sealed) and each record's outcome; what it
keeps of public security's identity records for verification; data-sharing agreements; the
hash-chained audit log; its projection of the registry (for outward queries and statistics); and
the statistics reports it has delivered."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.kit.db import UTCDateTime, utcnow


class SharingBatch(SQLModel, table=True):
    """One push by an agency, kept whole: the raw body sealed, who sent it, and its counts."""

    __tablename__ = "sharing_batch"
    __table_args__ = (
        sa.Index("ix_sharing_batch_agency_dataset_received", "agency", "dataset", "received_at"),
        # The batches whose raw body is still kept, by age: what the retention purge reads.
        sa.Index(
            "ix_sharing_batch_raw_kept",
            "received_at",
            postgresql_where=sa.text("raw_purged_at IS NULL"),
            sqlite_where=sa.text("raw_purged_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    agency: str = Field(max_length=64)
    dataset: str = Field(max_length=64)
    submitted_by: str = Field(max_length=255, description="API client id of the submitter")
    request_id: str = Field(max_length=128)
    content_type: str = Field(max_length=255)
    raw_sealed: bytes | None = Field(
        default=None,
        sa_type=sa.LargeBinary,
        description="AES-256-GCM sealed raw body (see sealing.py); None once purged after the retention",
    )
    raw_key_id: str = Field(max_length=32, description="Fingerprint of the key that sealed raw_sealed")
    raw_size: int
    record_count: int
    accepted_count: int
    rejected_count: int
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # When the raw body was dropped (`SHARING_RAW_BATCH_RETENTION_S` after `received_at`); the batch,
    # its counts and its records' outcomes stay.
    raw_purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SharingRecord(SQLModel, table=True):
    """The outcome of one record of a batch: accepted as a fact, or rejected with its errors.
    Holds no raw id number: the masked form identifies it to an operator, subject_ref to a system."""

    __tablename__ = "sharing_record"
    __table_args__ = (
        sa.CheckConstraint("outcome IN ('accepted', 'rejected')", name="ck_sharing_record_outcome"),
        sa.CheckConstraint(
            "(outcome = 'accepted') = (fact_id IS NOT NULL)", name="ck_sharing_record_fact_iff_accepted"
        ),
    )

    batch_id: uuid.UUID = Field(foreign_key="sharing_batch.id", primary_key=True)
    record_index: int = Field(primary_key=True)
    outcome: str = Field(max_length=8)
    id_number_masked: str | None = Field(default=None, max_length=18)
    subject_ref: str | None = Field(default=None, max_length=64, index=True)
    fact_key: str | None = Field(default=None, max_length=255)
    fact_id: uuid.UUID | None = Field(default=None, unique=True)
    errors: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON)


class SharingIdentity(SQLModel, table=True):
    """Public security's latest `identity` record of a person, as far as verification needs it: no
    name, only a keyed digest of it (`verification.name_digest`), and the death date."""

    __tablename__ = "sharing_identity"

    subject_ref: str = Field(primary_key=True, max_length=64)
    name_digest: str = Field(max_length=64)
    deceased_on: date | None = None
    fact_id: uuid.UUID
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class SharingAgreement(SQLModel, table=True):
    """A data-sharing agreement (数据共享协议). `outward`: the bureau shares one of its datasets with a
    consumer agency, created by an administrator. `inbound`: an agency pushes one of its declared
    datasets to the bureau, kept in step with the dataset catalogue at start-up."""

    __tablename__ = "sharing_agreement"
    __table_args__ = (
        sa.CheckConstraint("direction IN ('outward', 'inbound')", name="ck_sharing_agreement_direction"),
        sa.Index("ix_sharing_agreement_consumer_dataset", "consumer_agency", "dataset"),
    )

    agreement_id: uuid.UUID = Field(primary_key=True)
    direction: str = Field(max_length=8)
    provider_agency: str = Field(max_length=64)
    consumer_agency: str = Field(max_length=64)
    dataset: str = Field(max_length=130, description="`agency/dataset`")
    fields: list[str] = Field(sa_type=sa.JSON)
    purpose: str = Field(max_length=500)
    valid_from: date | None = None
    valid_until: date | None = None
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SharingAuditEntry(SQLModel, table=True):
    """One exchange, chained to the one before it by `prev_hash` and sealed by `hash` (audit/chain.py
    gives the encoding). The database refuses UPDATE and DELETE of these rows (a trigger)."""

    __tablename__ = "sharing_audit_entry"
    __table_args__ = (
        sa.Index("ix_sharing_audit_entry_agency_at", "agency", "at"),
        sa.Index("ix_sharing_audit_entry_at", "at"),
    )

    seq: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_type=UTCDateTime)
    client_id: str = Field(max_length=255)
    agency: str = Field(max_length=64)
    action: str = Field(max_length=8)
    dataset: str = Field(max_length=130)
    purpose: str = Field(max_length=500)
    outcome: str = Field(max_length=8)
    reason: str | None = Field(default=None, max_length=500)
    request_id: str = Field(max_length=128)
    records: int
    subjects: list[str] = Field(sa_type=sa.JSON)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class SharingAuditSubject(SQLModel, table=True):
    """Which entries name a subject: the index behind `GET /sharing/v1/audit?subject=` (append-only too)."""

    __tablename__ = "sharing_audit_subject"

    subject_ref: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs={"autoincrement": False})


class SharingAuditHead(SQLModel, table=True):
    """The chain's last entry: its one row is locked by every append, so appends are serial and the
    chain has one line, whatever the concurrency."""

    __tablename__ = "sharing_audit_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=sa.BigInteger)
    hash: str = Field(max_length=64)


class ProjectedPerson(SQLModel, table=True):
    """A registered person as the registry's snapshots tell it: what `hrss/employment_status` shares
    and what the statistics count. The highest version wins."""

    __tablename__ = "sharing_person"

    person_id: uuid.UUID = Field(primary_key=True)
    subject_ref: str = Field(max_length=64, index=True)
    version: int
    town: str | None = Field(default=None, max_length=100)
    status: str = Field(max_length=16)
    deceased_on: date | None = None
    registered_unemployed_since: date | None = None


class ProjectedRegistration(SQLModel, table=True):
    __tablename__ = "sharing_person_registration"

    registration_id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(index=True)
    registered_on: date
    closed_on: date | None = None


class ProjectedCategory(SQLModel, table=True):
    """A difficulty category a person held or holds; sensitive ones are never kept here."""

    __tablename__ = "sharing_person_category"

    person_id: uuid.UUID = Field(primary_key=True)
    category: str = Field(primary_key=True, max_length=40)
    valid_from: date = Field(primary_key=True)
    valid_until: date | None = None


class ProjectedTraining(SQLModel, table=True):
    __tablename__ = "sharing_person_training"

    training_id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(index=True)
    completed_on: date = Field(index=True)


class ProjectedEmployment(SQLModel, table=True):
    __tablename__ = "sharing_employment"

    employment_id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(index=True)
    version: int
    employer_name: str = Field(max_length=255)
    started_on: date = Field(index=True)
    ended_on: date | None = Field(default=None, index=True)
    end_reason: str | None = Field(default=None, max_length=32)


class StatisticsReportRow(SQLModel, table=True):
    """A month's final statistics report, as delivered: produced once, when the month has closed."""

    __tablename__ = "sharing_statistics_report"

    period: str = Field(primary_key=True, max_length=7)
    report_id: uuid.UUID = Field(unique=True)
    generated_at: datetime = Field(sa_type=UTCDateTime)
    report: dict[str, Any] = Field(sa_type=sa.JSON)


TABLES = frozenset(
    table.__tablename__
    for table in (
        SharingBatch,
        SharingRecord,
        SharingIdentity,
        SharingAgreement,
        SharingAuditEntry,
        SharingAuditSubject,
        SharingAuditHead,
        ProjectedPerson,
        ProjectedRegistration,
        ProjectedCategory,
        ProjectedTraining,
        ProjectedEmployment,
        StatisticsReportRow,
    )
)
