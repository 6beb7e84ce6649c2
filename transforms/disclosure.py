"""Statistical disclosure control for published counts: pure functions, frame in, frame out.

A published table is a *cube*: every combination of its dimensions' values,
plus a total (`"all"`) along each dimension and every combination of totals.
Each line of the cube (all values of one dimension, the others fixed, with the
line's total) is one linear equation `sum(interior) = total`. The functions:

- `complete_grid` fills the combinations nobody counted with 0;
- `with_totals` adds the total rows (the margins a reader can see);
- `primary_suppressed` marks counts from 1 to the threshold;
- `secondary_suppressed` marks further cells until no suppressed cell can be
  worked out exactly from the visible cells: no line holds a single
  suppressed cell, and no suppressed cell is fixed by the line equations
  taken together (checked by linear algebra on the system restricted to the
  suppressed cells: a cell is recoverable exactly when every solution of the
  homogeneous system leaves it unchanged, i.e. its coordinate is zero across
  the null space);
- `recoverable_cells` is that check on its own, for tests and audits.

Several tables that share margins (for example incidents by category and by
location type, both with a route total per force) must be protected
together: concatenate their cubes, using the total value for the dimension
each table does not have, and pass the union.

Zeros are shown: a count of 0 is not disclosive here, and suppression only
prefers non-zero cells as secondary cells (a suppressed 0 protects little).
"""

from __future__ import annotations

import contextlib
import itertools
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import polars as pl

try:  # ships with scikit-learn (recordlinkage's dependency)
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

TOTAL = "all"
SUPPRESSED = "suppressed"


def complete_grid(
    frame: pl.DataFrame,
    dims: Sequence[str],
    count: str,
    by: Sequence[str] = (),
    values: dict[str, Sequence[str]] | None = None,
) -> pl.DataFrame:
    """Every combination of the dimensions' values within each `by` group, missing ones as 0.

    Args:
        frame: one row per observed combination of `by` + `dims`, with `count`.
        dims: the dimensions of the table (string columns).
        count: the count column.
        by: columns that split the frame into independent tables (e.g. `half_year`).
        values: the values each dimension must show even when unobserved;
            observed values are added to these.

    Returns:
        `by` + `dims` + `count`, one row per combination, sorted.
    """
    values = values or {}
    levels = []
    for dim in dims:
        seen = frame.select(pl.col(dim).cast(pl.String)).unique()
        extra = pl.DataFrame({dim: list(values.get(dim, []))}, schema={dim: pl.String})
        levels.append(pl.concat([extra, seen]).unique().sort(dim))
    grid = frame.select(*by).unique() if by else pl.DataFrame()
    for level in levels:
        grid = level if grid.width == 0 else grid.join(level, how="cross")
    keys = [*by, *dims]
    observed = frame.select(*keys, count).with_columns(pl.col(d).cast(pl.String) for d in dims)
    return (
        grid.join(observed, on=keys, how="left", nulls_equal=True)
        .with_columns(pl.col(count).fill_null(0).cast(pl.Int64))
        .sort(keys)
    )


def with_totals(
    frame: pl.DataFrame,
    dims: Sequence[str],
    count: str,
    by: Sequence[str] = (),
    total: str = TOTAL,
) -> pl.DataFrame:
    """The cube: `frame` plus a total row for every subset of dimensions set to `total`."""
    parts = []
    for size in range(len(dims) + 1):
        for summed in itertools.combinations(dims, size):
            kept = [d for d in dims if d not in summed]
            keys = [*by, *kept]
            part = (
                frame.group_by(keys).agg(pl.col(count).sum())
                if keys
                else frame.select(pl.col(count).sum())
            )
            part = part.with_columns(pl.lit(total).alias(d) for d in summed)
            parts.append(part.select(*by, *dims, count))
    return pl.concat(parts).with_columns(pl.col(count).cast(pl.Int64)).sort([*by, *dims])


def primary_suppressed(frame: pl.DataFrame, count: str, threshold: int) -> pl.DataFrame:
    """Adds `suppressed`: true for counts from 1 to `threshold` (zeros are shown)."""
    return frame.with_columns(
        ((pl.col(count) >= 1) & (pl.col(count) <= threshold)).alias(SUPPRESSED)
    )


def _lines(frame: pl.DataFrame, dims: Sequence[str], by: Sequence[str], total: str) -> list[tuple[list[int], int]]:
    """Each line of the cube as (interior row indices, total row index)."""
    indexed = frame.with_row_index("_cell")
    out: list[tuple[list[int], int]] = []
    for dim in dims:
        others = [*by, *(d for d in dims if d != dim)]
        grouped = indexed.group_by(others).agg(
            pl.col("_cell").filter(pl.col(dim) != total).alias("interior"),
            pl.col("_cell").filter(pl.col(dim) == total).alias("total"),
        )
        for interior, total_cells in grouped.select("interior", "total").iter_rows():
            if interior and len(total_cells) == 1:
                out.append(([int(i) for i in interior], int(total_cells[0])))
    return out


def _one_blas_thread():  # noqa: ANN202
    """Small dense algebra runs far faster on one BLAS thread, above all on a busy machine."""
    if threadpool_limits is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _determined(lines: list[tuple[list[int], int]], hidden: set[int]) -> set[int]:
    """Hidden cells whose value the line equations fix exactly.

    The system splits into independent blocks (hidden cells linked by sharing
    a line); each block is solved on its own, which keeps the matrices small.
    """
    parent = {cell: cell for cell in hidden}

    def root(cell: int) -> int:
        while parent[cell] != cell:
            parent[cell] = parent[parent[cell]]
            cell = parent[cell]
        return cell

    touching: list[list[tuple[int, float]]] = []
    for interior, total in lines:
        terms = [(c, 1.0) for c in interior if c in parent] + ([(total, -1.0)] if total in parent else [])
        if terms:
            touching.append(terms)
            first = root(terms[0][0])
            for cell, _ in terms[1:]:
                parent[root(cell)] = first
    blocks: dict[int, list[list[tuple[int, float]]]] = defaultdict(list)
    for terms in touching:
        blocks[root(terms[0][0])].append(terms)
    exposed: set[int] = set()
    with _one_blas_thread():
        for block in blocks.values():
            exposed |= _determined_block(block)
    return exposed


def _determined_block(equations: list[list[tuple[int, float]]]) -> set[int]:
    order = sorted({cell for terms in equations for cell, _ in terms})
    column = {cell: j for j, cell in enumerate(order)}
    matrix = np.zeros((len(equations), len(order)))
    for i, terms in enumerate(equations):
        for cell, sign in terms:
            matrix[i, column[cell]] += sign
    # the null space of A is that of the small symmetric A'A (cells x cells)
    eigenvalues, eigenvectors = np.linalg.eigh(matrix.T @ matrix)
    null_space = eigenvectors[:, eigenvalues <= 1e-9 * max(1.0, float(eigenvalues.max()))]
    if null_space.shape[1] == 0:
        return set(order)
    norms = np.linalg.norm(null_space, axis=1)
    return {order[j] for j in range(len(order)) if norms[j] < 1e-6}


def _protected(
    counts: list[int], is_total: list[bool], lines: list[tuple[list[int], int]], hidden: set[int]
) -> set[int]:
    """Grow `hidden` until no hidden cell is recoverable from the visible ones."""
    hidden = set(hidden)
    cells_of_line = [[*interior, total] for interior, total in lines]
    lines_of_cell: dict[int, list[int]] = defaultdict(list)
    for index, cells in enumerate(cells_of_line):
        for cell in cells:
            lines_of_cell[cell].append(index)

    def cheapest(candidates: list[int]) -> int | None:
        open_cells = [c for c in candidates if c not in hidden]
        if not open_cells:
            return None
        return min(open_cells, key=lambda c: (counts[c] == 0, counts[c], is_total[c], c))

    while True:
        grew = False
        for cells in cells_of_line:
            if sum(1 for c in cells if c in hidden) == 1:
                pick = cheapest(cells)
                if pick is not None:
                    hidden.add(pick)
                    grew = True
        if grew:
            continue
        exposed = _determined(lines, hidden)
        if not exposed:
            return hidden
        touched: set[int] = set()  # one new partner per line and round
        for cell in sorted(exposed):
            if touched & set(lines_of_cell[cell]):
                continue
            pick = cheapest([c for line in lines_of_cell[cell] for c in cells_of_line[line]])
            if pick is None:
                near = {c for h in hidden for line in lines_of_cell[h] for c in cells_of_line[line]}
                pick = cheapest(sorted(near))
            if pick is None:
                return hidden
            hidden.add(pick)
            touched |= set(lines_of_cell[pick])


def secondary_suppressed(
    frame: pl.DataFrame,
    dims: Sequence[str],
    count: str,
    by: Sequence[str] = (),
    total: str = TOTAL,
) -> pl.DataFrame:
    """Marks further cells `suppressed` so that none can be recovered from the rest.

    Args:
        frame: a cube (`with_totals` output, or a union of cubes sharing margins)
            with a boolean `suppressed` column from `primary_suppressed`.
        dims, count, by, total: as for `with_totals`.

    Returns:
        The same rows, `suppressed` true for primary and secondary cells.
    """
    parts = frame.partition_by(list(by), maintain_order=True) if by else [frame]
    out = []
    for part in parts:
        counts = part[count].to_list()
        is_total = part.select(pl.any_horizontal(pl.col(d) == total for d in dims)).to_series().to_list()
        hidden = {i for i, flag in enumerate(part[SUPPRESSED].to_list()) if flag}
        hidden = _protected(counts, is_total, _lines(part, dims, by, total), hidden)
        out.append(part.with_columns(pl.Series(SUPPRESSED, [i in hidden for i in range(part.height)])))
    return pl.concat(out) if out else frame


def recoverable_cells(
    frame: pl.DataFrame,
    dims: Sequence[str],
    count: str,
    by: Sequence[str] = (),
    total: str = TOTAL,
) -> pl.DataFrame:
    """The suppressed rows whose count the visible cells and line totals fix exactly (should be none)."""
    parts = frame.partition_by(list(by), maintain_order=True) if by else [frame]
    out = []
    for part in parts:
        hidden = {i for i, flag in enumerate(part[SUPPRESSED].to_list()) if flag}
        exposed = _determined(_lines(part, dims, by, total), hidden)
        out.append(part.with_row_index("_cell").filter(pl.col("_cell").is_in(sorted(exposed))).drop("_cell"))
    return pl.concat(out) if out else frame.clear()


def masked(frame: pl.DataFrame, count: str) -> pl.DataFrame:
    """The release form: `count` null where `suppressed`."""
    return frame.with_columns(
        pl.when(pl.col(SUPPRESSED)).then(None).otherwise(pl.col(count)).alias(count)
    )
