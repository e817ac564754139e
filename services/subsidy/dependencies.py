"""Typed dependencies of the subsidy service's routes: its settings, its clock, and one service
object per request session. The only module that reads `app.state`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.clock import ClockDep
from services.kit.db import SessionDep
from services.subsidy.applications.service import ApplicationService
from services.subsidy.budgets.service import BudgetService
from services.subsidy.payments.service import PaymentService
from services.subsidy.projections.repository import ProjectionRepository
from services.subsidy.settings import SubsidySettings


async def subsidy_settings(request: Request) -> SubsidySettings:
    settings: SubsidySettings = request.app.state.settings
    return settings


SettingsDep = Annotated[SubsidySettings, Depends(subsidy_settings)]


async def application_service(session: SessionDep, settings: SettingsDep, clock: ClockDep) -> ApplicationService:
    return ApplicationService(session, settings, clock)


async def budget_service(session: SessionDep, settings: SettingsDep) -> BudgetService:
    return BudgetService(session, settings)


async def payment_service(session: SessionDep, settings: SettingsDep, clock: ClockDep) -> PaymentService:
    return PaymentService(session, settings, clock)


async def projection_repository(session: SessionDep) -> ProjectionRepository:
    return ProjectionRepository(session)


ApplicationServiceDep = Annotated[ApplicationService, Depends(application_service)]
BudgetServiceDep = Annotated[BudgetService, Depends(budget_service)]
PaymentServiceDep = Annotated[PaymentService, Depends(payment_service)]
ProjectionRepositoryDep = Annotated[ProjectionRepository, Depends(projection_repository)]
