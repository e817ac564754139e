"""Routes of agreements: administrators make and revoke outward ones; sharing readers list them all."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from contracts.vocabulary import Agency
from services.kit.access import Admin, SharingReader
from services.kit.fields import DatasetCode
from services.kit.openapi import problems
from services.kit.pagination import CursorQuery, LimitQuery

from ..dependencies import AgreementServiceDep
from ..problems import AgreementDeclared, AgreementNotFound, InvalidAgreement
from .schemas import AgreementCreate, AgreementPage, AgreementRead, Direction

router = APIRouter(prefix="/sharing/v1/agreements", tags=["agreements"])


@router.post(
    "",
    status_code=201,
    summary="Make an outward agreement (admin)",
    description=(
        "Deny by default: an agency receives nothing of a dataset without a valid agreement, and with one "
        "only its fields. The statistics bureau receives aggregates only, so no agreement names it. "
        "`invalid-agreement` names what cannot be agreed: a dataset not shared outward, a field it does not "
        "have, the statistics bureau as consumer, or a validity that has already ended."
    ),
    responses=problems(InvalidAgreement),
)
async def create_agreement(
    body: AgreementCreate, response: Response, caller: Admin, agreements: AgreementServiceDep
) -> AgreementRead:
    agreement = await agreements.create(caller, body)
    response.headers["Location"] = f"/sharing/v1/agreements/{agreement.agreement_id}"
    return agreement


@router.get(
    "",
    summary="Agreements, outward and inbound",
    description="Oldest first. Inbound ones are the dataset catalogue's: which agency pushes which dataset.",
)
async def list_agreements(
    caller: SharingReader,
    agreements: AgreementServiceDep,
    direction: Direction | None = None,
    consumer_agency: Agency | None = None,
    dataset: Annotated[DatasetCode | None, Query(description="`agency/dataset`")] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> AgreementPage:
    return await agreements.page(
        direction=direction, consumer_agency=consumer_agency, dataset=dataset, limit=limit, cursor=cursor
    )


@router.get("/{agreement_id}", summary="An agreement", responses=problems(AgreementNotFound))
async def read_agreement(
    agreement_id: uuid.UUID, caller: SharingReader, agreements: AgreementServiceDep
) -> AgreementRead:
    return await agreements.get(agreement_id)


@router.post(
    "/{agreement_id}/revoke",
    summary="Revoke an outward agreement at once (admin)",
    description=(
        "Revoking one twice keeps the first revocation. An inbound agreement follows the dataset catalogue "
        "and is changed there, not revoked here: 409 `agreement-declared`."
    ),
    responses=problems(AgreementNotFound, AgreementDeclared),
)
async def revoke_agreement(agreement_id: uuid.UUID, caller: Admin, agreements: AgreementServiceDep) -> AgreementRead:
    return await agreements.revoke(agreement_id)
