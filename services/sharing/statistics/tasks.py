"""Background work of statistics: when a month has closed (bureau time, and `statistics_close_grace_s`
after), its final report is produced, kept and published; checked at start-up and every
`statistics_interval_s`. Replicas may race: the report kept first is the one, published once."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.kit.db import Database

from ..settings import SharingSettings
from .service import ReportService, previous_month

log = logging.getLogger(__name__)


async def publish_closed_months(app: FastAPI) -> None:
    db: Database = app.state.db
    settings: SharingSettings = app.state.settings
    while True:
        try:
            period = previous_month(app.state.clock.today())
            async with db.sessionmaker() as session, session.begin():
                reports = ReportService(
                    session,
                    app.state.clock,
                    threshold=settings.statistics_threshold,
                    close_grace_s=settings.statistics_close_grace_s,
                    first_period=settings.statistics_first_period,
                )
                if reports.closed(period):
                    await reports.final(period)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("statistics report of the closed month failed; retrying")
        await asyncio.sleep(settings.statistics_interval_s)
