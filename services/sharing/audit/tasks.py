"""Background work of the audit log: the chain recomputed at start-up and every
`audit_verify_interval_s`, so its gauges (and the AuditChainBroken alert) always speak of it."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.kit.db import Database

from ..settings import SharingSettings
from .service import AuditLog

log = logging.getLogger(__name__)


async def verify_periodically(app: FastAPI) -> None:
    db: Database = app.state.db
    settings: SharingSettings = app.state.settings
    while True:
        try:
            async with db.sessionmaker() as session:
                result = await AuditLog(session, app.state.clock).verify()
            if not result.valid:
                log.error("audit chain broken", extra={"first_bad_seq": result.first_bad_seq})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("audit chain verification failed; retrying")
        await asyncio.sleep(settings.audit_verify_interval_s)
