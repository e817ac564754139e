"""Typed dependencies of the subsidy service's routes: one service object per request session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.db import SessionDep
from services.subsidy.applications.service import ApplicationService
from services.subsidy.budgets.service import BudgetService
from services.subsidy.payments.service import PaymentService
from services.subsidy.settings import SubsidySettings


def _settings(request: Request) -> SubsidySettings:
    settings: SubsidySettings = request.app.state.settings
    return settings


async def application_service(request: Request, session: SessionDep) -> ApplicationService:
    return ApplicationService(session, _settings(request))


async def budget_service(request: Request, session: SessionDep) -> BudgetService:
    return BudgetService(session, _settings(request))


async def payment_service(request: Request, session: SessionDep) -> PaymentService:
    return PaymentService(session, _settings(request))


ApplicationServiceDep = Annotated[ApplicationService, Depends(application_service)]
BudgetServiceDep = Annotated[BudgetService, Depends(budget_service)]
PaymentServiceDep = Annotated[PaymentService, Depends(payment_service)]
