"""Business rules of agreements: deny by default; an outward agreement names an outward dataset's
fields for one consumer agency and a validity; inbound agreements are the dataset catalogue's
declarations (which agency pushes which dataset), recorded so they list with the others."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.vocabulary import Agency
from services.kit.clock import Clock
from services.kit.db import utcnow
from services.kit.identity import Caller

from ..datasets.catalog import CATALOG, Catalog
from ..outward.catalog import OUTWARD
from ..outward.declaration import OutwardDataset
from ..problems import AgreementDeclared, AgreementNotFound, InvalidAgreement
from ..tables import SharingAgreement
from .repository import AgreementRepository
from .schemas import AgreementCreate, AgreementPage, AgreementRead, AgreementStatus, Direction

# Inbound agreements get the same id on every replica and every start: uuid5 of the dataset's code.
INBOUND_NAMESPACE = uuid.UUID("5b0c3a52-2f0e-4d0a-9a55-8d1f1c9e2b11")
CATALOGUE_CLIENT = "dataset-catalogue"


def inbound_agreement_id(dataset_code: str) -> uuid.UUID:
    return uuid.uuid5(INBOUND_NAMESPACE, dataset_code)


@dataclass(frozen=True)
class Refusal:
    """Why a query may not be answered, and what it asked for as far as the caller may know."""

    reason: str
    dataset: str = "unknown"
    purpose: str = "unknown"


def status_of(agreement: SharingAgreement, today: date) -> AgreementStatus:
    if agreement.revoked_at is not None:
        return AgreementStatus.revoked
    if agreement.valid_from is not None and today < agreement.valid_from:
        return AgreementStatus.not_yet_valid
    if agreement.valid_until is not None and today > agreement.valid_until:
        return AgreementStatus.expired
    return AgreementStatus.active


class AgreementService:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        self.repo = AgreementRepository(session)

    async def create(self, caller: Caller, body: AgreementCreate) -> AgreementRead:
        dataset = OUTWARD.get(body.dataset)
        if dataset is None:
            raise InvalidAgreement(
                f"{body.dataset!r} is not shared outward; outward datasets: {', '.join(sorted(OUTWARD))} "
                "(what agencies push to the bureau is declared by the dataset catalogue)",
                outward_datasets=sorted(OUTWARD),
            )
        if body.consumer_agency == Agency.statistics:
            raise InvalidAgreement(
                "the statistics bureau receives aggregates only (statistics reports), never personal data"
            )
        unknown = [name for name in body.fields if name not in dataset.fields]
        if unknown:
            raise InvalidAgreement(
                f"{dataset.code} has no field {', '.join(map(repr, unknown))}; its fields: {', '.join(dataset.fields)}",
                dataset_fields=list(dataset.fields),
            )
        today = self.clock.today()
        if body.valid_until < today:
            raise InvalidAgreement(f"valid_until {body.valid_until} has passed (today is {today})")
        agreement = SharingAgreement(
            agreement_id=uuid.uuid4(),
            direction=Direction.outward.value,
            provider_agency=dataset.agency.value,
            consumer_agency=body.consumer_agency.value,
            dataset=dataset.code,
            fields=list(body.fields),
            purpose=body.purpose,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            created_by=caller.client_id[:255],
            created_at=utcnow(),
        )
        self.repo.add(agreement)
        await self.session.flush()
        return self.read(agreement)

    async def get(self, agreement_id: uuid.UUID) -> AgreementRead:
        agreement = await self.repo.get(agreement_id)
        if agreement is None:
            raise AgreementNotFound(f"no agreement {agreement_id}")
        return self.read(agreement)

    async def page(
        self,
        *,
        direction: Direction | None,
        consumer_agency: Agency | None,
        dataset: str | None,
        limit: int,
        cursor: str | None,
    ) -> AgreementPage:
        rows, next_cursor = await self.repo.page(
            direction=direction.value if direction else None,
            consumer_agency=consumer_agency.value if consumer_agency else None,
            dataset=dataset,
            limit=limit,
            cursor=cursor,
        )
        return AgreementPage(items=[self.read(row) for row in rows], next_cursor=next_cursor)

    async def revoke(self, agreement_id: uuid.UUID) -> AgreementRead:
        """Ends an outward agreement at once; revoking one twice keeps the first revocation."""
        agreement = await self.repo.get(agreement_id, for_update=True)
        if agreement is None:
            raise AgreementNotFound(f"no agreement {agreement_id}")
        if agreement.direction == Direction.inbound:
            raise AgreementDeclared(
                f"{agreement.dataset} is declared in the dataset catalogue; an inbound agreement changes with it"
            )
        if agreement.revoked_at is None:
            agreement.revoked_at = utcnow()
            await self.session.flush()
        return self.read(agreement)

    async def usable(
        self, caller: Caller, agreement_id: uuid.UUID
    ) -> tuple[SharingAgreement, OutwardDataset] | Refusal:
        """The agreement and its dataset when the caller's agency may query under it today; else why
        not. An agreement of another agency is reported as not found, so its existence does not leak."""
        agreement = await self.repo.get(agreement_id)
        if agreement is None or agreement.consumer_agency != caller.agency or agreement.direction != Direction.outward:
            return Refusal(f"agency {caller.agency!r} has no agreement {agreement_id}")
        dataset = OUTWARD.get(agreement.dataset)
        status = status_of(agreement, self.clock.today())
        reason = {
            AgreementStatus.revoked: f"agreement {agreement_id} was revoked",
            AgreementStatus.not_yet_valid: f"agreement {agreement_id} is valid from {agreement.valid_from}",
            AgreementStatus.expired: f"agreement {agreement_id} expired after {agreement.valid_until}",
        }.get(status)
        if dataset is None:
            reason = f"agreement {agreement_id} names {agreement.dataset}, which is no longer shared"
        if reason is not None or dataset is None:
            return Refusal(reason or "", agreement.dataset, agreement.purpose)
        return agreement, dataset

    def read(self, agreement: SharingAgreement) -> AgreementRead:
        """The row as the API shows it, with its status on the bureau's today."""
        return AgreementRead.model_validate(
            {**agreement.model_dump(), "status": status_of(agreement, self.clock.today())}
        )


async def record_inbound_agreements(session: AsyncSession, catalog: Catalog = CATALOG) -> None:
    """The catalogue's declarations as inbound agreements: `agency` pushes `dataset` to the bureau."""
    now = utcnow()
    await AgreementRepository(session).put_inbound(
        [
            {
                "agreement_id": inbound_agreement_id(dataset.code),
                "direction": Direction.inbound.value,
                "provider_agency": dataset.agency.value,
                "consumer_agency": Agency.hrss.value,
                "dataset": dataset.code,
                "fields": list(dataset.fields),
                "purpose": f"inbound: {dataset.title}",
                "valid_from": None,
                "valid_until": None,
                "created_by": CATALOGUE_CLIENT,
                "created_at": now,
            }
            for dataset in catalog
        ]
    )
