"""Typed dependencies of the registry's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.db import SessionDep
from services.registry.employments.service import EmploymentService
from services.registry.persons.service import PersonService, PersonServiceFactory


async def person_service(request: Request, session: SessionDep) -> PersonService:
    persons: PersonServiceFactory = request.app.state.persons
    return persons(session)


PersonServiceDep = Annotated[PersonService, Depends(person_service)]


async def employment_service(persons: PersonServiceDep) -> EmploymentService:
    return EmploymentService(persons.session, persons)


EmploymentServiceDep = Annotated[EmploymentService, Depends(employment_service)]
