"""Request and response models of the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, StrictInt

from services.kit.pagination import CursorPosition


class AuditAction(StrEnum):
    push = "push"
    query = "query"
    verify = "verify"
    report = "report"


class AuditOutcome(StrEnum):
    answered = "answered"
    refused = "refused"


class AuditEntryRead(BaseModel):
    """One entry as chained: `hash` is SHA-256 over the canonical JSON of every field but `hash` and
    `subjects` (README, "Verifying the audit chain")."""

    seq: int = Field(description="1, 2, 3, … with no gap")
    at: str = Field(
        description="When the exchange was recorded, UTC, always with six digits of microseconds",
        json_schema_extra={"format": "date-time", "examples": ["2026-12-03T02:15:07.123456Z"]},
    )
    client_id: str = Field(description="API client that made the exchange; `sharing` for the service's own deliveries")
    agency: str = Field(description="The agency on the other side: who pushed, asked, verified or received")
    action: AuditAction
    dataset: str = Field(description="`agency/dataset` exchanged, e.g. `hrss/employment_status`")
    purpose: str
    outcome: AuditOutcome = Field(description="`refused` for a query refused for want of a valid agreement")
    reason: str | None = Field(description="Why it was refused; null when answered")
    request_id: str
    records: int = Field(description="Records exchanged: pushed, answered, checked, or report rows")
    subjects_digest: str = Field(
        description="Hex SHA-256 of the sorted `subjects` joined by newlines: what the chain holds of them"
    )
    subjects: list[str] | None = Field(
        description="The persons concerned, as `subject_ref`s (never id numbers), sorted; null for an entry of a "
        "sensitive dataset (special populations) unless the caller is `admin` or its agency pushed it. Not "
        "hashed itself: check it against `subjects_digest`"
    )
    prev_hash: str = Field(description="The previous entry's hash; 64 zeros for seq 1")
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_cursor: str | None = None


class ChainVerification(BaseModel):
    entries: int = Field(description="Entries recomputed")
    valid: bool
    first_bad_seq: int | None = Field(description="The first entry that does not match; null when valid")
    last_seq: int = Field(description="The last entry of the chain when the verification began")
    last_hash: str = Field(description="Its hash: keep it, and a later verification proves nothing before it changed")
    verified_at: datetime


class AuditCursor(CursorPosition):
    seq: StrictInt = Field(ge=0, lt=2**63)
