"""Routes of statistics reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from contracts.statistics import StatisticsReport
from services.kit.access import StatisticsReader
from services.kit.fields import Month
from services.kit.openapi import problems

from ..dependencies import ReportServiceDep
from ..problems import PeriodBeforeRecords, PeriodInFuture
from .schemas import REPORT_EXAMPLE

router = APIRouter(prefix="/sharing/v1/statistics", tags=["statistics"])


@router.get(
    "/reports",
    summary="A month's statistics report (aggregates only)",
    description=(
        "Per town: registered unemployed (on the month's last day), new employments, separations, trainings "
        "completed, and persons per difficulty category (sensitive ones never broken out), with district "
        "totals. Cells below 5 are suppressed (`value: null, suppressed: true`), and enough others that no "
        "suppressed value can be worked out from the totals. A closed month's report is `final`: produced "
        "once when the month closes (bureau time) and published on `sharing.statistics-report.v1`; the "
        "current month's is a `draft`, computed on each request. Every delivery is audited. A period that "
        "has not begun is `period-in-future`, one before the first month the platform reports on "
        "(`SHARING_STATISTICS_FIRST_PERIOD`) `period-before-records`."
    ),
    responses={**problems(PeriodInFuture, PeriodBeforeRecords), **REPORT_EXAMPLE},
)
async def read_report(
    caller: StatisticsReader,
    reports: ReportServiceDep,
    period: Annotated[Month, Query(description="`YYYY-MM`")],
) -> StatisticsReport:
    return await reports.read(caller, period)
