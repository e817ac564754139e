"""Request dependencies of the sharing service, as typed aliases: the one place in the service
that reads `request.app.state` (app.py sets it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.clock import ClockDep
from services.kit.db import SessionDep

from .batches.parsing import Limits
from .batches.service import BatchService
from .sealing import BatchSealer
from .settings import SharingSettings


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
        limits=Limits(max_records=settings.max_batch_records, max_bytes=settings.max_batch_bytes),
        clock=clock,
    )


BatchServiceDep = Annotated[BatchService, Depends(get_batch_service)]
