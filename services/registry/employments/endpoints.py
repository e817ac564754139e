"""Routes of employment registration and social-insurance months."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from services.kit.access import RegistryReader, RegistryWriter
from services.kit.openapi import problems
from services.registry.dependencies import EmploymentServiceDep
from services.registry.employments.schemas import (
    ContributionsCreate,
    ContributionsRecorded,
    EmploymentCreate,
    EmploymentEnd,
    EmploymentRead,
)
from services.registry.employments.service import EmploymentService
from services.registry.problems import (
    DateBeforeBirth,
    DateInFuture,
    EmploymentBeforeRegistration,
    EmploymentEnded,
    EmploymentNotFound,
    EndBeforeStart,
    MonthOutsideEmployment,
    PersonDeceased,
    PersonNotFound,
)
from services.registry.tables import Employment

router = APIRouter(prefix="/registry/v1", tags=["employments"])


async def to_read(employment: Employment, service: EmploymentService) -> EmploymentRead:
    snapshot = await service.snapshot(employment)
    return EmploymentRead(
        **snapshot.model_dump(exclude={"version"}), version=employment.version, created_at=employment.created_at
    )


@router.post(
    "/persons/{person_id}/employments",
    status_code=201,
    response_model=EmploymentRead,
    summary="Record an employment; closes the open unemployment registration",
    responses=problems(PersonNotFound, PersonDeceased, DateInFuture, DateBeforeBirth, EmploymentBeforeRegistration),
)
async def record_employment(
    person_id: uuid.UUID, body: EmploymentCreate, _: RegistryWriter, service: EmploymentServiceDep, response: Response
) -> EmploymentRead:
    employment = await service.record(person_id, body)
    response.headers["Location"] = f"/registry/v1/employments/{employment.employment_id}"
    return await to_read(employment, service)


@router.get(
    "/employments/{employment_id}",
    response_model=EmploymentRead,
    summary="Read an employment",
    responses=problems(EmploymentNotFound),
)
async def read_employment(employment_id: uuid.UUID, _: RegistryReader, service: EmploymentServiceDep) -> EmploymentRead:
    return await to_read(await service.get(employment_id), service)


@router.post(
    "/employments/{employment_id}/end",
    response_model=EmploymentRead,
    summary="End an employment",
    responses=problems(EmploymentNotFound, EmploymentEnded, EndBeforeStart, DateInFuture),
)
async def end_employment(
    employment_id: uuid.UUID, body: EmploymentEnd, _: RegistryWriter, service: EmploymentServiceDep
) -> EmploymentRead:
    return await to_read(await service.end(employment_id, body.ended_on, body.reason), service)


@router.post(
    "/employments/{employment_id}/contributions",
    response_model=ContributionsRecorded,
    summary="Record social-insurance months paid in an employment; a month on record changes nothing",
    responses=problems(EmploymentNotFound, MonthOutsideEmployment),
)
async def record_contributions(
    employment_id: uuid.UUID, body: ContributionsCreate, _: RegistryWriter, service: EmploymentServiceDep
) -> ContributionsRecorded:
    return await service.record_contributions(employment_id, body)
