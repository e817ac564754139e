"""The payload sharing publishes on `sharing.statistics-report.v1`: a month's statistics report for the
statistics bureau, aggregates only (SPEC 2.4).

Rows are towns, cells are measures. A cell below the threshold (5) is suppressed (`value: null,
suppressed: true`), and so are enough further cells that no suppressed value can be worked out from
the district totals (`totals`, the column totals of the table)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from .fields import Month
from .vocabulary import SENSITIVE_CATEGORIES, Category

STATISTICS_REPORT_PUBLISHED = "sharing.statistics-report.published"
CATEGORY_MEASURE_PREFIX = "category:"


class ReportStatus(StrEnum):
    """`final` once the month has closed (bureau time); `draft` for the current month, over REST only."""

    final = "final"
    draft = "draft"


def report_measures() -> list[str]:
    """The measures of a report, in order: the counts of the month, then persons per difficulty
    category (held on the month's last day; sensitive categories never broken out)."""
    return [
        "registered_unemployed",
        "new_employments",
        "separations",
        "trainings_completed",
        *(CATEGORY_MEASURE_PREFIX + c.value for c in Category if c not in SENSITIVE_CATEGORIES),
    ]


MEASURE_DESCRIPTIONS = {
    "registered_unemployed": "Persons with an open unemployment registration on the month's last day",
    "new_employments": "Employments that started in the month",
    "separations": "Employments that ended in the month, except by retirement or death",
    "trainings_completed": "Trainings completed in the month",
    CATEGORY_MEASURE_PREFIX + "<category>": "Persons holding the difficulty category on the month's last day",
}


class ReportCell(BaseModel):
    """One count of the table, or its suppression."""

    measure: str = Field(description="A measure of `measures`")
    value: int | None = Field(description="The count; null when suppressed")
    suppressed: bool = Field(
        description="True when the count is withheld: below `threshold`, or one that would let a withheld count be "
        "worked out from the totals; `value` is then null"
    )


class ReportRow(BaseModel):
    """One town's counts."""

    town: str = Field(description="The town persons live in, as the registry records it; `unknown` when none")
    cells: list[ReportCell] = Field(description="One per measure, in the order of `measures`")


class StatisticsReport(BaseModel):
    """A month's statistics report for the statistics bureau: counts per town, no personal data."""

    report_id: uuid.UUID = Field(
        description="The report's id; a final report is produced once per period and keeps its id, a draft gets a "
        "new one each time"
    )
    period: Month = Field(
        description="The month reported on, `YYYY-MM` (the bureau's calendar, Asia/Shanghai); also the Kafka key"
    )
    status: ReportStatus = Field(
        description="`final` once the month has closed (bureau time); `draft` before. Events carry only `final` "
        "reports; a draft is only ever answered over REST"
    )
    generated_at: datetime = Field(description="When the report was produced: an instant, sent in UTC")
    threshold: int = Field(description="Cells below this are suppressed (5 by default)")
    measures: list[str] = Field(
        description="Column order: `registered_unemployed` (open registrations on the month's last day), "
        "`new_employments`, `separations` (ends but by retirement or death), `trainings_completed` (in the "
        "month), then `category:<category>` (persons holding it on the month's last day; sensitive categories "
        "never appear)"
    )
    rows: list[ReportRow] = Field(description="One per town, by name")
    totals: list[ReportCell] = Field(
        description="District totals per measure (the table's column totals), in the order of `measures`; "
        "suppressed like any other cell"
    )
