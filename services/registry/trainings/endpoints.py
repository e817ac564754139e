"""Routes of trainings."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from services.kit.access import RegistryWriter
from services.kit.openapi import problems
from services.registry.dependencies import TrainingServiceDep
from services.registry.problems import DateInFuture, PersonDeceased, PersonNotFound, TrainingBeforeBirth
from services.registry.trainings.schemas import TrainingCreate, TrainingRead

router = APIRouter(prefix="/registry/v1", tags=["trainings"])


@router.post(
    "/persons/{person_id}/trainings",
    status_code=201,
    response_model=TrainingRead,
    summary="Record a completed training (培训); listed on the person and in their snapshot",
    responses=problems(PersonNotFound, DateInFuture, TrainingBeforeBirth, PersonDeceased),
)
async def record_training(
    person_id: uuid.UUID, body: TrainingCreate, _: RegistryWriter, service: TrainingServiceDep, response: Response
) -> TrainingRead:
    training = await service.record(person_id, body)
    response.headers["Location"] = f"/registry/v1/persons/{person_id}"
    return TrainingRead.model_validate(training, from_attributes=True)
