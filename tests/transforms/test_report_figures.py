"""The report's figures on synthetic published data: periods, counts, suppression, estimates."""

from __future__ import annotations

import random
from datetime import date, timedelta

import polars as pl
import pytest

from tests.transforms.test_disclosure import attack
from transforms.capture_recapture import chapman
from transforms.disclosure import SUPPRESSED, TOTAL, recoverable_cells
from transforms.report_figures import (
    MARKER,
    OTHER_AREAS,
    ReportConfig,
    ReportInputs,
    SourceSchedule,
    build_report,
    extract_gaps,
    half_year,
    period_sequence,
    previous_period,
    span,
    year_earlier,
)

THRESHOLD = 5
CATEGORIES = ["Extreme Violence", "Assault", "Damage & Desecration", "Threats", "Abusive Behaviour", "Literature"]
STARTS = {"gmp": date(2025, 1, 1), "mps": date(2025, 4, 1), "tiny": date(2026, 1, 1)}
CONFIG = ReportConfig(
    suppression_threshold=THRESHOLD,
    cst=SourceSchedule("cst", None, 1),
    forces=tuple(SourceSchedule(f, d, 7) for f, d in STARTS.items()),
    linkage_thresholds={"match": 0.6, "review": 0.3},
)


def synthetic_incidents(seed: int = 3) -> pl.DataFrame:
    """About 3,000 incidents 2025-01..2026-06: two large forces, one tiny one, other areas, rare categories."""
    rng = random.Random(seed)
    rows = []
    day0 = date(2025, 1, 1)
    for _ in range(3000):
        day = day0 + timedelta(days=rng.randrange(546))
        force = rng.choices(["gmp", "mps", "tiny", "hertfordshire", "unknown"], [40, 45, 0.4, 10, 4])[0]
        category = rng.choices(CATEGORIES, [0.3, 6, 10, 8, 70, 6])[0]
        participating = force in STARTS and day >= STARTS[force]
        route = rng.choice(["cst_only", "police_only", "both"]) if participating else "cst_only"
        location = "unknown" if route == "police_only" else rng.choices(["street", "online", "synagogue", "cemetery"], [50, 40, 9, 0.5])[0]
        rows.append({
            "incident_date": day, "police_force": force, "category": category, "location_type": location,
            "reporting_route": route, "participating": participating,
            "cst_reports": 0 if route == "police_only" else rng.choice([1, 1, 1, 2]),
            "police_crimes": 0 if route == "cst_only" else rng.choice([1, 1, 2, 3]),
        })
    return pl.DataFrame(rows)


def synthetic_inputs(incidents: pl.DataFrame | None = None) -> ReportInputs:
    incidents = synthetic_incidents() if incidents is None else incidents
    extracts = pl.DataFrame({
        "source_id": ["cst"] * 3 + ["gmp"] * 4 + ["mps", "tiny"],
        "extract_date": [date(2026, 1, 5), date(2026, 1, 6), date(2026, 6, 29),
                         date(2026, 1, 4), date(2026, 1, 11), date(2026, 3, 1), date(2026, 3, 8),
                         date(2026, 2, 1), date(2026, 5, 2)],
        "extracts": [1] * 9,
        "extracts_quarantined": [0, 0, 0, 0, 0, 1, 0, 0, 0],
        "rows_read": [400, 3, 2, 50, 60, 0, 70, 300, 2],
        "rows_loaded": [398, 3, 2, 50, 60, 0, 69, 300, 2],
        "rows_quarantined": [2, 0, 0, 0, 0, 0, 1, 0, 0],
    })
    quarantine = pl.DataFrame({
        "source_id": ["cst", "gmp", "gmp"], "extract_date": [date(2026, 1, 5), date(2026, 3, 1), date(2026, 3, 8)],
        "rule": ["incident_date_valid", "file_readable", "crime_ref_present"],
        "rows_quarantined": [2, 0, 1], "rows_open": [1, 0, 1], "files_quarantined": [0, 1, 0], "files_open": [0, 1, 0],
    })
    queue = pl.DataFrame({
        "police_force": ["gmp", "gmp", "mps", "tiny"],
        "incident_date": [date(2026, 2, 1), date(2025, 5, 1), date(2026, 3, 3), date(2026, 4, 4)],
        "pairs": [12, 30, 2, 1],
    })
    reviewed = pl.DataFrame({
        "police_force": ["gmp"] * 4 + ["mps"] * 2,
        "incident_date": [date(2026, 2, 1)] * 4 + [date(2025, 8, 1)] * 2,
        "model_status": ["matched", "matched", "review", "review", "review", "rejected"],
        "decision": ["accept", "reject", "accept", "reject", "accept", "reject"],
        "pairs": [40, 3, 25, 30, 8, 9],
    })
    return ReportInputs(
        incidents=incidents, categories=CATEGORIES,
        participating_forces=pl.DataFrame({"force_id": list(STARTS), "participating_from": list(STARTS.values())}),
        publication={"run_id": "r1", "data_as_of": date(2026, 7, 15), "code_version": "abc"},
        extracts=extracts, quarantine=quarantine, review_queue=queue, reviewed_pairs=reviewed,
    )


@pytest.fixture(scope="module")
def report():
    return build_report(synthetic_inputs(), half_year("2026-H1"), CONFIG)


# ------------------------------------------------------------------------- periods


def test_half_years_and_their_comparisons() -> None:
    h1 = half_year("2026-H1")
    assert (h1.start, h1.end) == (date(2026, 1, 1), date(2026, 6, 30))
    assert previous_period(h1).label == "2025-H2"
    assert year_earlier(h1).label == "2025-H1"
    assert previous_period(half_year("2026-H2")).label == "2026-H1"
    assert span(date(2026, 7, 1), date(2026, 12, 31)).label == "2026-H2"
    with pytest.raises(ValueError):
        half_year("2026-H3")


def test_custom_spans_compare_with_the_same_length_before_and_a_year_earlier() -> None:
    q1 = span(date(2026, 1, 1), date(2026, 3, 31))
    before = previous_period(q1)
    assert (before.start, before.end) == (date(2025, 10, 3), date(2025, 12, 31))
    assert before.days == q1.days
    earlier = year_earlier(q1)
    assert (earlier.start, earlier.end) == (date(2025, 1, 1), date(2025, 3, 31))
    assert q1.slug == "2026-01-01_2026-03-31"
    with pytest.raises(ValueError):
        span(date(2026, 2, 1), date(2026, 1, 1))


def test_period_sequence_stops_at_the_data() -> None:
    labels = [p.label for p in period_sequence(half_year("2026-H1"), date(2025, 2, 1))]
    assert labels == ["2025-H1", "2025-H2", "2026-H1"]


# ---------------------------------------------------------------------- figures


def _direct(incidents: pl.DataFrame, start: date, end: date) -> dict[str, int]:
    rows = incidents.filter(pl.col("incident_date").is_between(start, end))
    counts = dict(rows.group_by("reporting_route").len().iter_rows())
    return {**counts, TOTAL: rows.height}


def test_headline_figures_equal_direct_counts(report) -> None:
    incidents = synthetic_incidents()
    headline = report.tables["headline"]
    for label, period in (("2026-H1", report.period), ("2025-H2", report.previous), ("2025-H1", report.year_earlier)):
        direct = _direct(incidents, period.start, period.end)
        for route, row_label in (("cst_only", "CST only"), ("police_only", "Police only"), ("both", "Both"), (TOTAL, "All routes")):
            cell = headline.cell(row_label, label)
            assert cell.suppressed or cell.value == direct.get(route, 0), (label, route)
    assert headline.cell("All routes", "2026-H1").value == _direct(incidents, date(2026, 1, 1), date(2026, 6, 30))[TOTAL]


def test_force_table_splits_participating_forces_from_other_areas(report) -> None:
    forces = report.tables["forces"]
    assert [row[0].text for row in forces.rows] == ["GMP", "MPS", "TINY", "Other areas", "Total"]
    other = forces.cell("Other areas", "Police only")
    assert other.value == 0 and not other.suppressed
    incidents = synthetic_incidents().filter(pl.col("incident_date").is_between(date(2026, 1, 1), date(2026, 6, 30)))
    checked = 0
    for force in ("gmp", "mps", "tiny"):
        for route, column in (("cst_only", "CST only"), ("police_only", "Police only"), ("both", "Both")):
            cell = forces.cell(force.upper(), column)
            direct = incidents.filter(
                (pl.col("police_force") == force) & (pl.col("reporting_route") == route) & pl.col("participating")
            ).height
            assert cell.suppressed or cell.value == direct, (force, route)
            checked += not cell.suppressed
    assert checked >= 2  # the tiny force's small cells take partners in the large forces' columns


def _count_cells(report):
    for table in report.tables.values():
        for row in table.rows:
            for cell in row:
                if cell.is_count:
                    yield table.id, cell


def test_no_small_count_is_visible_in_any_table(report) -> None:
    cells = list(_count_cells(report))
    assert any(c.suppressed for _, c in cells)  # the tiny force and the rare category need it
    for table_id, cell in cells:
        if cell.suppressed:
            assert cell.text == MARKER and cell.value is None, table_id
        else:
            assert not 1 <= cell.value <= THRESHOLD, (table_id, cell)


def test_chart_labels_follow_the_tables(report) -> None:
    for name in ("months", "categories", "forces", "locations"):
        frame = report.charts[name]
        hidden = frame.filter(pl.col("suppressed"))
        assert hidden["value"].null_count() == hidden.height
        assert set(hidden["text"]) <= {MARKER}
        shown = frame.filter(~pl.col("suppressed"))
        assert not shown.filter(pl.col("value").is_between(1, THRESHOLD)).height, name
    assert report.charts["categories"]["suppressed"].any()


def test_no_suppressed_count_can_be_worked_out(report) -> None:
    for name, cube in report.cubes.items():
        dims = [c for c in cube.columns if c not in ("n", SUPPRESSED)]
        assert recoverable_cells(cube, dims, "n").is_empty(), name
        released = cube.with_columns(pl.when(pl.col(SUPPRESSED)).then(None).otherwise(pl.col("n")).alias("n"))
        assert attack(released, dims, [], count="n") == {}, name


def test_shares_are_hidden_when_their_counts_are(report) -> None:
    coverage = report.tables["coverage"]
    for row in coverage.rows:
        crimes, known, share = row[1], row[2], row[3]
        assert share.suppressed == (crimes.suppressed or known.suppressed)
        if not share.suppressed and crimes.value:
            assert share.value == pytest.approx(known.value / crimes.value)
    assert coverage.cell("TINY", "Also known to CST").suppressed


def test_capture_recapture_only_where_the_counts_are_visible(report) -> None:
    # the tiny force's small cells take partners among the large forces' cells: no estimate may give them away
    forces = report.tables["forces"]
    shown = {e["force"] for e in report.estimates}
    for row in report.tables["capture_recapture"].rows:
        force = row[0].text
        hidden = any(forces.cell(force, c).suppressed for c in ("CST only", "Police only", "Both"))
        assert hidden == all(c.text == MARKER for c in row[1:4]), force
        if hidden:
            assert force.lower() not in shown


def test_capture_recapture_matches_chapman_for_large_forces() -> None:
    inputs = synthetic_inputs(synthetic_incidents().filter(pl.col("police_force") != "tiny"))
    inputs.participating_forces = inputs.participating_forces.filter(pl.col("force_id") != "tiny")
    report = build_report(inputs, half_year("2026-H1"), CONFIG)
    forces = report.tables["forces"]
    estimates = {e["force"]: e for e in report.estimates}
    assert set(estimates) == {"gmp", "mps"}
    for force, estimate in estimates.items():
        m = forces.cell(force.upper(), "Both").value
        n1 = forces.cell(force.upper(), "CST only").value + m
        n2 = forces.cell(force.upper(), "Police only").value + m
        assert (estimate["n1"], estimate["n2"], estimate["m"]) == (n1, n2, m)
        expected = chapman(n1, n2, m)
        assert estimate["population"] == pytest.approx(expected.population)
        assert (estimate["lower"], estimate["upper"]) == (pytest.approx(expected.lower), pytest.approx(expected.upper))
        row = next(r for r in report.tables["capture_recapture"].rows if r[0].text == force.upper())
        assert row[4].text == f"≈ {round(expected.population):,}"


def test_data_quality_tables(report) -> None:
    extracts = report.tables["extracts"]
    gmp = next(row for row in extracts.rows if row[0].text == "GMP")
    assert gmp[2].value == 4  # extracts dated in the period
    assert gmp[4].value == 114  # 8 March to 30 June
    assert gmp[6].value == 1  # quarantined whole
    quarantine = report.tables["quarantine"]
    assert quarantine.cell("CST", "Rows quarantined").suppressed  # 2 rows
    queue = report.tables["review_queue"]
    assert queue.cell("GMP", "Pairs, incidents of the period").value == 12
    assert queue.cell("GMP", "Pairs, all dates").value == 42
    quality = report.tables["linkage_quality"]
    all_pairs = quality.rows[1]
    assert all_pairs[1].value == 115
    # precision 40 / 43 hides: the 3 rejected matches are a small cell
    assert all_pairs[5].suppressed
    assert (all_pairs[2].value, all_pairs[3].value) == (73, 42)
    period_pairs = quality.rows[0]
    assert period_pairs[1].value == 98  # the gmp pairs of incidents in 2026-H1
    for cell in (*all_pairs[5:], *period_pairs[5:]):  # rates built on a hidden count are hidden
        assert cell.suppressed and cell.text == MARKER


def test_extract_gaps_run_from_the_extract_before_to_the_one_after() -> None:
    dates = [date(2025, 12, 27), date(2026, 1, 3), date(2026, 1, 10), date(2026, 1, 24), date(2026, 2, 7)]
    received, waits = extract_gaps(dates, date(2026, 1, 1), date(2026, 1, 31), 7)
    assert received == 3
    assert waits == [7, 7, 14, 14]
    assert extract_gaps([], date(2026, 1, 1), date(2026, 1, 31), 7) == (0, [30])


def test_empty_period_renders_zeros() -> None:
    inputs = synthetic_inputs()
    report = build_report(inputs, half_year("2027-H1"), CONFIG)
    assert report.tables["headline"].cell("All routes", "2027-H1").value == 0
    assert any("not complete" in note for note in report.notes)
    assert report.estimates == []


def test_other_areas_label_is_not_a_force() -> None:
    assert OTHER_AREAS not in STARTS


def test_a_chart_with_nothing_to_draw_renders_as_a_note():
    from flows.report import render_charts

    # A chart of no size: vl-convert cannot rasterise it ("SVG has an invalid size").
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Empty",
        "width": 0,
        "height": 0,
        "autosize": "none",
        "padding": 0,
        "data": {"values": []},
        "mark": "point",
    }
    out = render_charts({"empty": spec})
    assert "No incidents to show" in out["empty"]["svg"]
    assert out["empty"]["png"].startswith(b"\x89PNG")
