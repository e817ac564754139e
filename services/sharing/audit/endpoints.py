"""Routes of the audit log: list entries (filtered, paginated) and verify the chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from contracts.vocabulary import Agency
from services.kit.access import SharingReader
from services.kit.fields import DatasetCode, IdNumber, Instant
from services.kit.pagination import CursorQuery, LimitQuery

from ..dependencies import AuditLogDep, SettingsDep
from .schemas import AuditAction, AuditPage, ChainVerification

router = APIRouter(prefix="/sharing/v1/audit", tags=["audit"])


@router.get(
    "",
    summary="Audit entries, oldest first",
    description=(
        "Every exchange: pushes, queries (answered or refused), identity verifications and statistics "
        "report deliveries, in chain order. Each item holds exactly the chained fields and `hash`, so a "
        'page can be checked by recomputing each hash (README, "Verifying the audit chain"). Filter by '
        "agency, dataset (`agency/dataset`), action, time (`since` inclusive, `until` exclusive) and a "
        "person: `subject_id_number` is turned into its `subject_ref` and never stored."
    ),
)
async def list_audit_entries(
    caller: SharingReader,
    audit: AuditLogDep,
    settings: SettingsDep,
    agency: Agency | None = None,
    dataset: Annotated[DatasetCode | None, Query(description="`agency/dataset`")] = None,
    action: AuditAction | None = None,
    since: Annotated[Instant | None, Query(description="From this instant (with its UTC offset)")] = None,
    until: Annotated[Instant | None, Query(description="Before this instant (with its UTC offset)")] = None,
    subject_id_number: Annotated[IdNumber | None, Query(description="Entries naming this person")] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> AuditPage:
    return await audit.page(
        caller,
        agency=agency,
        dataset=dataset,
        action=action,
        since=since,
        until=until,
        subject_ref=settings.subject_ref(subject_id_number) if subject_id_number is not None else None,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/verify",
    summary="Recompute the audit chain",
    description=(
        "Recomputes every entry's hash in seq order and checks each `prev_hash`, the sequence and the "
        "head; names the first entry that does not match. `last_hash` anchors the chain: kept outside "
        "the bureau, it lets a later verification show that nothing before it was rewritten."
    ),
)
async def verify_audit_chain(caller: SharingReader, audit: AuditLogDep) -> ChainVerification:
    return await audit.verify()
