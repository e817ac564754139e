"""The example of a statistics report in the API documentation.

The report's model is the contract's (`contracts.statistics.StatisticsReport`); its `period` is a
`Month`, a patterned string without an example, so no example can be composed from its fields and
the route gives a whole one, put through `suppress` as a real report is.

Its counts are all at or above the threshold: FastAPI drops every `null` from the examples of the
document it writes (`exclude_none`), so a suppressed cell (`value: null`) would lose its required
`value` there. The route's description says what a suppressed cell looks like."""

from __future__ import annotations

from typing import Any

from contracts.statistics import ReportCell, ReportRow, ReportStatus, StatisticsReport, report_measures

from .suppression import DEFAULT_THRESHOLD, Cell, suppress

# Three of Rongchang's subdistricts in November 2026; one column per `report_measures()`: the month's
# counts, then persons per (non-sensitive) difficulty category.
EXAMPLE_COUNTS: dict[str, tuple[int, ...]] = {
    "昌元街道": (312, 87, 41, 56, 118, 23, 12, 64, 9, 17, 12, 8, 15),
    "广顺街道": (145, 39, 18, 22, 61, 11, 7, 27, 14, 8, 5, 6, 9),
    "双河街道": (128, 33, 16, 19, 52, 10, 5, 21, 26, 7, 6, 5, 8),
}


def example_report() -> dict[str, Any]:
    """A final report of 2026-11 as the route answers it (JSON), towns by name as a report lists them."""
    measures = report_measures()
    towns = sorted(EXAMPLE_COUNTS)
    table = suppress(
        [EXAMPLE_COUNTS[town] for town in towns], row_totals=False, column_totals=True, threshold=DEFAULT_THRESHOLD
    )

    def cell(at: Cell, measure: str) -> ReportCell:
        shown = table.published(at)
        return ReportCell(measure=measure, value=shown, suppressed=shown is None)

    report = StatisticsReport.model_validate(
        {
            "report_id": "8c1e4f2a-6b3d-4a97-b0e5-3d2f9c7a1e64",
            "period": "2026-11",
            "status": ReportStatus.final,
            "generated_at": "2026-12-01T00:10:00+08:00",
            "threshold": DEFAULT_THRESHOLD,
            "measures": measures,
            "rows": [
                ReportRow(town=town, cells=[cell(Cell(i, j), measure) for j, measure in enumerate(measures)])
                for i, town in enumerate(towns)
            ],
            "totals": [cell(Cell(None, j), measure) for j, measure in enumerate(measures)],
        }
    )
    return report.model_dump(mode="json")


# The 200 answer's example, merged by FastAPI into the schema it derives from the return type.
REPORT_EXAMPLE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": example_report()}}}
}
