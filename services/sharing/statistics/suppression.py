"""Statistical disclosure control for the statistics reports: which counts a report hides.

A report is a table of counts (rows are towns, columns are measures) with, optionally, published
row totals, column totals and, when both are published, the grand total. The product rule: every
count below the threshold (zero included), totals too, is hidden, and further counts are hidden
until no hidden count can be worked out exactly from the published counts, the totals' sums and
the fact that a count is never negative.

The model. Every count, totals included, is the flow on one arc of a small directed graph with a
node per row, a node per column, a totals-row node and a totals-column node:

    row i --count(i, j)--> column j --column total j--> totals row --grand total-->
    totals column --row total i--> row i

Flow is conserved at a node exactly where the report states a sum: at row i when row totals are
published (the row's counts add up to its total), at column j when column totals are, at the two
totals nodes when both are (the grand total is the sum of either margin). A hidden total still
states its sum, only not its value. Nodes where nothing is stated are merged into one free node.

A reader knows each hidden count is a non-negative flow that, with the published ones, conserves
flow at every stated node. A hidden count is safe when it lies on a cycle of hidden arcs that can
carry one more unit: forward along an arc (a count one larger), or backward along an arc whose
count is positive (one smaller). Moving ±1 around such a cycle gives another table that agrees
with everything published. Conversely any other table consistent with the report differs from the
true one by a circulation, which splits into such cycles, so a count on no such cycle is exposed.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.optimize import linprog

DEFAULT_THRESHOLD = 5

# Where the table states no sum; flow need not be conserved here.
FREE_NODE = -1

# What hiding one more count costs the report: totals hidden first (readers rely on them most),
# then the sum of the counts hidden, then how many. Compared lexicographically.
Loss = tuple[int, int, int]
NO_LOSS: Loss = (0, 0, 0)


class Cell(NamedTuple):
    """One count of a report. None stands for the totals: `Cell(i, None)` is row i's total,
    `Cell(None, j)` column j's total and `Cell(None, None)` the grand total."""

    row: int | None
    column: int | None


@dataclass(frozen=True)
class SuppressedTable:
    """A report's true counts and the counts it must hide."""

    values: tuple[tuple[int, ...], ...]
    row_totals: tuple[int, ...] | None
    column_totals: tuple[int, ...] | None
    grand_total: int | None
    threshold: int
    suppressed: frozenset[Cell]
    primary: frozenset[Cell]

    @property
    def secondary(self) -> frozenset[Cell]:
        """Counts at or above the threshold hidden only so that the small ones cannot be worked out."""
        return self.suppressed - self.primary

    @property
    def cells(self) -> tuple[Cell, ...]:
        """Every count of the report: the interior row by row, then row totals, column totals, grand total."""
        cells = [Cell(i, j) for i, row in enumerate(self.values) for j in range(len(row))]
        if self.row_totals is not None:
            cells += [Cell(i, None) for i in range(len(self.row_totals))]
        if self.column_totals is not None:
            cells += [Cell(None, j) for j in range(len(self.column_totals))]
        if self.grand_total is not None:
            cells.append(Cell(None, None))
        return tuple(cells)

    def count(self, cell: Cell) -> int:
        """The true count of a cell, hidden or not."""
        if cell.row is not None and cell.column is not None:
            return self.values[cell.row][cell.column]
        if cell.row is not None and self.row_totals is not None:
            return self.row_totals[cell.row]
        if cell.column is not None and self.column_totals is not None:
            return self.column_totals[cell.column]
        if cell.row is None and cell.column is None and self.grand_total is not None:
            return self.grand_total
        raise KeyError(cell)

    def published(self, cell: Cell) -> int | None:
        """What the report shows for a cell: its count, or None when it is hidden."""
        value = self.count(cell)
        return None if cell in self.suppressed else value


class DisclosureAuditFailed(Exception):
    """The audit found a hidden count the report would expose; nothing may be published."""


def suppress(
    values: Sequence[Sequence[int]],
    *,
    row_totals: bool,
    column_totals: bool,
    threshold: int = DEFAULT_THRESHOLD,
) -> SuppressedTable:
    """Choose the counts a report hides: those below `threshold` and enough others that none of
    them can be worked out. The totals are the sums of `values`; the grand total is published
    when both row and column totals are. The same table always gives the same choice."""
    table = _checked(values)
    if threshold < 0:
        raise ValueError("the threshold is a count, never negative")
    row_sums = tuple(sum(row) for row in table) if row_totals else None
    column_sums = tuple(sum(column) for column in zip(*table, strict=True)) if column_totals else None
    grand_total = sum(map(sum, table)) if row_totals and column_totals else None
    arcs = _flow_arcs(table, row_sums, column_sums, grand_total)

    primary = {arc.cell for arc in arcs if arc.count < threshold}
    hidden = set(primary)
    graph = _ResidualGraph(arcs)
    # Cells hidden to protect one count lie on its cycle and so are safe themselves, and hiding
    # more never exposes a count that was safe: one pass over the small counts is enough.
    for arc in arcs:
        if arc.cell in primary and not graph.can_move(arc, hidden):
            hidden.update(graph.cheapest_protection(arc, hidden))

    exposed = _exposed_by_linear_programme(arcs, hidden)
    if exposed:
        raise DisclosureAuditFailed(f"hidden counts still exposed: {exposed}")
    return SuppressedTable(
        values=table,
        row_totals=row_sums,
        column_totals=column_sums,
        grand_total=grand_total,
        threshold=threshold,
        suppressed=frozenset(hidden),
        primary=frozenset(primary),
    )


def _checked(values: Sequence[Sequence[int]]) -> tuple[tuple[int, ...], ...]:
    table = tuple(tuple(row) for row in values)
    if not table or not table[0]:
        raise ValueError("a report has at least one row and one column")
    if any(len(row) != len(table[0]) for row in table):
        raise ValueError("every row of a report has the same columns")
    if any(value < 0 for row in table for value in row):
        raise ValueError("counts are never negative")
    return table


@dataclass(frozen=True)
class _Arc:
    cell: Cell
    tail: int
    head: int
    count: int


def _flow_arcs(
    table: tuple[tuple[int, ...], ...],
    row_sums: tuple[int, ...] | None,
    column_sums: tuple[int, ...] | None,
    grand_total: int | None,
) -> list[_Arc]:
    """The report's counts as arcs (see the module docstring), in report order."""
    rows, columns = len(table), len(table[0])

    def row_node(i: int) -> int:
        return i if row_sums is not None else FREE_NODE

    def column_node(j: int) -> int:
        return rows + j if column_sums is not None else FREE_NODE

    totals_row = rows + columns if grand_total is not None else FREE_NODE
    totals_column = rows + columns + 1 if grand_total is not None else FREE_NODE

    arcs = [_Arc(Cell(i, j), row_node(i), column_node(j), table[i][j]) for i in range(rows) for j in range(columns)]
    if row_sums is not None:
        arcs += [_Arc(Cell(i, None), totals_column, row_node(i), total) for i, total in enumerate(row_sums)]
    if column_sums is not None:
        arcs += [_Arc(Cell(None, j), column_node(j), totals_row, total) for j, total in enumerate(column_sums)]
    if grand_total is not None:
        arcs.append(_Arc(Cell(None, None), totals_row, totals_column, grand_total))
    return arcs


def _loss(arc: _Arc) -> Loss:
    is_total = arc.cell.row is None or arc.cell.column is None
    return (int(is_total), arc.count, 1)


class _ResidualGraph:
    """Where one more unit of flow can go: forward along any arc, backward along an arc whose count
    is positive. Searches run over hidden arcs only, or over all arcs pricing each published one
    by what hiding it would lose."""

    def __init__(self, arcs: list[_Arc]) -> None:
        self._steps: dict[int, list[tuple[int, _Arc]]] = {}
        for arc in arcs:
            self._steps.setdefault(arc.tail, []).append((arc.head, arc))
            self._steps.setdefault(arc.head, [])
            if arc.count > 0:
                self._steps[arc.head].append((arc.tail, arc))

    def can_move(self, arc: _Arc, hidden: set[Cell]) -> bool:
        """Whether the arc lies on a cycle of hidden arcs, i.e. its count is not exposed."""
        if self._path(arc.head, arc.tail, arc, hidden, hidden_only=True) is not None:
            return True
        return arc.count > 0 and self._path(arc.tail, arc.head, arc, hidden, hidden_only=True) is not None

    def cheapest_protection(self, arc: _Arc, hidden: set[Cell]) -> list[Cell]:
        """The published cells to hide that close the cheapest cycle through the arc."""
        # The cycle of increases (count, its column total, grand total, its row total, or fewer where
        # the table states fewer sums) always exists, so a path one larger is always found.
        larger = self._path(arc.head, arc.tail, arc, hidden, hidden_only=False)
        if larger is None:
            raise DisclosureAuditFailed(f"no cycle through {arc.cell}: the report's graph is malformed")
        smaller = self._path(arc.tail, arc.head, arc, hidden, hidden_only=False) if arc.count > 0 else None
        return (larger if smaller is None or larger[0] <= smaller[0] else smaller)[1]

    def _path(
        self, source: int, target: int, arc: _Arc, hidden: set[Cell], *, hidden_only: bool
    ) -> tuple[Loss, list[Cell]] | None:
        """Dijkstra from source to target, never along `arc`; the loss and the published cells on
        the cheapest path. Ties go to the lower node number, so the choice is deterministic."""
        best: dict[int, Loss] = {source: NO_LOSS}
        came_from: dict[int, tuple[int, _Arc]] = {}
        queue: list[tuple[Loss, int]] = [(NO_LOSS, source)]
        while queue:
            loss, node = heapq.heappop(queue)
            if node == target:
                cells: list[Cell] = []
                while node != source:
                    node, step = came_from[node]
                    if step.cell not in hidden:
                        cells.append(step.cell)
                return loss, cells
            if loss > best[node]:
                continue
            for following, step in self._steps[node]:
                if step is arc:
                    continue
                is_hidden = step.cell in hidden
                if hidden_only and not is_hidden:
                    continue
                step_loss = NO_LOSS if is_hidden else _loss(step)
                reached: Loss = (loss[0] + step_loss[0], loss[1] + step_loss[1], loss[2] + step_loss[2])
                if following not in best or reached < best[following]:
                    best[following] = reached
                    came_from[following] = (node, step)
                    heapq.heappush(queue, (reached, following))
        return None


def _exposed_by_linear_programme(arcs: list[_Arc], hidden: set[Cell]) -> list[Cell]:
    """The audit, sharing only the arcs with the cycle search: the hidden counts whose minimum equals
    their maximum over every table consistent with what is published.

    The constraints are flow conservation, so the matrix is a directed graph's node-arc incidence
    matrix, which is totally unimodular; with integer right-hand sides every vertex of the feasible
    region is integral. The LP minimum and maximum of a count are therefore attained by tables of
    whole counts, and an LP that can move a count proves that a real alternative table exists."""
    unknowns = [arc for arc in arcs if arc.cell in hidden]
    if not unknowns:
        return []
    position = {arc.cell: k for k, arc in enumerate(unknowns)}
    nodes = sorted(({arc.tail for arc in arcs} | {arc.head for arc in arcs}) - {FREE_NODE})
    node_row = {node: r for r, node in enumerate(nodes)}
    outflow = np.zeros((len(nodes), len(unknowns)))
    stated = np.zeros(len(nodes))
    for arc in arcs:
        for node, sign in ((arc.tail, 1), (arc.head, -1)):
            if node == FREE_NODE:
                continue
            if arc.cell in hidden:
                outflow[node_row[node], position[arc.cell]] += sign
            else:
                stated[node_row[node]] -= sign * arc.count
    # A stated sum over published counts only constrains nothing hidden.
    binding = np.any(outflow != 0, axis=1)
    a_eq = outflow[binding] if binding.any() else None
    b_eq = stated[binding] if binding.any() else None
    truth = np.array([arc.count for arc in unknowns], dtype=float)

    # Any feasible table that differs from the truth in a count proves that count safe, so one
    # solve usually settles many counts and most need no programme of their own.
    settled = np.zeros(len(unknowns), dtype=bool)

    def moves(objective: np.ndarray, bounds: list[tuple[float, float | None]], k: int) -> bool:
        result = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if result.status != 0:
            raise DisclosureAuditFailed(f"the audit's linear programme failed: {result.message}")
        settled[np.abs(result.x - truth) > 0.5] = True
        return bool(settled[k])

    exposed: list[Cell] = []
    for k, arc in enumerate(unknowns):
        if settled[k]:
            continue
        objective = np.zeros(len(unknowns))
        bounds: list[tuple[float, float | None]] = [(0, None)] * len(unknowns)
        # Capped one above the truth so the maximum is finite; reaching the cap is proof enough.
        bounds[k] = (0, arc.count + 1)
        objective[k] = -1
        if moves(objective, bounds, k):
            continue
        objective[k] = 1
        if arc.count > 0 and moves(objective, bounds, k):
            continue
        exposed.append(arc.cell)
    return exposed
