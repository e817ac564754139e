"""Typed dependencies of the registry's routes: the only place that reads the app's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import ClockDep
from services.kit.db import ReadSessionDep, SessionDep
from services.registry.employments.service import EmploymentService
from services.registry.indicators.service import IndicatorService
from services.registry.persons.service import PersonService, PersonServiceFactory
from services.registry.settings import RegistrySettings
from services.registry.trainings.service import TrainingService
from services.registry.warnings.service import WarningService


async def registry_settings(request: Request) -> RegistrySettings:
    settings: RegistrySettings = request.app.state.settings
    return settings


SettingsDep = Annotated[RegistrySettings, Depends(registry_settings)]


def _persons(request: Request, session: AsyncSession) -> PersonService:
    persons: PersonServiceFactory = request.app.state.persons
    return persons(session)


async def person_service(request: Request, session: SessionDep) -> PersonService:
    return _persons(request, session)


PersonServiceDep = Annotated[PersonService, Depends(person_service)]


async def person_reader(request: Request, session: ReadSessionDep) -> PersonService:
    """A PersonService for routes that only read (no transaction: see `ReadSessionDep`); a write
    through it raises."""
    return _persons(request, session)


PersonReaderDep = Annotated[PersonService, Depends(person_reader)]


async def employment_service(persons: PersonServiceDep, settings: SettingsDep) -> EmploymentService:
    warnings = WarningService(persons.session, tiers=settings.warning_tiers, window_days=settings.warning_window_days)
    return EmploymentService(persons.session, persons, warnings)


EmploymentServiceDep = Annotated[EmploymentService, Depends(employment_service)]


async def training_service(persons: PersonServiceDep) -> TrainingService:
    return TrainingService(persons)


TrainingServiceDep = Annotated[TrainingService, Depends(training_service)]


async def indicator_service(session: ReadSessionDep, settings: SettingsDep, clock: ClockDep) -> IndicatorService:
    return IndicatorService(session, clock, settings.indicator_targets)


IndicatorServiceDep = Annotated[IndicatorService, Depends(indicator_service)]


async def warning_service(session: SessionDep, settings: SettingsDep) -> WarningService:
    return WarningService(session, tiers=settings.warning_tiers, window_days=settings.warning_window_days)


WarningServiceDep = Annotated[WarningService, Depends(warning_service)]
