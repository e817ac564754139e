"""Routes of the indicators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.kit.access import MonitoringReader
from services.kit.openapi import problems
from services.kit.text import SingleLine

from ..dependencies import IndicatorServiceDep
from ..problems import InvalidPeriod, PeriodInFuture
from .schemas import IndicatorsRead

router = APIRouter(prefix="/registry/v1", tags=["indicators"])


@router.get(
    "/indicators",
    summary="The plan's indicators for a year or a month, against the yearly targets",
    description=(
        "`new_urban_jobs`, `registered_unemployed`, `registered_urban_unemployment_rate`, `new_entrepreneurs` "
        "and `trained` for the district or one `town`, each with its year's target (REGISTRY_INDICATOR_TARGETS; "
        "the plan's figures by default) and the share reached. Read with `monitoring:read` or `registry:read`."
    ),
    responses=problems(InvalidPeriod, PeriodInFuture),
)
async def read_indicators(
    caller: MonitoringReader,
    indicators: IndicatorServiceDep,
    period: Annotated[str, Query(max_length=7, description="`YYYY` or `YYYY-MM`", examples=["2026", "2026-11"])],
    town: Annotated[SingleLine | None, Query(max_length=100, description="A town as persons record it")] = None,
) -> IndicatorsRead:
    return await indicators.read(period, town)
