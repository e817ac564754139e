"""The sharing service's tables: raw batches as pushed (sealed) and each record's outcome."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.kit.db import UTCDateTime, utcnow


class SharingBatch(SQLModel, table=True):
    """One push by an agency, kept whole: the raw body sealed, who sent it, and its counts."""

    __tablename__ = "sharing_batch"
    __table_args__ = (sa.Index("ix_sharing_batch_agency_dataset_received", "agency", "dataset", "received_at"),)

    id: uuid.UUID = Field(primary_key=True)
    agency: str = Field(max_length=64)
    dataset: str = Field(max_length=64)
    submitted_by: str = Field(max_length=255, description="API client id of the submitter")
    request_id: str = Field(max_length=128)
    content_type: str = Field(max_length=255)
    raw_sealed: bytes = Field(sa_type=sa.LargeBinary, description="AES-256-GCM sealed raw body (see sealing.py)")
    raw_key_id: str = Field(max_length=32, description="Fingerprint of the key that sealed raw_sealed")
    raw_size: int
    record_count: int
    accepted_count: int
    rejected_count: int
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


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


TABLES = frozenset({SharingBatch.__tablename__, SharingRecord.__tablename__})
