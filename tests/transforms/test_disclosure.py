"""Small-cell suppression: primary cells, secondary cells, and an attacker who tries to undo them.

The attacker here is independent of transforms.disclosure: it knows every
visible cell and every line equation (interior cells sum to the line's
total) and (1) repeatedly solves any line with a single unknown, then (2)
runs exact rational Gauss-Jordan elimination on the whole system, reading
off every unknown the equations pin down.
"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import polars as pl
import pytest

from transforms.disclosure import (
    SUPPRESSED,
    TOTAL,
    complete_grid,
    masked,
    primary_suppressed,
    recoverable_cells,
    secondary_suppressed,
    with_totals,
)


def line_equations(frame: pl.DataFrame, dims: list[str], by: list[str]) -> list[tuple[list[int], int]]:
    """(interior rows, total row) for every line of the published cube(s)."""
    keys = [tuple(r) for r in frame.select(*by, *dims).rows()]
    assert len(set(keys)) == len(keys)
    width = len(by)
    lines: dict[tuple, tuple[list[int], list[int]]] = {}
    for i, key in enumerate(keys):
        for d in range(len(dims)):
            rest = (d, key[: width + d] + key[width + d + 1 :])
            interior, total = lines.setdefault(rest, ([], []))
            (total if key[width + d] == TOTAL else interior).append(i)
    return [(interior, total[0]) for interior, total in lines.values() if interior and total]


def attack(
    released: pl.DataFrame, dims: list[str], by: list[str], count: str = "n", exact: bool = True
) -> dict[int, int]:
    """Every suppressed row whose true count the attacker can work out, with that count."""
    known = {i: v for i, v in enumerate(released[count].to_list()) if v is not None}
    unknown = [i for i, v in enumerate(released[count].to_list()) if v is None]
    equations = line_equations(released, dims, by)
    recovered: dict[int, int] = {}
    # (1) subtraction: a line with one unknown gives it away
    changed = True
    while changed:
        changed = False
        for interior, total in equations:
            cells = [*interior, total]
            missing = [c for c in cells if c not in known and c not in recovered]
            if len(missing) == 1:
                values = {**known, **recovered}
                rest = sum(values[c] for c in interior if c != missing[0])
                value = values[total] - rest if missing[0] != total else rest
                recovered[missing[0]] = value
                changed = True
    if not exact:
        return recovered
    # (2) exact elimination over the rationals
    columns = {cell: j for j, cell in enumerate(c for c in unknown if c not in recovered)}
    matrix = []
    values = {**known, **recovered}
    for interior, total in equations:
        row = [Fraction(0)] * (len(columns) + 1)
        rhs = Fraction(0)
        for cell, sign in [*((c, 1) for c in interior), (total, -1)]:
            if cell in columns:
                row[columns[cell]] += sign
            else:
                rhs -= sign * values[cell]
        if any(row[:-1]):
            row[-1] = rhs
            matrix.append(row)
    pivot_row = 0
    pivots = []
    for col in range(len(columns)):
        pick = next((r for r in range(pivot_row, len(matrix)) if matrix[r][col] != 0), None)
        if pick is None:
            continue
        matrix[pivot_row], matrix[pick] = matrix[pick], matrix[pivot_row]
        lead = matrix[pivot_row][col]
        matrix[pivot_row] = [x / lead for x in matrix[pivot_row]]
        for r in range(len(matrix)):
            if r != pivot_row and matrix[r][col] != 0:
                factor = matrix[r][col]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[pivot_row], strict=True)]
        pivots.append((pivot_row, col))
        pivot_row += 1
    cell_of = {j: cell for cell, j in columns.items()}
    for r, col in pivots:
        if all(matrix[r][k] == 0 for k in range(len(columns)) if k != col):
            recovered[cell_of[col]] = int(matrix[r][-1])
    return recovered


def released_cube(true_counts: pl.DataFrame, dims: list[str], by: list[str], threshold: int) -> pl.DataFrame:
    cube = with_totals(complete_grid(true_counts, dims, "n", by), dims, "n", by)
    protected = secondary_suppressed(primary_suppressed(cube, "n", threshold), dims, "n", by)
    return protected


def random_counts(seed: int, shape: dict[str, int], by: list[str] | None = None) -> pl.DataFrame:
    rng = random.Random(seed)
    rows = []
    groups = [("2026-H1",), ("2026-H2",)] if by else [()]
    for group in groups:
        for combo in itertools.product(*([f"{d}{i}" for i in range(k)] for d, k in shape.items())):
            n = rng.choice([0, 0, 1, 1, 2, 3, 4, 5, 6, 8, 12, 30, 80])
            if n:
                rows.append({**dict(zip(by or [], group, strict=True)), **dict(zip(shape, combo, strict=True)), "n": n})
    return pl.DataFrame(rows)


def test_primary_marks_one_to_threshold_and_shows_zeros() -> None:
    frame = pl.DataFrame({"n": [0, 1, 3, 5, 6, 100]})
    assert primary_suppressed(frame, "n", 5)[SUPPRESSED].to_list() == [False, True, True, True, False, False]
    assert primary_suppressed(frame, "n", 2)[SUPPRESSED].to_list() == [False, True, False, False, False, False]


def test_totals_form_a_cube() -> None:
    frame = pl.DataFrame({"a": ["x", "x", "y"], "b": ["p", "q", "p"], "n": [1, 2, 4]})
    cube = with_totals(complete_grid(frame, ["a", "b"], "n"), ["a", "b"], "n")
    assert cube.height == 9  # 2x2 + 2 + 2 + 1
    get = {(r["a"], r["b"]): r["n"] for r in cube.iter_rows(named=True)}
    assert get[("y", "q")] == 0 and get[("x", TOTAL)] == 3 and get[(TOTAL, "p")] == 5 and get[(TOTAL, TOTAL)] == 7


def test_a_single_small_cell_cannot_be_recovered_by_subtraction() -> None:
    counts = pl.DataFrame({"force": ["gmp", "gmp", "mps", "mps"], "route": ["both", "cst_only", "both", "cst_only"], "n": [3, 20, 7, 30]})
    protected = released_cube(counts, ["force", "route"], [], 5)
    hidden = protected.filter(pl.col(SUPPRESSED))
    assert hidden.height >= 4  # 3 plus a partner in its row, its column and the opposite corner
    released = masked(protected, "n")
    assert attack(released, ["force", "route"], []) == {}
    assert recoverable_cells(protected, ["force", "route"], "n").is_empty()


def test_without_secondary_suppression_the_attack_works() -> None:
    """Guards the attacker itself: primary suppression alone leaks the cell."""
    counts = pl.DataFrame({"force": ["gmp", "gmp", "mps", "mps"], "route": ["both", "cst_only", "both", "cst_only"], "n": [3, 20, 7, 30]})
    cube = primary_suppressed(with_totals(complete_grid(counts, ["force", "route"], "n"), ["force", "route"], "n"), "n", 5)
    released = masked(cube, "n")
    recovered = attack(released, ["force", "route"], [])
    truth = cube["n"].to_list()
    assert recovered and all(truth[i] == v for i, v in recovered.items())
    assert not recoverable_cells(cube, ["force", "route"], "n").is_empty()


def test_a_cell_equal_to_its_total_drags_the_total_along() -> None:
    counts = pl.DataFrame({"force": ["gmp", "mps", "mps"], "route": ["both", "both", "cst_only"], "n": [2, 40, 50]})
    protected = released_cube(counts, ["force", "route"], [], 5)
    hidden = {(r["force"], r["route"]) for r in protected.filter(pl.col(SUPPRESSED)).iter_rows(named=True)}
    assert ("gmp", "both") in hidden and ("gmp", TOTAL) in hidden
    assert attack(masked(protected, "n"), ["force", "route"], []) == {}


@pytest.mark.parametrize("seed", range(12))
def test_random_three_way_tables_resist_the_attack(seed: int) -> None:
    dims = ["force", "category", "route"]
    counts = random_counts(seed, {"force": 3, "category": 4, "route": 3}, by=["half_year"])
    protected = released_cube(counts, dims, ["half_year"], 5)
    primary = primary_suppressed(protected, "n", 5)[SUPPRESSED]
    assert (protected[SUPPRESSED] | ~primary).all()  # every primary cell stays suppressed
    released = masked(protected, "n")
    assert attack(released, dims, ["half_year"]) == {}
    visible = protected.filter(~pl.col(SUPPRESSED))
    assert not (visible["n"].is_between(1, 5)).any()


@pytest.mark.parametrize("seed", range(6))
def test_two_tables_sharing_margins_are_protected_together(seed: int) -> None:
    """By category and by location type share their force x route totals."""
    by = ["half_year"]
    rng = random.Random(seed)
    base = random_counts(seed, {"force": 3, "category": 4, "route": 3}, by=by)
    by_location = base.with_columns(
        pl.Series("location", [f"location{rng.randrange(3)}" for _ in range(base.height)])
    ).group_by(["half_year", "force", "location", "route"]).agg(pl.col("n").sum())
    cat_cube = with_totals(complete_grid(base, ["force", "category", "route"], "n", by), ["force", "category", "route"], "n", by)
    loc_cube = with_totals(complete_grid(by_location, ["force", "location", "route"], "n", by), ["force", "location", "route"], "n", by)
    dims = ["force", "category", "location", "route"]
    union = pl.concat([
        cat_cube.with_columns(pl.lit(TOTAL).alias("location")).select(*by, *dims, "n"),
        loc_cube.with_columns(pl.lit(TOTAL).alias("category")).select(*by, *dims, "n"),
    ]).unique([*by, *dims]).sort([*by, *dims])
    protected = secondary_suppressed(primary_suppressed(union, "n", 3), dims, "n", by)
    assert attack(masked(protected, "n"), dims, by) == {}
    assert recoverable_cells(protected, dims, "n", by).is_empty()
