"""Routes of people and unemployment registration."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from contracts.vocabulary import SENSITIVE_CATEGORIES, Scope
from services.kit.access import RegistryReader, RegistryWriter
from services.kit.errors import Forbidden
from services.kit.fields import IdNumber
from services.kit.identity import Caller
from services.kit.openapi import problems
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.registry.dependencies import PersonReaderDep, PersonServiceDep
from services.registry.persons.categories import age_on
from services.registry.persons.schemas import (
    PersonCreate,
    PersonRead,
    UnemploymentRegistrationCreate,
    UnemploymentRegistrationRead,
)
from services.registry.persons.service import PersonService, PersonState
from services.registry.problems import (
    AlreadyRegisteredUnemployed,
    DateBeforeBirth,
    DateInFuture,
    EmploymentOpen,
    PersonDeceased,
    PersonExists,
    PersonNotFound,
    RegistrationBeforeEmployment,
    RegistrationBeforeLastRegistration,
)
from services.registry.tables import UnemploymentRegistration

router = APIRouter(prefix="/registry/v1", tags=["persons"])


def to_read(state: PersonState, caller: Caller, service: PersonService, reveal: bool = False) -> PersonRead:
    person = state.person
    sensitive = caller.has(Scope.registry_sensitive)
    return PersonRead(
        person_id=person.person_id,
        id_number_masked=person.id_number_masked,
        id_number=service.reveal_id_number(person) if reveal else None,
        name=person.name,
        phone=person.phone,
        gender=person.gender,
        birth_year=person.birth_date.year,
        age=age_on(person.birth_date, state.as_of),
        # The masked id number hides exactly the birth date: never both without the scope.
        birth_date=person.birth_date if sensitive else None,
        hukou_type=person.hukou_type,
        hukou_area_code=person.hukou_area_code,
        hukou_local=person.hukou_local,
        town=person.town,
        education=person.education,
        graduation_date=person.graduation_date,
        status=state.status,
        deceased_on=person.deceased_on,
        household_no=person.household_no,
        difficulty_categories=[c for c in state.categories if sensitive or c.category not in SENSITIVE_CATEGORIES],
        unemployment_registrations=state.registration_states(),
        trainings=state.training_states(),
        version=person.version,
        created_at=person.created_at,
        updated_at=person.updated_at,
    )


@router.post(
    "/persons",
    status_code=201,
    response_model=PersonRead,
    summary="Register a person",
    description=(
        "A second registration of the same id number is 409 `person-exists`; its `person_id` names the existing person."
    ),
    responses=problems(PersonExists),
)
async def register_person(
    body: PersonCreate, caller: RegistryWriter, service: PersonServiceDep, response: Response
) -> PersonRead:
    state = await service.register(body)
    response.headers["Location"] = f"/registry/v1/persons/{state.person.person_id}"
    return to_read(state, caller, service)


@router.get("/persons", response_model=Page[PersonRead], summary="List or find people")
async def list_persons(
    caller: RegistryReader,
    service: PersonReaderDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    id_number: Annotated[IdNumber | None, Query(description="Find one person by id number (blind index)")] = None,
) -> Page[PersonRead]:
    index = service.protector.blind_index(id_number) if id_number is not None else None
    people, next_cursor = await service.repo.persons_page(index=index, limit=limit, cursor=cursor)
    states = service.states_from_records(people)
    return Page[PersonRead](items=[to_read(s, caller, service) for s in states], next_cursor=next_cursor)


@router.get(
    "/persons/{person_id}",
    response_model=PersonRead,
    summary="Read a person",
    description=(
        "`reveal=id_number` also needs `registry:sensitive`: without it the answer is 403 `forbidden`, "
        "its `required_scope` naming the missing scope."
    ),
    responses=problems(PersonNotFound),
)
async def read_person(
    person_id: uuid.UUID,
    caller: RegistryReader,
    service: PersonReaderDep,
    reveal: Annotated[
        Literal["id_number"] | None, Query(description="`id_number` shows the full id number (registry:sensitive)")
    ] = None,
) -> PersonRead:
    if reveal is not None and not caller.has(Scope.registry_sensitive):
        raise Forbidden(
            "revealing the id number needs the scope 'registry:sensitive'", required_scope="registry:sensitive"
        )
    state = await service.read(person_id)
    return to_read(state, caller, service, reveal=reveal is not None)


@router.post(
    "/persons/{person_id}/unemployment-registrations",
    status_code=201,
    response_model=UnemploymentRegistrationRead,
    summary="Register a person as unemployed (失业登记)",
    responses=problems(
        PersonNotFound,
        PersonDeceased,
        EmploymentOpen,
        AlreadyRegisteredUnemployed,
        DateInFuture,
        DateBeforeBirth,
        RegistrationBeforeEmployment,
        RegistrationBeforeLastRegistration,
    ),
)
async def register_unemployment(
    person_id: uuid.UUID, body: UnemploymentRegistrationCreate, caller: RegistryWriter, service: PersonServiceDep
) -> UnemploymentRegistrationRead:
    registration: UnemploymentRegistration = await service.register_unemployment(person_id, body.registered_on)
    return UnemploymentRegistrationRead(
        registration_id=registration.registration_id,
        person_id=registration.person_id,
        registered_on=registration.registered_on,
        closed_on=registration.closed_on,
    )
