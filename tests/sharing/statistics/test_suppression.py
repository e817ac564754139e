"""Which counts a statistics report hides: no small count shown, and none that can be worked out.

The property tests check the second promise with an oracle that shares nothing with the
implementation: a bounded backtracking search over whole-number fillings of the hidden cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.sharing.statistics import suppression
from services.sharing.statistics.suppression import Cell, DisclosureAuditFailed, SuppressedTable, suppress


def published_below(report: SuppressedTable, threshold: int) -> list[Cell]:
    return [cell for cell in report.cells if (value := report.published(cell)) is not None and value < threshold]


# --- The oracle -------------------------------------------------------------------------------------

# A sum the report states, as (cell, coefficient) pairs adding up to zero.
Equation = list[tuple[Cell, int]]


class SearchTooLong(Exception):
    """The oracle gave up; a test that meets this fails rather than passes."""


def stated_sums(report: SuppressedTable) -> list[Equation]:
    """Written from the table's shape, not from the implementation's graph."""
    rows, columns = len(report.values), len(report.values[0])
    sums: list[Equation] = []
    if report.row_totals is not None:
        for i in range(rows):
            sums.append([*((Cell(i, j), 1) for j in range(columns)), (Cell(i, None), -1)])
    if report.column_totals is not None:
        for j in range(columns):
            sums.append([*((Cell(i, j), 1) for i in range(rows)), (Cell(None, j), -1)])
    if report.grand_total is not None:
        sums.append([*((Cell(i, None), 1) for i in range(rows)), (Cell(None, None), -1)])
        sums.append([*((Cell(None, j), 1) for j in range(columns)), (Cell(None, None), -1)])
    return sums


def consistent(report: SuppressedTable, filling: dict[Cell, int]) -> bool:
    """Whether a filling of the hidden cells agrees with everything the report publishes."""

    def value(cell: Cell) -> int:
        return filling[cell] if cell in report.suppressed else report.count(cell)

    return all(value >= 0 for value in filling.values()) and all(
        sum(coefficient * value(cell) for cell, coefficient in equation) == 0 for equation in stated_sums(report)
    )


def another_filling(report: SuppressedTable, target: Cell, *, budget: int = 200_000) -> dict[Cell, int] | None:
    """A filling of the hidden cells, whole numbers in [0, bound], consistent with what is published
    and giving `target` a value other than its true one; None when there is none in that box.

    The bound is one more than the largest count in the report. It only limits where the search
    looks, so any filling found is a real alternative. It does not hide one that exists: a count
    that can change at all can change by one, with the other hidden counts moving by at most one
    (tables agreeing on the published cells differ by flows around cycles), so an alternative
    within one of the truth exists whenever any does."""
    hidden = sorted(report.suppressed, key=report.cells.index)
    bound = max(report.count(cell) for cell in report.cells) + 1
    sums = []
    for equation in stated_sums(report):
        published = sum(
            coefficient * report.count(cell) for cell, coefficient in equation if cell not in report.suppressed
        )
        unknown = [(cell, coefficient) for cell, coefficient in equation if cell in report.suppressed]
        if unknown:
            sums.append((unknown, -published))
    nodes = 0

    def narrowed(domains: dict[Cell, tuple[int, int]]) -> dict[Cell, tuple[int, int]] | None:
        # Bounds propagation to a fixpoint: each unknown of a sum lies between what the rest can
        # make up at most and at least.
        domains = dict(domains)
        changed = True
        while changed:
            changed = False
            for unknown, constant in sums:
                for cell, coefficient in unknown:
                    rest_low = rest_high = 0
                    for other, other_coefficient in unknown:
                        if other == cell:
                            continue
                        low, high = domains[other]
                        rest_low += min(other_coefficient * low, other_coefficient * high)
                        rest_high += max(other_coefficient * low, other_coefficient * high)
                    # coefficient * x = constant - rest, with coefficient ±1
                    candidates = (coefficient * (constant - rest_high), coefficient * (constant - rest_low))
                    low, high = domains[cell]
                    new_low, new_high = max(low, min(candidates)), min(high, max(candidates))
                    if new_low > new_high:
                        return None
                    if (new_low, new_high) != (low, high):
                        domains[cell] = (new_low, new_high)
                        changed = True
        return domains

    def search(domains: dict[Cell, tuple[int, int]]) -> dict[Cell, int] | None:
        nonlocal nodes
        nodes += 1
        if nodes > budget:
            raise SearchTooLong(target)
        found = narrowed(domains)
        if found is None:
            return None
        open_cells = [cell for cell in hidden if found[cell][0] < found[cell][1]]
        if not open_cells:
            return {cell: low for cell, (low, _) in found.items()}
        cell = min(open_cells, key=lambda cell: found[cell][1] - found[cell][0])
        low, high = found[cell]
        truth = report.count(cell)
        # Nearest the truth first: alternatives are found fast; the order changes nothing else.
        for value in sorted(range(low, high + 1), key=lambda value: (abs(value - truth), value)):
            result = search({**found, cell: (value, value)})
            if result is not None:
                return result
        return None

    truth = report.count(target)
    for target_domain in ((truth + 1, bound), (0, truth - 1)):
        if target_domain[0] > target_domain[1]:
            continue
        domains = {cell: (0, bound) for cell in hidden}
        domains[target] = target_domain
        filling = search(domains)
        if filling is not None:
            return filling
    return None


def assert_no_hidden_count_recoverable(report: SuppressedTable) -> None:
    assert consistent(report, {cell: report.count(cell) for cell in report.suppressed})
    for cell in report.suppressed:
        filling = another_filling(report, cell)
        assert filling is not None, f"{cell} = {report.count(cell)} can be worked out from {report}"
        assert consistent(report, filling)
        assert filling[cell] != report.count(cell)


# --- Worked examples --------------------------------------------------------------------------------


def test_a_small_count_is_hidden_with_the_smallest_counts_that_close_a_rectangle_around_it() -> None:
    report = suppress([[20, 3, 15], [10, 12, 30], [25, 40, 8]], row_totals=True, column_totals=True)

    assert report.primary == {Cell(0, 1)}
    # 20 + 10 + 12 is the cheapest rectangle through the 3; no total has to go.
    assert report.secondary == {Cell(0, 0), Cell(1, 0), Cell(1, 1)}
    assert report.published(Cell(0, 1)) is None
    assert report.published(Cell(0, None)) == 38
    assert report.published(Cell(None, None)) == 163
    assert published_below(report, 5) == []
    assert_no_hidden_count_recoverable(report)


def test_a_table_with_no_small_count_hides_nothing() -> None:
    report = suppress([[20, 35], [10, 12], [25, 40]], row_totals=True, column_totals=True)

    assert report.suppressed == frozenset()
    assert [report.published(cell) for cell in report.cells] == [20, 35, 10, 12, 25, 40, 55, 22, 65, 55, 87, 142]


def test_an_all_zero_table_hides_every_count_and_total() -> None:
    report = suppress([[0, 0], [0, 0]], row_totals=True, column_totals=True)

    assert report.suppressed == report.primary == frozenset(report.cells)
    assert len(report.cells) == 9
    assert_no_hidden_count_recoverable(report)


def test_a_single_row_with_its_total_hides_a_second_count_of_the_row() -> None:
    report = suppress([[3, 20, 30]], row_totals=True, column_totals=False)

    assert report.suppressed == {Cell(0, 0), Cell(0, 1)}
    assert report.published(Cell(0, None)) == 53
    assert_no_hidden_count_recoverable(report)


def test_a_single_column_with_its_total_hides_a_second_count_of_the_column() -> None:
    report = suppress([[2], [30], [40]], row_totals=False, column_totals=True)

    assert report.suppressed == {Cell(0, 0), Cell(1, 0)}
    assert report.published(Cell(None, 0)) == 72
    assert_no_hidden_count_recoverable(report)


def test_two_zeros_in_a_column_are_not_left_adding_up_to_nothing() -> None:
    # Hiding only the zeros would show 15 published of a total of 15: both hidden counts are 0.
    report = suppress([[0, 20], [0, 30], [15, 8]], row_totals=False, column_totals=True)

    assert report.primary == {Cell(0, 0), Cell(1, 0)}
    assert report.secondary == {Cell(2, 0)}
    assert report.published(Cell(None, 0)) == 15
    assert_no_hidden_count_recoverable(report)


def test_without_totals_nothing_can_be_worked_out_so_only_small_counts_are_hidden() -> None:
    report = suppress([[0, 20], [0, 30], [15, 8]], row_totals=False, column_totals=False)

    assert report.suppressed == report.primary == {Cell(0, 0), Cell(1, 0)}
    assert report.grand_total is None


def test_a_total_below_the_threshold_is_hidden_and_its_sum_cannot_be_read_off_the_others() -> None:
    report = suppress([[1, 2, 0], [10, 20, 30]], row_totals=True, column_totals=True)

    assert Cell(0, None) in report.primary  # the first town's total is 3
    assert report.primary == {Cell(0, 0), Cell(0, 1), Cell(0, 2), Cell(0, None)}
    assert published_below(report, 5) == []
    assert_no_hidden_count_recoverable(report)


def test_only_column_totals_publish_no_grand_total() -> None:
    report = suppress([[7, 8], [9, 10]], row_totals=False, column_totals=True)

    assert report.cells == (Cell(0, 0), Cell(0, 1), Cell(1, 0), Cell(1, 1), Cell(None, 0), Cell(None, 1))
    assert report.grand_total is None
    assert report.column_totals == (16, 18)


def test_the_threshold_is_the_callers() -> None:
    report = suppress([[7, 20], [30, 40]], row_totals=False, column_totals=True, threshold=10)

    assert report.primary == {Cell(0, 0)}
    assert report.secondary == {Cell(1, 0)}


@pytest.mark.parametrize(
    ("values", "message"),
    [([], "at least one row"), ([[]], "at least one row"), ([[1, 2], [3]], "same columns"), ([[1, -2]], "never")],
    ids=["no rows", "no columns", "ragged", "negative"],
)
def test_a_table_that_is_not_a_table_of_counts_is_refused(values: list[list[int]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        suppress(values, row_totals=True, column_totals=True)


def test_the_audit_refuses_a_report_that_would_expose_a_count(monkeypatch: pytest.MonkeyPatch) -> None:
    # Should the cycle search wrongly call every count safe, the linear programme still catches
    # the two zeros that add up to what the column total leaves, and nothing is published.
    monkeypatch.setattr(suppression._ResidualGraph, "can_move", lambda self, arc, hidden: True)

    with pytest.raises(DisclosureAuditFailed, match=r"Cell\(row=0, column=0\), Cell\(row=1, column=0\)"):
        suppress([[0, 20], [0, 30], [15, 8]], row_totals=False, column_totals=True)


# --- Properties -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    values: list[list[int]]
    row_totals: bool
    column_totals: bool
    threshold: int

    def suppressed(self) -> SuppressedTable:
        return suppress(
            self.values, row_totals=self.row_totals, column_totals=self.column_totals, threshold=self.threshold
        )


@st.composite
def reports(draw: st.DrawFn, *, max_rows: int, max_columns: int, counts: st.SearchStrategy[int]) -> Report:
    rows = draw(st.integers(1, max_rows))
    columns = draw(st.integers(1, max_columns))
    values = draw(st.lists(st.lists(counts, min_size=columns, max_size=columns), min_size=rows, max_size=rows))
    return Report(values, draw(st.booleans()), draw(st.booleans()), draw(st.sampled_from([5, 5, 5, 1, 3, 10])))


# Mostly small counts, so that small cells meet in rows and columns, with some large ones.
any_counts = st.one_of(st.integers(0, 4), st.integers(0, 12), st.integers(13, 400))
larger_reports = reports(max_rows=6, max_columns=6, counts=any_counts)
small_reports = reports(max_rows=3, max_columns=4, counts=st.one_of(st.integers(0, 4), st.integers(0, 12)))


@settings(max_examples=150)
@given(larger_reports)
def test_every_count_below_the_threshold_is_hidden_and_every_published_one_is_at_least_the_threshold(
    report: Report,
) -> None:
    result = report.suppressed()

    below = {cell for cell in result.cells if result.count(cell) < report.threshold}
    assert result.primary == below
    assert below <= result.suppressed
    assert published_below(result, report.threshold) == []


@settings(max_examples=150)
@given(small_reports)
def test_no_hidden_count_of_a_small_table_can_be_worked_out_exhaustive_search(report: Report) -> None:
    assert_no_hidden_count_recoverable(report.suppressed())


@settings(max_examples=60)
@given(larger_reports)
def test_no_hidden_count_of_a_larger_table_can_be_worked_out(report: Report) -> None:
    assert_no_hidden_count_recoverable(report.suppressed())


@settings(max_examples=100)
@given(larger_reports)
def test_the_same_table_always_hides_the_same_counts(report: Report) -> None:
    first = report.suppressed()
    again = Report([list(row) for row in report.values], report.row_totals, report.column_totals, report.threshold)

    assert again.suppressed() == first
