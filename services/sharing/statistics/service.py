"""Business rules of statistics reports: a month's counts by town from sharing's projection of the
registry, small cells and the cells that would give them away suppressed, produced once as final
when the month has closed (bureau time) and published to the statistics bureau, or as a draft of
the current month on demand. Every delivery, published or read, is audited."""

from __future__ import annotations

import calendar
import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import new_event
from contracts.statistics import (
    STATISTICS_REPORT_PUBLISHED,
    ReportCell,
    ReportRow,
    ReportStatus,
    StatisticsReport,
    report_measures,
)
from contracts.topics import SHARING_STATISTICS_REPORT
from contracts.vocabulary import Agency
from services.kit.clock import BUREAU_TZ, Clock
from services.kit.identity import Caller
from services.kit.outbox import add_event

from ..audit.schemas import AuditAction
from ..audit.service import SERVICE_CLIENT, AuditLog, Exchange
from ..problems import PeriodBeforeRecords, PeriodInFuture
from ..tables import StatisticsReportRow
from .repository import StatisticsRepository
from .suppression import Cell, suppress

REPORT_DATASET = f"{Agency.hrss}/statistics_report"
REPORT_SOURCE = "/sharing"


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def previous_month(day: date) -> str:
    first = day.replace(day=1)
    return month_of(date.fromordinal(first.toordinal() - 1))


def month_bounds(period: str) -> tuple[date, date]:
    year, month = int(period[:4]), int(period[5:7])
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


class ReportService:
    def __init__(
        self, session: AsyncSession, clock: Clock, *, threshold: int, close_grace_s: float, first_period: str
    ) -> None:
        self.first_period = first_period
        self.session = session
        self.clock = clock
        self.threshold = threshold
        self.close_grace = timedelta(seconds=close_grace_s)
        self.repo = StatisticsRepository(session)
        self.audit = AuditLog(session, clock)

    def closed(self, period: str) -> bool:
        """A month is closed, and its report final, `close_grace` after its last midnight (bureau
        time): registrations of the month's last day, recorded that evening, still count."""
        _, last = month_bounds(period)
        return self.clock.now() >= datetime.combine(last + timedelta(days=1), time(0), BUREAU_TZ) + self.close_grace

    async def read(self, caller: Caller, period: str) -> StatisticsReport:
        """The month's report for a `statistics:read` caller: the final one of a closed month (produced
        now if it has not been yet), else a draft; audited as a delivery to them."""
        current = month_of(self.clock.today())
        if period > current:
            raise PeriodInFuture(f"{period} has not begun (the bureau's month is {current})", current_period=current)
        if period < self.first_period:
            raise PeriodBeforeRecords(
                f"reports begin with {self.first_period}, the first month the platform holds",
                first_period=self.first_period,
            )
        report = await self.final(period) if self.closed(period) else await self.draft(period)
        await self._audit(caller.client_id, caller.request_id, caller.agency, report)
        return report

    async def final(self, period: str) -> StatisticsReport:
        """A closed month's final report: the one kept, or produced, kept, published on
        `sharing.statistics-report.v1` and audited as delivered to the statistics bureau."""
        kept = await self.repo.final(period)
        if kept is not None:
            return StatisticsReport.model_validate(kept.report)
        report = await self._produce(period, ReportStatus.final)
        row = StatisticsReportRow(
            period=period,
            report_id=report.report_id,
            generated_at=report.generated_at,
            report=report.model_dump(mode="json"),
        )
        kept = await self.repo.keep_final(row)
        if kept.report_id != report.report_id:
            return StatisticsReport.model_validate(kept.report)  # another replica's, published by it
        event = new_event(source=REPORT_SOURCE, type=STATISTICS_REPORT_PUBLISHED, subject=None, data=report)
        add_event(self.session, SHARING_STATISTICS_REPORT, key=period, event=event)
        await self._audit(SERVICE_CLIENT, str(report.report_id), Agency.statistics.value, report)
        return report

    async def draft(self, period: str) -> StatisticsReport:
        return await self._produce(period, ReportStatus.draft)

    async def _produce(self, period: str, status: ReportStatus) -> StatisticsReport:
        first, last = month_bounds(period)
        counts = await self.repo.counts(first, last)
        towns = sorted(await self.repo.towns() or {town for town, _ in counts})
        measures = report_measures()
        values = [[counts.get((town, measure), 0) for measure in measures] for town in towns]
        table = suppress(values, row_totals=False, column_totals=True, threshold=self.threshold) if towns else None

        def cell(at: Cell, measure: str) -> ReportCell:
            if table is None:
                return ReportCell(measure=measure, value=None, suppressed=True)
            shown = table.published(at)
            return ReportCell(measure=measure, value=shown, suppressed=shown is None)

        return StatisticsReport(
            report_id=uuid.uuid4(),
            period=period,
            status=status,
            generated_at=self.clock.now(),
            threshold=self.threshold,
            measures=measures,
            rows=[
                ReportRow(town=town, cells=[cell(Cell(i, j), measure) for j, measure in enumerate(measures)])
                for i, town in enumerate(towns)
            ],
            totals=[cell(Cell(None, j), measure) for j, measure in enumerate(measures)],
        )

    async def _audit(self, client_id: str, request_id: str, agency: str, report: StatisticsReport) -> None:
        await self.audit.append(
            Exchange(
                client_id=client_id,
                request_id=request_id,
                agency=agency,
                action=AuditAction.report,
                dataset=REPORT_DATASET,
                purpose=f"statistics report {report.period} ({report.status})",
                records=len(report.rows),
            )
        )
