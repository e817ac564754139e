"""Routes of warnings: operators list them and close them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from contracts.monitoring import EmploymentWarning, WarningLevel, WarningStatus
from services.kit.access import MonitoringReader, MonitoringWriter
from services.kit.openapi import problems
from services.kit.pagination import CursorQuery, LimitQuery

from ..dependencies import WarningServiceDep
from ..problems import WarningNotFound
from .schemas import WarningClose, WarningPage

router = APIRouter(prefix="/registry/v1/warnings", tags=["warnings"])


@router.get(
    "",
    summary="Large-scale unemployment warnings, oldest first",
    description="Filter by `level` and `status` (`open` lists what operators still have to act on).",
)
async def list_warnings(
    caller: MonitoringReader,
    warnings: WarningServiceDep,
    level: WarningLevel | None = None,
    status: WarningStatus | None = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> WarningPage:
    return await warnings.page(level=level, status=status, limit=limit, cursor=cursor)


@router.post(
    "/{warning_id}/close",
    summary="Close a warning (monitoring:write)",
    description="Publishes `monitoring.warning.closed`; closing a closed warning changes nothing.",
    responses=problems(WarningNotFound),
)
async def close_warning(
    warning_id: uuid.UUID, body: WarningClose, caller: MonitoringWriter, warnings: WarningServiceDep
) -> EmploymentWarning:
    return await warnings.close(caller, warning_id, body.note)
