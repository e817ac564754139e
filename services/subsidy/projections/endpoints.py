"""Routes that show the projection, so a caseworker sees the facts a decision will use."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from services.kit.db import SessionDep
from services.kit.errors import NotFound
from services.kit.identity import Caller, require_scope
from services.subsidy.projections.repository import ProjectionRepository
from services.subsidy.projections.schemas import BeneficiaryRead, ProjectedEmploymentRead

router = APIRouter(prefix="/subsidy/v1", tags=["beneficiaries"])

Reader = Annotated[Caller, Depends(require_scope("subsidy:read"))]


@router.get(
    "/beneficiaries/{person_id}",
    response_model=BeneficiaryRead,
    summary="What this service knows of a person from the registry's events",
    description="The projection lags the registry by the time an event takes to cross the broker; "
    "`version` tells which registry snapshot it holds.",
)
async def read_beneficiary(person_id: uuid.UUID, _: Reader, session: SessionDep) -> BeneficiaryRead:
    repository = ProjectionRepository(session)
    person = await repository.person(person_id)
    if person is None:
        raise NotFound(f"no registry event about person {person_id} has arrived", slug="unknown-beneficiary")
    snapshot = person.snapshot
    return BeneficiaryRead(
        person_id=person.person_id,
        version=person.version,
        status=snapshot["status"],
        deceased_on=person.deceased_on,
        difficulty_categories=snapshot["difficulty_categories"],
        employments=[
            ProjectedEmploymentRead(
                employment_id=e.employment_id,
                employer_credit_code=e.employer_credit_code,
                kind=e.snapshot["kind"],
                started_on=e.snapshot["started_on"],
                ended_on=e.snapshot.get("ended_on"),
                contribution_months=len(e.snapshot.get("contribution_months", [])),
                version=e.version,
            )
            for e in await repository.employments_of(person_id)
        ],
        updated_at=person.updated_at,
    )
