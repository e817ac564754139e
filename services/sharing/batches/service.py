"""Business rules of batches: who may push what, validating each record, keeping the batch and
every record's outcome, and publishing accepted records as facts, all in the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import new_event
from contracts.sharing import FACT_RECORDED, Fact
from contracts.vocabulary import Agency, Scope
from services.kit.clock import Clock
from services.kit.db import flush_before_commit, upsert
from services.kit.errors import AgencyMismatch, Forbidden
from services.kit.identity import Caller
from services.kit.outbox import add_event

from ..audit.schemas import AuditAction
from ..audit.service import AuditLog, Exchange
from ..datasets.catalog import CATALOG, Catalog
from ..datasets.declaration import AnyDataset, FieldError
from ..metrics import count_records
from ..problems import BatchNotFound
from ..sealing import BatchSealer
from ..tables import SharingBatch, SharingRecord
from .parsing import Limits, RawRecord, parse_batch
from .repository import BatchRepository, NewRecord
from .schemas import BatchRead, BatchReceipt, Outcome, RecordOutcome, RejectedRecord

FACT_SOURCE = "/sharing"
# Records of a push checked and written together (see `submit`).
CHUNK_RECORDS = 1000


@dataclass(frozen=True)
class Push:
    """A push as the caller sent it: `agency` and `dataset` are the path's own text, checked here."""

    agency: str
    dataset: str
    body: bytes
    content_type: str | None


@dataclass(frozen=True)
class _Checked:
    record: NewRecord
    fact: Fact | None
    errors: list[FieldError]
    retained: dict[str, Any] | None = None


class BatchService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        sealer: BatchSealer,
        subject_key: bytes,
        limits: Limits,
        clock: Clock,
        catalog: Catalog = CATALOG,
    ) -> None:
        self.session = session
        self.clock = clock
        self.repo = BatchRepository(session)
        self.sealer = sealer
        self.subject_key = subject_key
        self.limits = limits
        self.catalog = catalog
        self.audit = AuditLog(session, clock)

    async def submit(self, caller: Caller, push: Push) -> BatchReceipt:
        """Keep the batch and each record's outcome; queue one fact per accepted record. A batch
        refused whole raises before anything is added, so it leaves no trace. A sensitive dataset's
        facts go to their own topic (`Dataset.topic`), never to `sharing.fact.v1`."""
        if Scope.admin not in caller.scopes and caller.agency != push.agency:
            raise AgencyMismatch(
                f"a key of agency {caller.agency!r} may push only that agency's datasets, not {push.agency!r}'s"
            )
        dataset = self.catalog.get(push.agency, push.dataset)
        raw = parse_batch(push.body, push.content_type, dataset, self.limits)
        batch_id = uuid.uuid4()
        batch = SharingBatch(
            id=batch_id,
            agency=dataset.agency,
            dataset=dataset.name,
            submitted_by=caller.client_id[:255],
            request_id=caller.request_id[:128],
            content_type=(push.content_type or raw.media_type)[:255],
            raw_sealed=self.sealer.seal(batch_id, push.body),
            raw_key_id=self.sealer.key_id,
            raw_size=len(push.body),
            record_count=len(raw.records),
            accepted_count=0,
            rejected_count=0,
            received_at=self.clock.now(),
        )
        await self.repo.add(batch)
        # A bulk load's facts go in the paced bulk lane, so a single record pushed while it is being
        # applied does not wait behind it (services/kit/pacing.py).
        bulk = len(raw.records) > self.limits.bulk_records
        rejected: list[RejectedRecord] = []
        subjects: set[str] = set()
        # A chunk at a time, its outcomes, facts and events written before the next is checked: a
        # push of ten thousand records never holds all their facts and events at once.
        for start in range(0, len(raw.records), CHUNK_RECORDS):
            chunk = raw.records[start : start + CHUNK_RECORDS]
            checked = [self._check(dataset, batch_id, start + n, record) for n, record in enumerate(chunk)]
            await self.repo.add_records(batch_id, [c.record for c in checked])
            accepted = [c for c in checked if c.fact is not None]
            if dataset.retained is not None:
                retained = [c.retained for c in accepted if c.retained is not None]
                await upsert(self.session, dataset.retained.table, retained, key=dataset.retained.key)
            for item in accepted:
                assert item.fact is not None
                event = new_event(source=FACT_SOURCE, type=FACT_RECORDED, subject=item.fact.subject_ref, data=item.fact)
                add_event(self.session, dataset.topic, key=item.fact.key, event=event, bulk=bulk)
                if item.fact.subject_ref:
                    subjects.add(item.fact.subject_ref)
            await self.session.run_sync(flush_before_commit)  # the chunk's events, written now
            batch.accepted_count += len(accepted)
            rejected += [RejectedRecord(index=c.record.record_index, errors=c.errors) for c in checked if c.errors]
        batch.rejected_count = batch.record_count - batch.accepted_count
        # Last, so the audit chain's head is locked for as short a time as can be.
        await self.audit.append(
            Exchange(
                client_id=caller.client_id,
                request_id=caller.request_id,
                agency=dataset.agency,
                action=AuditAction.push,
                dataset=dataset.code,
                purpose=f"inbound: {dataset.title}",
                records=batch.record_count,
                subjects=subjects,
            )
        )
        count_records(
            self.session, dataset.agency, dataset.name, accepted=batch.accepted_count, rejected=batch.rejected_count
        )
        return BatchReceipt(
            batch_id=batch_id,
            agency=dataset.agency,
            dataset=dataset.name,
            record_count=batch.record_count,
            accepted=batch.accepted_count,
            rejected=rejected,
        )

    def _check(self, dataset: AnyDataset, batch_id: uuid.UUID, index: int, raw: RawRecord) -> _Checked:
        masked = dataset.masked_subject(raw.value)
        result = [FieldError(message=raw.problem)] if raw.problem else dataset.validate_record(raw.value)
        if isinstance(result, list):
            row = NewRecord(
                record_index=index,
                outcome="rejected",
                id_number_masked=masked,
                errors=[error.model_dump() for error in result],
            )
            return _Checked(row, None, result)
        fact = dataset.fact_for(result, subject_key=self.subject_key, batch_id=batch_id, record_index=index)
        retained = dataset.retained.row(result, fact, self.subject_key) if dataset.retained is not None else None
        row = NewRecord(
            record_index=index,
            outcome="accepted",
            id_number_masked=masked,
            subject_ref=fact.subject_ref,
            fact_key=fact.key,
            fact_id=fact.fact_id,
        )
        return _Checked(row, fact, [], retained)

    async def read(
        self, caller: Caller, batch_id: uuid.UUID, *, outcome: Outcome | None, limit: int, cursor: str | None
    ) -> BatchRead:
        """A batch and one page of its record outcomes, to a caller who may see it (others are told
        it is not found, so they do not learn it exists)."""
        if not (caller.has(Scope.sharing_read) or caller.has(Scope.sharing_submit)):
            raise Forbidden(
                f"this operation needs the scope '{Scope.sharing_read}'", required_scope=Scope.sharing_read.value
            )
        batch = await self.repo.get(batch_id)
        if batch is None or not self._may_read(caller, batch):
            raise BatchNotFound(f"no batch {batch_id}")
        page, next_cursor = await self.repo.records(batch_id, outcome=outcome, limit=limit, cursor=cursor)
        return BatchRead(
            batch_id=batch.id,
            agency=Agency(batch.agency),
            dataset=batch.dataset,
            content_type=batch.content_type,
            submitted_by=batch.submitted_by,
            received_at=batch.received_at,
            record_count=batch.record_count,
            accepted_count=batch.accepted_count,
            rejected_count=batch.rejected_count,
            records=[_outcome(row) for row in page],
            next_cursor=next_cursor,
        )

    def _may_read(self, caller: Caller, batch: SharingBatch) -> bool:
        """The pushing agency's keys and admin read any of its batches; other sharing:read keys read
        batches of datasets that are not sensitive (a dataset no longer declared counts as sensitive)."""
        if Scope.admin in caller.scopes or caller.agency == batch.agency:
            return True
        dataset = self.catalog.find(batch.agency, batch.dataset)
        return caller.has(Scope.sharing_read) and dataset is not None and not dataset.sensitive


def _outcome(row: SharingRecord) -> RecordOutcome:
    return RecordOutcome(
        index=row.record_index,
        outcome="accepted" if row.outcome == "accepted" else "rejected",
        id_number_masked=row.id_number_masked,
        fact_id=row.fact_id,
        fact_key=row.fact_key,
        errors=[FieldError.model_validate(error) for error in row.errors or []],
    )
