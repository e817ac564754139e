"""Typed dependencies of the subsidy service's routes: its settings, its clock, its programme
catalogue, and one service object per request session. The only module that reads `app.state`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.clock import ClockDep
from services.kit.db import Database, SessionDep
from services.subsidy.applications.consistency import Consistency
from services.subsidy.applications.service import ApplicationService
from services.subsidy.budgets.service import BudgetService
from services.subsidy.notices.service import NoticeService
from services.subsidy.payments.service import PaymentService
from services.subsidy.programmes.registry import Catalogue
from services.subsidy.projections.repository import ProjectionRepository
from services.subsidy.settings import SubsidySettings


async def subsidy_settings(request: Request) -> SubsidySettings:
    settings: SubsidySettings = request.app.state.settings
    return settings


async def programme_catalogue(request: Request) -> Catalogue:
    catalogue: Catalogue = request.app.state.catalogue
    return catalogue


async def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def consistency(request: Request) -> Consistency:
    value: Consistency = request.app.state.consistency
    return value


SettingsDep = Annotated[SubsidySettings, Depends(subsidy_settings)]
CatalogueDep = Annotated[Catalogue, Depends(programme_catalogue)]
DatabaseDep = Annotated[Database, Depends(database)]
ConsistencyDep = Annotated[Consistency, Depends(consistency)]


async def application_service(
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    catalogue: CatalogueDep,
    db: DatabaseDep,
    consistency: ConsistencyDep,
) -> ApplicationService:
    return ApplicationService(session, settings, clock, catalogue, db, consistency)


async def budget_service(session: SessionDep, catalogue: CatalogueDep) -> BudgetService:
    return BudgetService(session, catalogue)


async def payment_service(
    session: SessionDep, settings: SettingsDep, clock: ClockDep, catalogue: CatalogueDep
) -> PaymentService:
    return PaymentService(session, settings, clock, catalogue)


async def notice_service(session: SessionDep, settings: SettingsDep, clock: ClockDep) -> NoticeService:
    return NoticeService(session, settings, clock)


async def projection_repository(session: SessionDep) -> ProjectionRepository:
    return ProjectionRepository(session)


ApplicationServiceDep = Annotated[ApplicationService, Depends(application_service)]
BudgetServiceDep = Annotated[BudgetService, Depends(budget_service)]
PaymentServiceDep = Annotated[PaymentService, Depends(payment_service)]
NoticeServiceDep = Annotated[NoticeService, Depends(notice_service)]
ProjectionRepositoryDep = Annotated[ProjectionRepository, Depends(projection_repository)]
