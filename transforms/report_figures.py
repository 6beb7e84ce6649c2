"""The six-monthly report's figures: pure functions, frames in, tables out (issue 8).

`build_report(inputs, period, config)` turns frames read from the published
database (the flow does the reading) into display-ready tables, chart data and
text. Nothing here reads files or the database.

Disclosure control (`transforms.disclosure`): every count shown is part of a
protected cube. The period's tables (incidents by month, force area,
category and location type, each by route) share their route totals and are
protected together as one union of cubes; each comparison period, the
coverage counts (crimes, reports) and each data-quality table are cubes of
their own. Counts from 1 to the threshold are suppressed, then further cells
until none can be worked out from the totals; a suppressed cell shows
`MARKER` in tables and chart labels and draws no bar. A share, a change or an
estimate is shown only when every count it is computed from is visible.
Counts of extract files and of days are not about people and are shown as
they are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from transforms.capture_recapture import INDEPENDENCE_CAVEAT, MIN_OVERLAP, chapman, enough_data
from transforms.disclosure import (
    SUPPRESSED,
    TOTAL,
    complete_grid,
    primary_suppressed,
    secondary_suppressed,
    with_totals,
)

MARKER = "[c]"
NOT_APPLICABLE = "–"
ROUTES = ("cst_only", "police_only", "both")
ROUTE_LABELS = {"cst_only": "CST only", "police_only": "Police only", "both": "Both", TOTAL: "All routes"}
OTHER_AREAS = "other areas"
COUNT = "n"
PERIOD_DIMS = ("month", "area", "category", "location_type", "reporting_route")
HISTORY_LIMIT = 8  # periods shown in "overlap over time", the report's own included

INCIDENT_COLUMNS = {
    "incident_date": pl.Date,
    "police_force": pl.String,
    "category": pl.String,
    "location_type": pl.String,
    "reporting_route": pl.String,
    "participating": pl.Boolean,
    "cst_reports": pl.Int64,
    "police_crimes": pl.Int64,
}


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """A span of incident dates, both ends included."""

    label: str
    start: date
    end: date
    kind: str = "span"  # half_year | span

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def slug(self) -> str:
        """File-name form: `2026-H1`, or `2026-01-01_2026-03-31`."""
        return self.label if self.kind == "half_year" else f"{self.start:%Y-%m-%d}_{self.end:%Y-%m-%d}"


_HALF_YEAR = re.compile(r"^(\d{4})-H([12])$")


def half_year(label: str) -> Period:
    """`2026-H1` = 1 January to 30 June 2026; `2026-H2` = 1 July to 31 December."""
    match = _HALF_YEAR.match(label.strip().upper())
    if not match:
        raise ValueError(f"not a half-year: {label!r} (expected YYYY-H1 or YYYY-H2)")
    year, half = int(match.group(1)), int(match.group(2))
    if half == 1:
        return Period(f"{year}-H1", date(year, 1, 1), date(year, 6, 30), "half_year")
    return Period(f"{year}-H2", date(year, 7, 1), date(year, 12, 31), "half_year")


def span(start: date, end: date) -> Period:
    """Any span of days; a span that is exactly a half-year becomes that half-year."""
    if end < start:
        raise ValueError(f"the span ends ({end}) before it starts ({start})")
    for half in (1, 2):
        candidate = half_year(f"{start.year}-H{half}")
        if (candidate.start, candidate.end) == (start, end):
            return candidate
    return Period(f"{start:%d %b %Y} to {end:%d %b %Y}", start, end, "span")


def _shift_year(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def previous_period(period: Period) -> Period:
    """The half-year before, or the span of the same length just before."""
    if period.kind == "half_year":
        year, half = int(period.label[:4]), int(period.label[-1])
        return half_year(f"{year - 1}-H2") if half == 1 else half_year(f"{year}-H1")
    end = period.start - timedelta(days=1)
    return span(end - timedelta(days=period.days - 1), end)


def year_earlier(period: Period) -> Period:
    """The same half (or span) one year earlier."""
    if period.kind == "half_year":
        return half_year(f"{int(period.label[:4]) - 1}-{period.label[-2:]}")
    return span(_shift_year(period.start, -1), _shift_year(period.end, -1))


def period_sequence(period: Period, earliest: date | None, limit: int = HISTORY_LIMIT) -> list[Period]:
    """Consecutive periods of the same kind ending with `period`, oldest first, none before `earliest`."""
    out = [period]
    while len(out) < limit:
        before = previous_period(out[0])
        if earliest is None or before.end < earliest:
            break
        out.insert(0, before)
    return out


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class SourceSchedule:
    """A sender from the configuration: when it joined and how often it sends."""

    id: str
    participating_from: date | None
    cadence_days: int


@dataclass(frozen=True)
class ReportConfig:
    """What the report needs from the configuration (the methodology is written from it)."""

    suppression_threshold: int
    cst: SourceSchedule
    forces: tuple[SourceSchedule, ...]
    linkage_thresholds: dict[str, float]
    linkage_method: str = "ecm"
    min_overlap: int = MIN_OVERLAP

    @property
    def sources(self) -> tuple[SourceSchedule, ...]:
        return (self.cst, *self.forces)

    @property
    def estimate_min_overlap(self) -> int:
        """An estimate needs its overlap visible (above the threshold) and at least `min_overlap`."""
        return max(self.min_overlap, self.suppression_threshold + 1)


@dataclass
class ReportInputs:
    """Frames read from the published database (see docs/data-dictionary.md)."""

    incidents: pl.DataFrame  # INCIDENT_COLUMNS
    categories: list[str]  # by seriousness
    participating_forces: pl.DataFrame  # force_id, participating_from
    publication: dict[str, Any]  # run_id, data_as_of, code_version, published_at
    extracts: pl.DataFrame  # data_quality_extracts
    quarantine: pl.DataFrame  # data_quality_quarantine
    review_queue: pl.DataFrame  # data_quality_review_queue
    reviewed_pairs: pl.DataFrame  # data_quality_linkage


# --------------------------------------------------------------------------- output


@dataclass(frozen=True)
class Cell:
    text: str
    value: float | None = None
    suppressed: bool = False
    kind: str = "text"  # text | count | share | change | estimate | days

    @property
    def is_count(self) -> bool:
        return self.kind == "count"


@dataclass
class Table:
    id: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    note: str = ""

    def records(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def cell(self, row_label: str, column: str) -> Cell:
        for row in self.rows:
            if row[0].text == row_label:
                return row[self.columns.index(column)]
        raise KeyError(f"{self.id}: no row {row_label!r}")


@dataclass
class Report:
    period: Period
    previous: Period
    year_earlier: Period
    history: list[Period]
    config: ReportConfig
    publication: dict[str, Any]
    summary: list[str]
    tables: dict[str, Table]
    charts: dict[str, pl.DataFrame]
    methodology: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)
    cubes: dict[str, pl.DataFrame] = field(default_factory=dict)  # exact counts + suppressed, for audits
    estimates: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------- formatting helpers


def fmt_count(value: float) -> str:
    return f"{int(value):,}"


def fmt_share(value: float) -> str:
    return f"{100 * value:.0f}%"


def fmt_change(value: float) -> str:
    return f"{100 * value:+.0f}%"


def count_cell(value: int | None, suppressed: bool) -> Cell:
    if suppressed:
        return Cell(MARKER, None, True, "count")
    return Cell(fmt_count(value or 0), int(value or 0), False, "count")


def ratio_cell(numerator: Cell, denominator: Cell, kind: str = "share") -> Cell:
    """numerator / denominator, hidden when either is suppressed."""
    if numerator.suppressed or denominator.suppressed:
        return Cell(MARKER, None, True, kind)
    if not denominator.value:
        return Cell(NOT_APPLICABLE, None, False, kind)
    value = numerator.value / denominator.value
    return Cell(fmt_share(value), value, False, kind)


def change_cell(now: Cell, before: Cell) -> Cell:
    if now.suppressed or before.suppressed:
        return Cell(MARKER, None, True, "change")
    if not before.value:
        return Cell(NOT_APPLICABLE, None, False, "change")
    value = (now.value - before.value) / before.value
    return Cell(fmt_change(value), value, False, "change")


def text(value: Any) -> Cell:
    return Cell(str(value))


# ------------------------------------------------------------------------ protection


class Cube:
    """A protected union of cubes: exact counts, `suppressed`, and cells to display."""

    def __init__(self, frame: pl.DataFrame, dims: Sequence[str], count: str = COUNT) -> None:
        self.frame = frame
        self.dims = list(dims)
        self.count = count
        self._index = {
            tuple(row[:-2]): (row[-2], row[-1])
            for row in frame.select(*self.dims, count, SUPPRESSED).iter_rows()
        }

    def cell(self, **coords: str) -> Cell:
        key = tuple(coords.get(d, TOTAL) for d in self.dims)
        value, suppressed = self._index.get(key, (0, False))
        return count_cell(value, bool(suppressed))

    def values(self, dim: str) -> list[str]:
        """The dimension's values in the cube (interior only)."""
        return sorted({v for v in self.frame[dim].to_list() if v != TOTAL})


def protect(
    parts: Iterable[tuple[pl.DataFrame, Sequence[str], dict[str, Sequence[str]]]],
    dims: Sequence[str],
    threshold: int,
    count: str = COUNT,
) -> Cube:
    """Protect several tables that share margins as one union of cubes.

    Args:
        parts: (counts, the table's dimensions, the values each must show) per
            table; `counts` has the table's dimensions (strings) and `count`.
        dims: every dimension of the union; a table has `TOTAL` for the others.
        threshold: counts from 1 to this are suppressed.
    """
    cubes = []
    for frame, table_dims, values in parts:
        table_dims = list(table_dims)
        counts = frame.select(*(pl.col(d).cast(pl.String) for d in table_dims), pl.col(count).cast(pl.Int64))
        grid = complete_grid(counts, table_dims, count, (), values)
        cube = with_totals(grid, table_dims, count) if table_dims else grid
        cube = cube.with_columns(pl.lit(TOTAL).alias(d) for d in dims if d not in table_dims)
        cubes.append(cube.select(*dims, count))
    union = pl.concat(cubes).unique(list(dims), keep="first", maintain_order=True).sort(list(dims))
    protected = secondary_suppressed(primary_suppressed(union, count, threshold), list(dims), count)
    return Cube(protected, dims, count)


def _counted(frame: pl.DataFrame, keys: Sequence[str], weight: str | None = None) -> pl.DataFrame:
    aggregate = pl.col(weight).sum() if weight else pl.len()
    if frame.is_empty():
        return pl.DataFrame(schema={**{k: pl.String for k in keys}, COUNT: pl.Int64})
    return frame.group_by(list(keys)).agg(aggregate.cast(pl.Int64).alias(COUNT))


# --------------------------------------------------------------------------- incidents


def _in_period(incidents: pl.DataFrame, period: Period) -> pl.DataFrame:
    return incidents.filter(pl.col("incident_date").is_between(period.start, period.end))


def _with_area(incidents: pl.DataFrame) -> pl.DataFrame:
    """`area`: the force id while it participates, else OTHER_AREAS; `month` as YYYY-MM."""
    return incidents.with_columns(
        pl.when(pl.col("participating")).then(pl.col("police_force")).otherwise(pl.lit(OTHER_AREAS)).alias("area"),
        pl.col("incident_date").dt.strftime("%Y-%m").alias("month"),
        pl.col("category").fill_null("unknown"),
        pl.col("location_type").fill_null("unknown"),
    )


def participating_in(period: Period, forces: pl.DataFrame) -> list[str]:
    """Forces taking part on some day of the period (sorted)."""
    return sorted(
        row["force_id"]
        for row in forces.iter_rows(named=True)
        if row["participating_from"] is None or row["participating_from"] <= period.end
    )


def months_of(period: Period) -> list[str]:
    out, day = [], date(period.start.year, period.start.month, 1)
    while day <= period.end:
        out.append(f"{day:%Y-%m}")
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return out


def period_cube(incidents: pl.DataFrame, period: Period, forces: list[str], categories: list[str], threshold: int) -> Cube:
    """The period's tables (month, area, category, location type, each x route), protected together."""
    rows = _with_area(_in_period(incidents, period))
    route = {"reporting_route": ROUTES}
    parts = [
        (_counted(rows, ["month", "reporting_route"]), ["month", "reporting_route"], {"month": months_of(period), **route}),
        (_counted(rows, ["area", "reporting_route"]), ["area", "reporting_route"], {"area": [*forces, OTHER_AREAS], **route}),
        (_counted(rows, ["category", "reporting_route"]), ["category", "reporting_route"], {"category": categories, **route}),
        (_counted(rows, ["location_type", "reporting_route"]), ["location_type", "reporting_route"], route),
    ]
    return protect(parts, PERIOD_DIMS, threshold)


def area_cube(incidents: pl.DataFrame, period: Period, forces: list[str], threshold: int) -> Cube:
    """A comparison period: incidents by force area x route."""
    rows = _with_area(_in_period(incidents, period))
    return protect(
        [(_counted(rows, ["area", "reporting_route"]), ["area", "reporting_route"],
          {"area": [*forces, OTHER_AREAS], "reporting_route": ROUTES})],
        ("area", "reporting_route"),
        threshold,
    )


def coverage_cubes(incidents: pl.DataFrame, period: Period, forces: list[str], threshold: int) -> tuple[Cube, Cube]:
    """Police crimes known / not known to CST, and CST reports known / not known to the force, per force."""
    rows = _in_period(incidents, period).filter(pl.col("participating") & pl.col("police_force").is_in(forces))
    crimes = rows.filter(pl.col("reporting_route") != "cst_only").with_columns(
        pl.col("police_force").alias("area"),
        pl.when(pl.col("reporting_route") == "both").then(pl.lit("known")).otherwise(pl.lit("not known")).alias("known"),
    )
    reports = rows.filter(pl.col("reporting_route") != "police_only").with_columns(
        pl.col("police_force").alias("area"),
        pl.when(pl.col("reporting_route") == "both").then(pl.lit("known")).otherwise(pl.lit("not known")).alias("known"),
    )
    values = {"area": forces, "known": ["known", "not known"]}
    crimes_cube = protect([(_counted(crimes, ["area", "known"], "police_crimes"), ["area", "known"], values)],
                          ("area", "known"), threshold)
    reports_cube = protect([(_counted(reports, ["area", "known"], "cst_reports"), ["area", "known"], values)],
                           ("area", "known"), threshold)
    return crimes_cube, reports_cube


# ------------------------------------------------------------------------- tables


def _route_columns() -> list[str]:
    return [ROUTE_LABELS[r] for r in ROUTES] + ["Total"]


def _route_row(label: str, cube: Cube, **coords: str) -> list[Cell]:
    return [text(label), *(cube.cell(**coords, reporting_route=r) for r in ROUTES), cube.cell(**coords)]


def headline_table(current: Cube, previous: Cube, earlier: Cube, period: Period, prev: Period, year_before: Period) -> Table:
    columns = ["Reporting route", period.label, prev.label, "Change", year_before.label, "Change a year on"]
    rows = []
    for route in (*ROUTES, TOTAL):
        now = current.cell(reporting_route=route)
        before = previous.cell(reporting_route=route)
        last_year = earlier.cell(reporting_route=route)
        rows.append([text(ROUTE_LABELS[route]), now, before, change_cell(now, before), last_year,
                     change_cell(now, last_year)])
    return Table("headline", "Incidents by reporting route", columns, rows,
                 note="Change against the previous period and the same period a year earlier.")


def dimension_table(cube: Cube, dim: str, labels: list[tuple[str, str]], table_id: str, title: str, first: str,
                    note: str = "") -> Table:
    rows = [_route_row(label, cube, **{dim: value}) for value, label in labels]
    rows.append(_route_row("Total", cube))
    return Table(table_id, title, [first, *_route_columns()], rows, note)


def _order(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    values = list(dict.fromkeys(values))
    known = [v for v in preferred if v in values]
    return known + sorted(v for v in values if v not in known)


def _month_label(month: str) -> str:
    return datetime.strptime(month, "%Y-%m").strftime("%b %Y")


def force_label(force_id: str) -> str:
    return "Other areas" if force_id == OTHER_AREAS else force_id.upper()


# ------------------------------------------------------------------------ charts data


def chart_frame(cube: Cube, dim: str, values: list[tuple[str, str]]) -> pl.DataFrame:
    """Long frame for a grouped bar chart: label, route, value (null when suppressed), text."""
    rows = []
    for order, (value, label) in enumerate(values):
        for route in ROUTES:
            cell = cube.cell(**{dim: value}, reporting_route=route)
            rows.append({"order": order, "label": label, "route": ROUTE_LABELS[route],
                         "value": None if cell.suppressed else cell.value, "text": cell.text,
                         "suppressed": cell.suppressed})
    return pl.DataFrame(rows, schema={"order": pl.Int64, "label": pl.String, "route": pl.String,
                                      "value": pl.Float64, "text": pl.String, "suppressed": pl.Boolean})


# ------------------------------------------------------------------------ data quality


def _between(frame: pl.DataFrame, column: str, start: date, end: date) -> pl.DataFrame:
    return frame.filter(pl.col(column).is_between(start, end))


def gap_grace(cadence_days: int) -> int:
    """Days an extract may be late before the wait counts as a gap: a quarter of the cadence, at least one."""
    return max(1, round(cadence_days / 4))


def extract_gaps(dates: Sequence[date], start: date, end: date, cadence_days: int) -> tuple[int, list[int]]:
    """(extracts dated in [start, end], the waits overlapping it in days).

    The waits run from the last extract before `start` (else `start`) through
    each extract dated inside, to the first one after `end` (else `end`).
    """
    ordered = sorted(set(dates))
    inside = [d for d in ordered if start <= d <= end]
    before = [d for d in ordered if d < start]
    after = [d for d in ordered if d > end]
    points = [before[-1] if before else start, *inside, after[0] if after else end]
    waits = [(b - a).days for a, b in zip(points, points[1:], strict=False) if b > a]
    return len(inside), waits


def extracts_table(extracts: pl.DataFrame, period: Period, config: ReportConfig, as_of: date) -> Table:
    rows = []
    for source in config.sources:
        start = max(period.start, source.participating_from or period.start)
        end = min(period.end, as_of)
        mine = extracts.filter(pl.col("source_id") == source.id)
        label = text(source.id.upper())
        cadence = text(_cadence_text(source.cadence_days))
        if start > end:
            rows.append([label, cadence, text(NOT_APPLICABLE), text(NOT_APPLICABLE), text(NOT_APPLICABLE),
                         text(NOT_APPLICABLE), text("not taking part in the period")])
            continue
        dated = mine.filter(pl.col("extracts") > 0)["extract_date"].to_list()
        received, waits = extract_gaps(dated, start, end, source.cadence_days)
        in_period = _between(mine, "extract_date", start, end)
        expected = math.ceil(((end - start).days + 1) / source.cadence_days)
        limit = source.cadence_days + gap_grace(source.cadence_days)
        gaps = [w for w in waits if w > limit]
        quarantined = int(in_period["extracts_quarantined"].sum() or 0)
        rows.append([
            label, cadence,
            Cell(fmt_count(received), received, kind="files"),
            Cell(fmt_count(expected), expected, kind="files"),
            Cell(f"{max(waits)} days" if waits else NOT_APPLICABLE, max(waits) if waits else None, kind="days"),
            Cell(fmt_count(len(gaps)), len(gaps), kind="files"),
            Cell(fmt_count(quarantined), quarantined, kind="files"),
        ])
    return Table(
        "extracts", "Extracts received", ["Source", "Cadence", "Extracts dated in the period", "Expected",
                                          "Longest wait", "Gaps", "Extracts quarantined whole"],
        rows,
        note="An extract's date is the date in its file name, else that of its latest record. A gap is a wait between consecutive extracts "
             "longer than the cadence plus a quarter (at least one day); waits are counted from the last "
             "extract before the period to the first after it (or the end of the data).",
    )


def _cadence_text(days: int) -> str:
    return {1: "daily", 7: "weekly"}.get(days, "monthly" if 28 <= days <= 31 else f"every {days} days")


def quarantine_cubes(extracts: pl.DataFrame, quarantine: pl.DataFrame, period: Period, sources: list[str],
                     threshold: int) -> tuple[Cube, Cube, Cube]:
    """Rows loaded / quarantined (by source and by rule, one union) / still open, for the period's extracts."""
    ext = _between(extracts, "extract_date", period.start, period.end)
    qua = _between(quarantine, "extract_date", period.start, period.end)
    loaded = protect([(ext.group_by("source_id").agg(pl.col("rows_loaded").sum().alias(COUNT)),
                       ["source_id"], {"source_id": sources})], ["source_id"], threshold)
    rules = sorted(set(qua["rule"].to_list()))
    by_source = qua.group_by("source_id").agg(pl.col("rows_quarantined").sum().alias(COUNT))
    by_rule = qua.group_by("rule").agg(pl.col("rows_quarantined").sum().alias(COUNT))
    quarantined = protect(
        [(by_source, ["source_id"], {"source_id": sources}), (by_rule, ["rule"], {"rule": rules})],
        ["source_id", "rule"], threshold,
    )
    still_open = protect([(qua.group_by("source_id").agg(pl.col("rows_open").sum().alias(COUNT)),
                           ["source_id"], {"source_id": sources})], ["source_id"], threshold)
    return loaded, quarantined, still_open


def quarantine_tables(loaded: Cube, quarantined: Cube, still_open: Cube, sources: list[str]) -> tuple[Table, Table]:
    rows = [[text(s.upper()), loaded.cell(source_id=s), quarantined.cell(source_id=s), still_open.cell(source_id=s)]
            for s in sources]
    rows.append([text("Total"), loaded.cell(), quarantined.cell(), still_open.cell()])
    by_source = Table("quarantine", "Rows loaded and quarantined", ["Source", "Rows loaded", "Rows quarantined",
                                                                     "Still open"], rows,
                      note="Rows of the extracts dated in the period. A row breaking several rules counts once "
                           "per rule; 'still open' rows have not been replaced by a later extract.")
    rule_rows = [[text(r), quarantined.cell(rule=r)] for r in quarantined.values("rule")]
    rule_rows.append([text("Total"), quarantined.cell()])
    by_rule = Table("quarantine_rules", "Rows quarantined by rule", ["Rule", "Rows quarantined"], rule_rows)
    return by_source, by_rule


def review_tables(queue: pl.DataFrame, reviewed: pl.DataFrame, period: Period, forces: list[str],
                  threshold: int) -> tuple[Table, Table, dict[str, Cube]]:
    in_period = _between(queue, "incident_date", period.start, period.end)
    queue_forces = sorted(set(forces) | set(queue["police_force"].to_list()))
    period_queue = protect([(in_period.group_by("police_force").agg(pl.col("pairs").sum().alias(COUNT)),
                             ["police_force"], {"police_force": queue_forces})], ["police_force"], threshold)
    all_queue = protect([(queue.group_by("police_force").agg(pl.col("pairs").sum().alias(COUNT)),
                          ["police_force"], {"police_force": queue_forces})], ["police_force"], threshold)
    rows = [[text(f.upper()), period_queue.cell(police_force=f), all_queue.cell(police_force=f)] for f in queue_forces]
    rows.append([text("Total"), period_queue.cell(), all_queue.cell()])
    queue_table = Table("review_queue", "Linkage review queue still open",
                        ["Force", "Pairs, incidents of the period", "Pairs, all dates"], rows,
                        note="Pairs the linkage could not decide, awaiting a person. Until decided, each counts "
                             "as two incidents (one CST only, one police only).")

    statuses, decisions = ["matched", "review", "rejected", "unscored"], ["accept", "reject"]
    cubes = {"review_queue_period": period_queue.frame, "review_queue_all": all_queue.frame}
    quality_rows: list[list[Cell]] = []
    for scope, frame in (("Incidents of the period", _between(reviewed, "incident_date", period.start, period.end)),
                         ("All reviewed pairs", reviewed)):
        cube = protect([(frame.group_by("model_status", "decision").agg(pl.col("pairs").sum().alias(COUNT)),
                         ["model_status", "decision"], {"model_status": statuses[:3], "decision": decisions})],
                       ["model_status", "decision"], threshold)
        cubes[f"linkage_quality_{'period' if scope.startswith('Inc') else 'all'}"] = cube.frame
        model_matched = cube.cell(model_status="matched")
        true_positive = cube.cell(model_status="matched", decision="accept")
        accepted = cube.cell(decision="accept")
        in_band = cube.cell(model_status="review")
        quality_rows.append([
            text(scope), cube.cell(), accepted, cube.cell(decision="reject"),
            model_matched, ratio_cell(true_positive, model_matched), ratio_cell(true_positive, accepted),
            ratio_cell(cube.cell(model_status="review", decision="accept"), in_band),
        ])
    quality = Table("linkage_quality", "Linkage quality on reviewed pairs",
                    ["Pairs", "Reviewed", "Accepted", "Rejected", "Matched by the model",
                     "Precision", "Recall", "Accepted in the review band"], quality_rows,
                    note="Precision: of the reviewed pairs the model matched on its own, the share reviewers "
                         "accepted. Recall: of the pairs reviewers accepted, the share the model had matched. "
                         "Reviewed pairs are not a random sample (most come from the review band), and the "
                         "model's probability is the latest run's, which may have learnt from the decisions.")
    return queue_table, quality, cubes


# ---------------------------------------------------------------------------- report


def build_report(inputs: ReportInputs, period: Period, config: ReportConfig) -> Report:
    """Every figure, table, chart frame and paragraph of the report for `period`."""
    threshold = config.suppression_threshold
    incidents = inputs.incidents.select(
        *(pl.col(name).cast(dtype) for name, dtype in INCIDENT_COLUMNS.items())
    )
    forces_frame = inputs.participating_forces
    forces = participating_in(period, forces_frame)
    prev, year_before = previous_period(period), year_earlier(period)
    earliest = incidents["incident_date"].min()
    history = period_sequence(period, earliest)
    as_of = _as_date(inputs.publication.get("data_as_of")) or period.end

    current = period_cube(incidents, period, forces, inputs.categories, threshold)
    comparison: dict[Period, Cube] = {}
    for other in [*history[:-1], prev, year_before]:
        if other not in comparison:
            comparison[other] = area_cube(incidents, other, participating_in(other, forces_frame), threshold)
    comparison[period] = current
    crimes_cube, reports_cube = coverage_cubes(incidents, period, forces, threshold)

    tables: dict[str, Table] = {}
    tables["headline"] = headline_table(current, comparison[prev], comparison[year_before], period, prev, year_before)
    month_values = [(m, _month_label(m)) for m in months_of(period)]
    tables["months"] = dimension_table(current, "month", month_values, "months", "Incidents by month and route",
                                       "Month")
    area_values = [(f, force_label(f)) for f in [*forces, OTHER_AREAS]]
    tables["forces"] = dimension_table(
        current, "area", area_values, "forces", "Participating forces side by side", "Force area",
        note="Incidents in a participating force's area on or after the date it joined; 'Other areas' holds "
             "every other incident (CST only by definition).",
    )
    category_values = [(c, c) for c in _order(current.values("category"), inputs.categories)]
    tables["categories"] = dimension_table(current, "category", category_values, "categories",
                                           "Incidents by category and route", "Category")
    locations = sorted(current.values("location_type"), key=lambda loc: (loc == "unknown", loc))
    location_values = [(loc, loc.capitalize()) for loc in locations]
    tables["locations"] = dimension_table(
        current, "location_type", location_values, "locations", "Incidents by location type and route",
        "Location type", note="Location type is CST's; police-only incidents have none ('Unknown').",
    )
    tables["overlap"] = overlap_table(history, comparison, forces_frame)
    tables["coverage"] = coverage_table(crimes_cube, reports_cube, forces)
    estimates_table, estimates = capture_recapture_table(current, forces, config)
    tables["capture_recapture"] = estimates_table

    sources = [s.id for s in config.sources]
    tables["extracts"] = extracts_table(inputs.extracts, period, config, as_of)
    loaded, quarantined, still_open = quarantine_cubes(inputs.extracts, inputs.quarantine, period, sources, threshold)
    tables["quarantine"], tables["quarantine_rules"] = quarantine_tables(loaded, quarantined, still_open, sources)
    queue, quality, review_cubes = review_tables(inputs.review_queue, inputs.reviewed_pairs, period,
                                                 [f.id for f in config.forces], threshold)
    tables["review_queue"], tables["linkage_quality"] = queue, quality

    charts = {
        "months": chart_frame(current, "month", month_values),
        "categories": chart_frame(current, "category", category_values),
        "forces": chart_frame(current, "area", area_values),
        "locations": chart_frame(current, "location_type", location_values),
        "overlap": overlap_chart_frame(history, comparison, forces_frame),
    }
    cubes = {"period": current.frame, "coverage_crimes": crimes_cube.frame, "coverage_reports": reports_cube.frame,
             "rows_loaded": loaded.frame, "rows_quarantined": quarantined.frame, "rows_open": still_open.frame,
             **review_cubes}
    for other, cube in comparison.items():
        if other != period:
            cubes[f"areas {other.label}"] = cube.frame

    notes = []
    if period.end > as_of:
        notes.append(f"The period is not complete: the data run to {as_of:%d %B %Y}.")
    if period.start < (earliest or period.start):
        notes.append(f"The data start on {earliest:%d %B %Y}.")
    notes.append("Recent months may still grow: extracts bring incidents reported late, and pairs awaiting review "
                 "count as two incidents until decided.")
    return Report(
        period=period, previous=prev, year_earlier=year_before, history=history, config=config,
        publication=inputs.publication,
        summary=summary_lines(tables["headline"], tables["coverage"], period, prev, year_before),
        tables=tables, charts=charts, methodology=methodology(config, inputs.publication),
        notes=notes, cubes=cubes, estimates=estimates,
    )


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()


def overlap_table(history: list[Period], comparison: dict[Period, Cube], forces_frame: pl.DataFrame) -> Table:
    rows = []
    for other in history:
        cube = comparison[other]
        for force in participating_in(other, forces_frame):
            both, total = cube.cell(area=force, reporting_route="both"), cube.cell(area=force)
            rows.append([text(other.label), text(force_label(force)), both, total, ratio_cell(both, total)])
    return Table("overlap", "Overlap over time: incidents known to both",
                 ["Period", "Force", "Known to both", "All incidents", "Share known to both"], rows,
                 note="Per participating force, incidents known to both CST and the force out of all its "
                      "incidents in the arrangement (on or after the date it joined).")


def overlap_chart_frame(history: list[Period], comparison: dict[Period, Cube], forces_frame: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for order, other in enumerate(history):
        for force in participating_in(other, forces_frame):
            cube = comparison[other]
            share = ratio_cell(cube.cell(area=force, reporting_route="both"), cube.cell(area=force))
            rows.append({"order": order, "period": other.label, "force": force_label(force),
                         "share": share.value, "text": share.text, "suppressed": share.suppressed})
    return pl.DataFrame(rows, schema={"order": pl.Int64, "period": pl.String, "force": pl.String,
                                      "share": pl.Float64, "text": pl.String, "suppressed": pl.Boolean})


def coverage_table(crimes: Cube, reports: Cube, forces: list[str]) -> Table:
    rows = []
    for force, label in [*((f, force_label(f)) for f in forces), (TOTAL, "All participating forces")]:
        coords = {} if force == TOTAL else {"area": force}
        crimes_all, crimes_known = crimes.cell(**coords), crimes.cell(**coords, known="known")
        reports_all, reports_known = reports.cell(**coords), reports.cell(**coords, known="known")
        rows.append([text(label), crimes_all, crimes_known, ratio_cell(crimes_known, crimes_all),
                     reports_all, reports_known, ratio_cell(reports_known, reports_all)])
    return Table(
        "coverage", "Coverage: what each side also knew",
        ["Force", "Police crimes", "Also known to CST", "Share of crimes CST knew",
         "CST reports in its area", "Also known to the force", "Share of CST reports the force knew"],
        rows,
        note="Crimes and reports in incidents in the force's area on or after it joined. A crime is known to "
             "CST when its incident is also in CST's records, and the other way round.",
    )


def capture_recapture_table(current: Cube, forces: list[str], config: ReportConfig) -> tuple[Table, list[dict[str, Any]]]:
    rows, estimates = [], []
    needed = config.estimate_min_overlap
    for force in forces:
        cells = {r: current.cell(area=force, reporting_route=r) for r in ROUTES}
        label = text(force_label(force))
        if any(c.suppressed for c in cells.values()):
            rows.append([label, *(text(MARKER) for _ in range(3)), text("not shown: small numbers"),
                         text(NOT_APPLICABLE), text(NOT_APPLICABLE), text(NOT_APPLICABLE)])
            continue
        m = int(cells["both"].value)
        n1, n2 = int(cells["cst_only"].value) + m, int(cells["police_only"].value) + m
        counts = [count_cell(n1, False), count_cell(n2, False), count_cell(m, False)]
        if not enough_data(n1, n2, m, needed):
            rows.append([label, *counts, text(f"not enough data (overlap under {needed})"),
                         text(NOT_APPLICABLE), text(NOT_APPLICABLE), text(NOT_APPLICABLE)])
            continue
        est = chapman(n1, n2, m)
        estimates.append({"force": force, "n1": n1, "n2": n2, "m": m, "population": est.population,
                          "lower": est.lower, "upper": est.upper, "unreported": est.unreported,
                          "standard_error": est.standard_error})
        rows.append([
            label, *counts,
            Cell(f"≈ {round(est.population):,}", est.population, kind="estimate"),
            Cell(f"{round(est.lower):,} – {round(est.upper):,}", None, kind="estimate"),
            Cell(f"≈ {round(est.unreported):,}", est.unreported, kind="estimate"),
            Cell(f"{round(est.unreported_lower):,} – {round(est.unreported_upper):,}", None, kind="estimate"),
        ])
    table = Table(
        "capture_recapture", "Incidents reported to neither: capture-recapture estimate",
        ["Force", "Known to CST (n1)", "Known to the force (n2)", "Known to both (m)", "Estimated total (N)",
         "95% interval", "Estimated reported to neither", "95% interval, neither"],
        rows,
        note="Chapman's estimator per force, for forces whose overlap is at least "
             f"{needed}. {INDEPENDENCE_CAVEAT}",
    )
    return table, estimates


def summary_lines(headline: Table, coverage: Table, period: Period, prev: Period, year_before: Period) -> list[str]:
    total = headline.cell("All routes", period.label)
    lines = [f"{total.text} incidents in {period.label}."]
    change_prev = headline.cell("All routes", "Change")
    change_year = headline.cell("All routes", "Change a year on")
    for change, other, when in ((change_prev, prev, "the previous period"), (change_year, year_before, "a year earlier")):
        if not change.suppressed and change.value is not None:
            direction = "Up" if change.value > 0 else "Down" if change.value < 0 else "Unchanged"
            amount = f" {abs(100 * change.value):.0f}%" if change.value else ""
            lines.append(f"{direction}{amount} on {other.label} ({when}).")
    both = headline.cell("Both", period.label)
    if not both.suppressed:
        lines.append(f"{both.text} were known to both CST and the police.")
    row = coverage.rows[-1]
    if not row[3].suppressed and row[3].value is not None:
        lines.append(f"CST also knew {row[3].text} of the participating forces' crimes; the forces also knew "
                     f"{row[6].text} of CST's reports in their areas.")
    return lines


def methodology(config: ReportConfig, publication: dict[str, Any]) -> list[tuple[str, str]]:
    forces = "; ".join(
        f"{f.id.upper()} from {f.participating_from:%d %B %Y}" if f.participating_from else f"{f.id.upper()} from the start"
        for f in config.forces
    ) or "none"
    cadences = "; ".join(f"{s.id.upper()} {_cadence_text(s.cadence_days)}" for s in config.sources)
    t = config.linkage_thresholds
    as_of = publication.get("data_as_of")
    return [
        ("Sources", f"CST's incident reports and the antisemitic hate crimes of the participating forces: "
                    f"{forces}. Extracts are expected {cadences}."),
        ("Counting", "Incidents, not records: a CST report and the police crimes linked to it count once, and "
                     "the crimes one force recorded for one incident (one per victim or offence) count once. "
                     "Cancelled crimes count nowhere. Incidents are counted by the date they happened. The "
                     "reporting route is CST only, police only or both; police only and both exist only in a "
                     "participating force's area on or after the date it joined."),
        ("Linkage", f"CST reports and police crimes are linked by a probabilistic model "
                    f"({config.linkage_method.upper()}, transforms/linkage_settings.json) comparing date, time, "
                    f"place, category, narrative and crime number. Pairs with a match probability of at least "
                    f"{t.get('match', float('nan')):.2f} are matched; pairs from {t.get('review', float('nan')):.2f} "
                    f"up to that await a person's review; a reviewer's decision always wins."),
        ("Coverage", "For each participating force, the share of its crimes that CST also knew, and the share "
                     "of CST's reports in its area that the force also knew."),
        ("Capture-recapture", "Chapman's estimator N = (n1+1)(n2+1)/(m+1) - 1 with variance "
                              "(n1+1)(n2+1)(n1-m)(n2-m)/((m+1)^2(m+2)); the 95% interval is N ± 1.96 standard "
                              "errors, its lower end no lower than the incidents seen. Shown for forces whose "
                              f"overlap m is at least {config.estimate_min_overlap}. {INDEPENDENCE_CAVEAT}"),
        ("Disclosure control", f"Counts from 1 to {config.suppression_threshold} are suppressed and shown as "
                               f"{MARKER}, in every table and chart label (primary suppression); further cells are "
                               "suppressed so that no suppressed count can be worked out from totals and other "
                               "cells (secondary suppression). Zeros are shown. Shares, changes and estimates are "
                               "shown only when every count they come from is visible. Counts of extract files "
                               "and waits in days are not about people and are not suppressed. The report holds "
                               "no free text, no reference numbers and no personal data."),
        ("Data quality", "An extract's date is the date in its file name, else that of its latest record. Linkage quality is measured on the "
                         "pairs people reviewed, against the status the model gives each pair on its own."),
        ("Source of the figures", f"The published database of run {publication.get('run_id', '?')} "
                                  f"(data as of {as_of}, code {publication.get('code_version') or 'unknown'})."),
    ]
