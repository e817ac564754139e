"""Business rules of identity verification: public security's latest identity record decides; the
answer is `{match, deceased}` and nothing more, and every check is audited.

Sharing keeps no name: only a keyed digest of (id number, name) per person (`identity_name_digest`), written
when an identity record is accepted. A check computes the same digest and compares. Whether a person
has died is told only to a caller who already knows their name."""

from __future__ import annotations

import hmac

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.vocabulary import Agency
from services.kit.clock import Clock
from services.kit.identifiers import identity_name_digest, subject_ref
from services.kit.identity import Caller

from ..audit.schemas import AuditAction
from ..audit.service import AuditLog, Exchange
from ..tables import SharingIdentity
from .schemas import IdentityCheck, IdentityVerdict

IDENTITY_DATASET = f"{Agency.public_security}/identity"
PURPOSE = "identity verification 身份核验"


class VerificationService:
    def __init__(self, session: AsyncSession, clock: Clock, subject_key: bytes) -> None:
        self.session = session
        self.clock = clock
        self.subject_key = subject_key
        self.audit = AuditLog(session, clock)

    async def verify(self, caller: Caller, check: IdentityCheck) -> IdentityVerdict:
        ref = subject_ref(self.subject_key, check.id_number)
        record = await self.session.get(SharingIdentity, ref)
        match = record is not None and hmac.compare_digest(
            record.name_digest, identity_name_digest(self.subject_key, check.id_number, check.name)
        )
        deceased = match and record is not None and record.deceased_on is not None
        await self.audit.append(
            Exchange(
                client_id=caller.client_id,
                request_id=caller.request_id,
                agency=caller.agency,
                action=AuditAction.verify,
                dataset=IDENTITY_DATASET,
                purpose=PURPOSE,
                records=1,
                subjects=[ref],
            )
        )
        return IdentityVerdict(match=match, deceased=deceased)
