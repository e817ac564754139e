"""Request dependencies of the sharing service, as typed aliases: the one place in the service
that reads `request.app.state` (app.py sets it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.clock import ClockDep
from services.kit.db import SessionDep

from .agreements.service import AgreementService
from .audit.service import AuditLog
from .batches.parsing import Limits
from .batches.service import BatchService
from .queries.service import QueryService
from .sealing import BatchSealer
from .settings import SharingSettings
from .statistics.service import ReportService
from .verification.service import VerificationService


async def get_settings(request: Request) -> SharingSettings:
    settings = request.app.state.settings
    assert isinstance(settings, SharingSettings)
    return settings


SettingsDep = Annotated[SharingSettings, Depends(get_settings)]


async def get_batch_service(session: SessionDep, settings: SettingsDep, clock: ClockDep) -> BatchService:
    """Batches in the request's transaction, with the service's keys, limits and clock."""
    return BatchService(
        session,
        sealer=BatchSealer(settings.batch_key_bytes),
        subject_key=settings.subject_key_bytes,
        limits=Limits(
            max_records=settings.max_batch_records,
            max_bytes=settings.max_batch_bytes,
            bulk_records=settings.bulk_push_records,
        ),
        clock=clock,
    )


BatchServiceDep = Annotated[BatchService, Depends(get_batch_service)]


async def get_audit_log(session: SessionDep, clock: ClockDep) -> AuditLog:
    return AuditLog(session, clock)


AuditLogDep = Annotated[AuditLog, Depends(get_audit_log)]


async def get_agreement_service(session: SessionDep, clock: ClockDep) -> AgreementService:
    return AgreementService(session, clock)


AgreementServiceDep = Annotated[AgreementService, Depends(get_agreement_service)]


async def get_query_service(session: SessionDep, settings: SettingsDep, clock: ClockDep) -> QueryService:
    return QueryService(session, clock, settings.subject_key_bytes)


QueryServiceDep = Annotated[QueryService, Depends(get_query_service)]


async def get_verification_service(session: SessionDep, settings: SettingsDep, clock: ClockDep) -> VerificationService:
    return VerificationService(session, clock, settings.subject_key_bytes)


VerificationServiceDep = Annotated[VerificationService, Depends(get_verification_service)]


async def get_report_service(session: SessionDep, settings: SettingsDep, clock: ClockDep) -> ReportService:
    return ReportService(
        session,
        clock,
        threshold=settings.statistics_threshold,
        close_grace_s=settings.statistics_close_grace_s,
        first_period=settings.statistics_first_period,
    )


ReportServiceDep = Annotated[ReportService, Depends(get_report_service)]
