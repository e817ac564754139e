"""Routes that show the projection, so a caseworker sees the facts a decision will use."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from contracts.registry import EmploymentSnapshot, PersonSnapshot
from services.kit.access import SubsidyReader
from services.kit.openapi import problems
from services.subsidy.dependencies import ProjectionRepositoryDep
from services.subsidy.problems import BeneficiaryNotFound
from services.subsidy.projections.schemas import BeneficiaryRead, ProjectedEmploymentRead

router = APIRouter(prefix="/subsidy/v1", tags=["beneficiaries"])


@router.get(
    "/beneficiaries/{person_id}",
    response_model=BeneficiaryRead,
    summary="What this service knows of a person from the registry's events",
    description="The projection lags the registry by the time an event takes to cross the broker; "
    "`version` tells which registry snapshot it holds.",
    responses=problems(BeneficiaryNotFound),
)
async def read_beneficiary(
    person_id: uuid.UUID, _: SubsidyReader, projection: ProjectionRepositoryDep
) -> BeneficiaryRead:
    person = await projection.person(person_id)
    if person is None:
        raise BeneficiaryNotFound(
            f"no registry event about person {person_id} has arrived", beneficiary_person_id=str(person_id)
        )
    snapshot = PersonSnapshot.model_validate(person.snapshot)
    employments = [
        (row, EmploymentSnapshot.model_validate(row.snapshot)) for row in await projection.employments_of(person_id)
    ]
    return BeneficiaryRead(
        person_id=person.person_id,
        version=person.version,
        status=snapshot.status,
        deceased_on=person.deceased_on,
        town=snapshot.town,
        graduated_on=snapshot.graduated_on,
        difficulty_categories=snapshot.difficulty_categories,
        trainings=snapshot.trainings,
        employments=[
            ProjectedEmploymentRead(
                employment_id=row.employment_id,
                employer_credit_code=row.employer_credit_code,
                kind=employment.kind,
                started_on=employment.started_on,
                ended_on=employment.ended_on,
                contribution_months=len(employment.contribution_months),
                version=row.version,
            )
            for row, employment in employments
        ],
        updated_at=person.updated_at,
    )
