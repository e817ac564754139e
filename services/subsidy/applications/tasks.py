"""The background evaluator: judges submitted applications once the projections have caught up with
their submission (or once they waited `facts_wait_s`). Runs in every replica; a replica judges an
application only while it holds its row, and only if it is still `submitted`."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from fastapi import FastAPI

from services.kit.errors import is_infrastructure_error
from services.subsidy.applications.service import ApplicationService
from services.subsidy.settings import SubsidySettings

log = logging.getLogger(__name__)


# An application found still lacking what it names is passed over this long (most wait for an event
# that arrives within moments; the others for `facts_wait_s`).
RECHECK_S = 1.0


async def evaluate_submitted(app: FastAPI) -> None:
    settings: SubsidySettings = app.state.settings
    lacking: dict[uuid.UUID, float] = {}
    while True:
        try:
            now = time.monotonic()
            for application_id in [a for a, until in lacking.items() if until <= now]:
                del lacking[application_id]
            async with app.state.db.sessionmaker() as session, session.begin():
                service = ApplicationService(
                    session, settings, app.state.clock, app.state.catalogue, app.state.db, app.state.consistency
                )
                done = await service.evaluate_submitted(skip=set(lacking))
            lacking.update((application_id, now + RECHECK_S) for application_id in done.lacking)
            judged = done.judged
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_infrastructure_error(exc):
                log.warning("evaluator waits for the database", extra={"error": repr(exc)[:200]})
            else:
                log.exception("evaluator round failed")
            judged = 0
            await asyncio.sleep(1.0)
        if judged == 0:
            await asyncio.sleep(settings.evaluation_interval_s)
