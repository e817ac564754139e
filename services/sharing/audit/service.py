"""Business rules of the audit log: every exchange appended in the transaction of the exchange
itself, one chain whatever the concurrency, and the chain recomputed on demand."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.vocabulary import Scope
from services.kit.clock import Clock
from services.kit.db import after_commit, flush_before_commit
from services.kit.identity import Caller

from ..datasets.catalog import CATALOG
from ..metrics import (
    AUDIT_CHAIN_ENTRIES,
    AUDIT_CHAIN_FIRST_BAD_SEQ,
    AUDIT_CHAIN_VALID,
    AUDIT_ENTRIES,
    AUDIT_LAST_VERIFICATION,
)
from .chain import GENESIS_HASH, chain_instant, check_chain, entry_hash, subjects_digest
from .repository import AuditRepository
from .schemas import AuditAction, AuditEntryRead, AuditOutcome, AuditPage, ChainVerification

# Datasets whose entries name their persons only to admin and the pushing agency.
SENSITIVE_DATASETS = frozenset(dataset.code for dataset in CATALOG if dataset.sensitive)
# Who the service's own deliveries (a month's statistics report) are recorded as.
SERVICE_CLIENT = "sharing"


@dataclass(frozen=True)
class Exchange:
    """One exchange to record: who (the client and its request), with which agency, what and why."""

    client_id: str
    request_id: str
    agency: str
    action: AuditAction
    dataset: str
    purpose: str
    records: int
    subjects: Collection[str] = ()
    outcome: AuditOutcome = AuditOutcome.answered
    reason: str | None = None


class AuditLog:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        self.repo = AuditRepository(session)

    async def append(self, exchange: Exchange) -> AuditEntryRead:
        """Chain the exchange after the head, which stays locked until the caller's transaction ends:
        concurrent exchanges queue here, so each entry's prev_hash is the hash of the one committed
        before it. Call it last in a transaction, so the lock is held for as short a time as can be."""
        # The outbox rows go in first: the head stays locked only for the append and the COMMIT.
        await self.session.run_sync(flush_before_commit)
        head = await self.repo.lock_head()
        at = self.clock.now()
        entry: dict[str, Any] = {
            "seq": head.seq + 1,
            "at": chain_instant(at),
            "client_id": exchange.client_id[:255],
            "agency": exchange.agency,
            "action": exchange.action.value,
            "dataset": exchange.dataset,
            "purpose": exchange.purpose[:500],
            "outcome": exchange.outcome.value,
            "reason": exchange.reason[:500] if exchange.reason is not None else None,
            "request_id": exchange.request_id[:128],
            "records": exchange.records,
            "subjects": sorted(set(exchange.subjects)),
            "prev_hash": head.hash,
        }
        entry["subjects_digest"] = subjects_digest(entry["subjects"])
        entry["hash"] = entry_hash(entry)
        await self.repo.append({k: v for k, v in entry.items() if k != "subjects_digest"}, at)
        labels = (exchange.agency, exchange.action.value)
        after_commit(self.session, lambda: AUDIT_ENTRIES.labels(*labels).inc())
        return AuditEntryRead.model_validate(entry)

    async def page(
        self,
        caller: Caller,
        *,
        agency: str | None,
        dataset: str | None,
        action: AuditAction | None,
        since: datetime | None,
        until: datetime | None,
        subject_ref: str | None,
        limit: int,
        cursor: str | None,
    ) -> AuditPage:
        """Entries oldest first. Who an entry of a sensitive dataset concerns (special populations:
        membership alone is the secret) is shown, and found by the subject filter, only to `admin` and
        the agency that pushed it, as with its batch; everyone sees its `subjects_digest`."""
        viewer = None if Scope.admin in caller.scopes else caller.agency
        rows, next_cursor = await self.repo.page(
            agency=agency,
            dataset=dataset,
            action=action.value if action is not None else None,
            since=since,
            until=until,
            subject_ref=subject_ref,
            hidden=(SENSITIVE_DATASETS, viewer) if viewer is not None else None,
            limit=limit,
            cursor=cursor,
        )
        items = []
        for row in rows:
            shown = viewer is None or row.dataset not in SENSITIVE_DATASETS or row.agency == viewer
            items.append(
                AuditEntryRead.model_validate(
                    {
                        **row.model_dump(),
                        "at": chain_instant(row.at),
                        "subjects_digest": subjects_digest(row.subjects),
                        "subjects": row.subjects if shown else None,
                    }
                )
            )
        return AuditPage(items=items, next_cursor=next_cursor)

    async def verify(self) -> ChainVerification:
        """Recompute the chain up to the head as it was when this began (entries appended meanwhile
        are left for the next run) and check that the head names its last entry, so that entries
        removed from the end are found too."""
        head = await self.repo.head()
        head_seq, head_hash = head.seq, head.hash
        count, last_seq, last_hash = 0, 0, GENESIS_HASH
        first_bad: int | None = None
        async for chunk in self.repo.entries(up_to_seq=head_seq):
            # Hashing a chunk is CPU work: off the event loop, so requests are served meanwhile.
            check = await asyncio.to_thread(check_chain, chunk, after_seq=last_seq, after_hash=last_hash)
            count += check.entries
            last_seq, last_hash = check.last_seq, check.last_hash
            if check.first_bad_seq is not None:
                first_bad = check.first_bad_seq
                break
        if first_bad is None and (last_seq, last_hash) != (head_seq, head_hash):
            first_bad = last_seq + 1 if last_seq < head_seq else last_seq
        # An entry beyond the head was not appended by the chain (and would block the next append).
        if first_bad is None and await self.repo.last_seq() > (await self.repo.head()).seq:
            first_bad = head_seq + 1
        result = ChainVerification(
            entries=count,
            valid=first_bad is None,
            first_bad_seq=first_bad,
            last_seq=head_seq,
            last_hash=head_hash,
            verified_at=self.clock.now(),
        )
        AUDIT_CHAIN_VALID.set(1 if result.valid else 0)
        AUDIT_CHAIN_FIRST_BAD_SEQ.set(first_bad or 0)
        AUDIT_CHAIN_ENTRIES.set(count)
        AUDIT_LAST_VERIFICATION.set(result.verified_at.timestamp())
        return result
