"""Business rules of outward queries: answered under a valid agreement of the caller's agency with its
fields only, refused (403) otherwise; either way audited in the request's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import Clock
from services.kit.identifiers import mask_id_number, subject_ref
from services.kit.identity import Caller

from ..agreements.service import AgreementService, Refusal
from ..audit.schemas import AuditAction, AuditOutcome
from ..audit.service import AuditLog, Exchange
from ..problems import NotAgreed
from .schemas import NotFoundSubject, QueryAnswer, QueryRequest


class QueryService:
    def __init__(self, session: AsyncSession, clock: Clock, subject_key: bytes) -> None:
        self.session = session
        self.clock = clock
        self.subject_key = subject_key
        self.agreements = AgreementService(session, clock)
        self.audit = AuditLog(session, clock)

    async def answer(self, caller: Caller, query: QueryRequest) -> QueryAnswer:
        usable = await self.agreements.usable(caller, query.agreement_id)
        if isinstance(usable, Refusal):
            await self.audit.append(
                Exchange(
                    client_id=caller.client_id,
                    request_id=caller.request_id,
                    agency=caller.agency,
                    action=AuditAction.query,
                    dataset=usable.dataset,
                    purpose=usable.purpose,
                    records=0,
                    outcome=AuditOutcome.refused,
                    reason=usable.reason,
                )
            )
            raise NotAgreed(usable.reason, agreement_id=str(query.agreement_id))
        agreement, dataset = usable
        refs = [subject_ref(self.subject_key, id_number) for id_number in query.id_numbers]
        known = await dataset.lookup(self.session, set(refs), self.clock.today())
        records = []
        not_found = []
        for index, (id_number, ref) in enumerate(zip(query.id_numbers, refs, strict=True)):
            record = known.get(ref)
            if record is None:
                not_found.append(NotFoundSubject(index=index, id_number_masked=mask_id_number(id_number)))
                continue
            records.append(
                {
                    "index": index,
                    "id_number_masked": mask_id_number(id_number),
                    **{name: record[name] for name in agreement.fields},
                }
            )
        await self.audit.append(
            Exchange(
                client_id=caller.client_id,
                request_id=caller.request_id,
                agency=caller.agency,
                action=AuditAction.query,
                dataset=dataset.code,
                purpose=agreement.purpose,
                records=len(records),
                subjects={ref for ref in refs if ref in known},
            )
        )
        return QueryAnswer(
            query_id=uuid.uuid4(),
            agreement_id=agreement.agreement_id,
            dataset=dataset.code,
            fields=list(agreement.fields),
            records=records,
            not_found=not_found,
        )
