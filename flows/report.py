"""The six-monthly report for the tension team: read the published database, render, write (issue 8).

`write_report(settings, period)` reads `$INCIDENTS_HOME/published/incidents.duckdb`
(read-only; nothing else is read but the configuration and
`transforms/linkage_settings.json` for the methodology), computes every figure
with `transforms.report_figures` (suppression included), draws the charts
with Altair (static SVG for the HTML, PNG for the PDF, through vl-convert: no
browser), lays out the tables with great-tables, and writes

    $INCIDENTS_HOME/reports/<period>.html   one self-contained file (CSS and SVG inline, no link out)
    $INCIDENTS_HOME/reports/<period>.pdf    typeset by Typst from the same blocks

each to a temporary name first, then renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from flows.config import Settings
from transforms.report_figures import (
    MARKER,
    ROUTE_LABELS,
    ROUTES,
    Period,
    ReportConfig,
    ReportInputs,
    SourceSchedule,
    Table,
    build_report,
)
from transforms.report_figures import Report as Figures

TEMPLATES_DIR = Path(__file__).parent / "report_templates"
LINKAGE_SETTINGS = Path(__file__).resolve().parents[1] / "transforms" / "linkage_settings.json"
ROUTE_COLOURS = {"CST only": "#4C78A8", "Police only": "#E45756", "Both": "#54A24B"}
CHART_FONT = "Liberation Sans, DejaVu Sans, Arial, Helvetica, sans-serif"


class ReportError(RuntimeError):
    """The report could not be built (no published database, bad period, ...)."""


@dataclass
class ReportResult:
    html: Path
    pdf: Path
    seconds: float
    timings: dict[str, float]
    figures: Figures


# ------------------------------------------------------------------------- reading


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
        return pl.from_arrow(con.execute(sql).to_arrow_table())


def _table_or_empty(con: duckdb.DuckDBPyConnection, name: str, schema: dict[str, Any]) -> pl.DataFrame:
    """A data-quality table, or an empty frame when the database predates it."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where table_name = ? and schema_name = 'main'", [name]
    ).fetchone()[0]
    if not exists:
        return pl.DataFrame(schema=schema)
    return _frame(con, f"select {', '.join(schema)} from {name}").cast(schema)


def read_inputs(database: Path) -> ReportInputs:
    """Everything the report needs from the published database (opened read-only)."""
    if not database.exists():
        raise ReportError(f"no published database at {database}: run `incidents nightly` first")
    with duckdb.connect(str(database), read_only=True) as con:
        incidents = _frame(
            con,
            "select incident_date, police_force, category, location_type, reporting_route, participating, "
            "cst_reports, police_crimes from incidents",
        )
        categories = [r[0] for r in con.execute("select category from categories order by severity_rank").fetchall()]
        forces = _frame(con, "select force_id, participating_from from participating_forces order by force_id")
        publication = _frame(con, "select * from publication").to_dicts()
        extracts = _table_or_empty(con, "data_quality_extracts", {
            "source_id": pl.String, "extract_date": pl.Date, "extracts": pl.Int64,
            "extracts_quarantined": pl.Int64, "rows_read": pl.Int64, "rows_loaded": pl.Int64,
            "rows_quarantined": pl.Int64,
        })
        quarantine = _table_or_empty(con, "data_quality_quarantine", {
            "source_id": pl.String, "extract_date": pl.Date, "rule": pl.String, "rows_quarantined": pl.Int64,
            "rows_open": pl.Int64, "files_quarantined": pl.Int64, "files_open": pl.Int64,
        })
        queue = _table_or_empty(con, "data_quality_review_queue", {
            "police_force": pl.String, "incident_date": pl.Date, "pairs": pl.Int64,
        })
        reviewed = _table_or_empty(con, "data_quality_linkage", {
            "police_force": pl.String, "incident_date": pl.Date, "model_status": pl.String,
            "decision": pl.String, "pairs": pl.Int64,
        })
    return ReportInputs(
        incidents=incidents, categories=categories, participating_forces=forces,
        publication=publication[0] if publication else {}, extracts=extracts, quarantine=quarantine,
        review_queue=queue, reviewed_pairs=reviewed,
    )


def report_config(settings: Settings, linkage_settings: Path = LINKAGE_SETTINGS) -> ReportConfig:
    """The configuration the methodology is written from."""
    linkage = json.loads(linkage_settings.read_text(encoding="utf-8"))
    thresholds = {k: float(v) for k, v in linkage.get("thresholds", {}).items() if isinstance(v, int | float)}
    return ReportConfig(
        suppression_threshold=settings.publish.suppression_threshold,
        cst=SourceSchedule(settings.cst.id, settings.cst.participating_from, settings.cst.cadence_days),
        forces=tuple(SourceSchedule(f.id, f.participating_from, f.cadence_days) for f in settings.forces),
        linkage_thresholds=thresholds,
        linkage_method=str(linkage.get("training", {}).get("method", "ecm")),
    )


# -------------------------------------------------------------------------- charts


def _base_config(chart: Any) -> Any:
    return chart.configure(font=CHART_FONT).configure_view(stroke=None).configure_axis(
        labelFontSize=11, titleFontSize=11, grid=True, gridColor="#e6e6e6"
    ).configure_legend(orient="top", title=None, labelFontSize=11)


def _route_scale() -> Any:
    import altair as alt

    return alt.Scale(domain=list(ROUTE_COLOURS), range=list(ROUTE_COLOURS.values()))


def grouped_bars(frame: pl.DataFrame, title: str, horizontal: bool, width: int = 620) -> Any:
    """Bars per label and route; a suppressed cell draws no bar and is labelled with the marker."""
    import altair as alt

    data = frame.with_columns(pl.col("value").fill_null(0).alias("position")).to_dicts()
    order = [r["label"] for r in sorted(data, key=lambda r: r["order"])]
    labels = list(dict.fromkeys(order))
    route_order = [ROUTE_LABELS[r] for r in ROUTES]
    base = alt.Chart(alt.Data(values=data))
    colour = alt.Color("route:N", scale=_route_scale(), sort=route_order, title=None)
    if horizontal:
        category = alt.Y("label:N", sort=labels, title=None)
        offset = alt.YOffset("route:N", sort=route_order)
        amount = alt.X("value:Q", title="Incidents")
        position = alt.X("position:Q")
        bars = base.mark_bar().encode(y=category, yOffset=offset, x=amount, color=colour)
        text = base.mark_text(align="left", dx=3, fontSize=9).encode(y=category, yOffset=offset, x=position,
                                                                     text="text:N")
        height = max(120, 14 * 3 * len(labels) + 20)
        chart = (bars + text).properties(width=width - 160, height=height, title=title)
    else:
        category = alt.X("label:N", sort=labels, title=None, axis=alt.Axis(labelAngle=0))
        offset = alt.XOffset("route:N", sort=route_order)
        amount = alt.Y("value:Q", title="Incidents")
        position = alt.Y("position:Q")
        bars = base.mark_bar().encode(x=category, xOffset=offset, y=amount, color=colour)
        text = base.mark_text(baseline="bottom", dy=-2, fontSize=9).encode(x=category, xOffset=offset, y=position,
                                                                          text="text:N")
        chart = (bars + text).properties(width=width, height=260, title=title)
    return _base_config(chart)


def overlap_chart(frame: pl.DataFrame, title: str, width: int = 620) -> Any:
    import altair as alt

    data = frame.to_dicts()
    periods = list(dict.fromkeys(r["period"] for r in sorted(data, key=lambda r: r["order"])))
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("period:N", sort=periods, title=None, axis=alt.Axis(labelAngle=0)),
        color=alt.Color("force:N", title=None),
    )
    visible = base.transform_filter("datum.share != null")
    lines = visible.mark_line(point=True).encode(
        y=alt.Y("share:Q", title="Share known to both", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]))
    )
    labels = visible.mark_text(dy=-8, fontSize=9).encode(y="share:Q", text="text:N")
    return _base_config((lines + labels).properties(width=width, height=240, title=title))


def chart_specs(figures: Figures) -> dict[str, dict]:
    """Vega-Lite specs of the report's charts (labels already suppressed)."""
    charts = figures.charts
    specs = {
        "months": grouped_bars(charts["months"], "Incidents by month and reporting route", horizontal=False),
        "categories": grouped_bars(charts["categories"], "Incidents by category and reporting route", horizontal=True),
        "forces": grouped_bars(charts["forces"], "Participating forces side by side", horizontal=False),
        "locations": grouped_bars(charts["locations"], "Incidents by location type and reporting route",
                                  horizontal=True),
        "overlap": overlap_chart(charts["overlap"], "Incidents known to both, by period"),
    }
    return {name: chart.to_dict() for name, chart in specs.items()}


def render_charts(specs: dict[str, dict], formats: tuple[str, ...] = ("svg", "png")) -> dict[str, dict[str, Any]]:
    """SVG text and PNG bytes per chart, offline (vl-convert ships its own engine and fonts)."""
    import vl_convert as vlc

    out: dict[str, dict[str, Any]] = {}
    for name, spec in specs.items():
        svg = vlc.vegalite_to_svg(spec)
        try:  # rasterised from the same SVG (resvg, with vl-convert's own fonts)
            png = vlc.svg_to_png(svg, scale=2)
        except RuntimeError:  # vl-convert: "SVG has an invalid size"
            # A chart with nothing to draw (no rows in the period) has no size; say so instead.
            svg = vlc.vegalite_to_svg(_nothing_to_show(spec))
            png = vlc.svg_to_png(svg, scale=2)
        out[name] = {"svg": svg} if "svg" in formats else {}
        if "png" in formats:
            out[name]["png"] = png
    return out


def _nothing_to_show(spec: dict) -> dict:
    """A small chart that says there is nothing to show, keeping the original title."""
    return {
        "$schema": spec.get("$schema", "https://vega.github.io/schema/vega-lite/v5.json"),
        "title": spec.get("title", ""),
        "width": 300,
        "height": 40,
        "data": {"values": [{"text": "No incidents to show for this period"}]},
        "mark": {"type": "text", "align": "left", "fontSize": 12},
        "encoding": {"text": {"field": "text", "type": "nominal"}, "x": {"value": 0}, "y": {"value": 20}},
    }


# --------------------------------------------------------------------------- blocks


def blocks(figures: Figures) -> list[dict[str, Any]]:
    """The report in order: headings, paragraphs, charts and tables (shared by HTML and PDF)."""
    t = figures.tables
    cr = figures.config
    out: list[dict[str, Any]] = []

    def heading(text: str, level: int = 2) -> None:
        out.append({"type": "heading", "text": text, "level": level})

    def para(text: str) -> None:
        out.append({"type": "paragraph", "text": text})

    def table(name: str) -> None:
        out.append({"type": "table", "name": name})

    def chart(name: str, alt_text: str) -> None:
        out.append({"type": "chart", "name": name, "alt": alt_text})

    heading("Summary")
    for note in figures.notes:
        out.append({"type": "note", "text": note})
    out.append({"type": "list", "items": figures.summary})
    table("headline")

    heading("Incidents in the period")
    chart("months", "Bar chart of incidents per month, by reporting route")
    table("months")
    chart("categories", "Bar chart of incidents per CST category, by reporting route")
    table("categories")
    chart("forces", "Bar chart of incidents per participating force area, by reporting route")
    table("forces")
    chart("locations", "Bar chart of incidents per location type, by reporting route")
    table("locations")

    heading("Overlap and coverage")
    para("How many incidents both sides knew, period by period, and for each participating force what each "
         "side would have missed without the other.")
    chart("overlap", "Line chart of the share of incidents known to both, per force and period")
    table("overlap")
    table("coverage")

    heading("Incidents reported to neither")
    para(f"A capture-recapture estimate (Chapman) per participating force whose overlap is at least "
         f"{cr.estimate_min_overlap} incidents, with its 95% interval.")
    table("capture_recapture")

    heading("Data quality")
    table("extracts")
    table("quarantine")
    if len(t["quarantine_rules"].rows) > 1:
        table("quarantine_rules")
    table("review_queue")
    table("linkage_quality")

    heading("Methodology")
    out.append({"type": "definitions", "items": figures.methodology})
    return out


def table_payload(table: Table) -> dict[str, Any]:
    """A table for the PDF template: cells as text with their suppression flag."""
    return {
        "id": table.id,
        "title": table.title,
        "note": table.note,
        "columns": table.columns,
        "rows": [[{"t": c.text, "s": c.suppressed} for c in row] for row in table.rows],
    }


def _title(figures: Figures) -> dict[str, str]:
    period = figures.period
    pub = figures.publication
    as_of = pub.get("data_as_of")
    as_of_text = as_of.strftime("%d %B %Y %H:%M") if isinstance(as_of, datetime) else str(as_of or "unknown")
    return {
        "title": f"Antisemitic incidents: CST and police combined, {period.label}",
        "subtitle": f"Incidents that happened from {period.start:%d %B %Y} to {period.end:%d %B %Y}. "
                    f"Data as of {as_of_text}.",
        "footer": f"Six-monthly statistics for the National Community Tension Team. Small numbers "
                  f"(1 to {figures.config.suppression_threshold}) are shown as {MARKER}.",
        "generated": datetime.now().strftime("%d %B %Y %H:%M"),
        "run_id": str(pub.get("run_id") or ""),
    }


# ----------------------------------------------------------------------------- HTML


def table_html(table: Table) -> str:
    """A great-tables table; suppressed cells greyed, the marker in place of the count."""
    from great_tables import GT, loc, style

    columns = [f"c{i}" for i in range(len(table.columns))]
    frame = pl.DataFrame(
        [[c.text for c in row] for row in table.rows], schema={c: pl.String for c in columns}, orient="row"
    ) if table.rows else pl.DataFrame(schema={c: pl.String for c in columns})
    gt = (
        GT(frame, id=f"table-{table.id}")
        .tab_header(title=table.title)
        .cols_label(**dict(zip(columns, table.columns, strict=True)))
        .cols_align("left", columns=columns[0])
        .cols_align("right", columns=columns[1:])
        .tab_options(table_font_size="13px", heading_title_font_size="15px", table_width="100%",
                     column_labels_font_weight="bold", data_row_padding="3px")
    )
    for j, column in enumerate(columns):
        hidden = [i for i, row in enumerate(table.rows) if row[j].suppressed]
        if hidden:
            gt = gt.tab_style(style=style.text(color="#767676", style="italic"), locations=loc.body(columns=column, rows=hidden))
    if table.rows and table.rows[-1][0].text.startswith(("Total", "All")):
        gt = gt.tab_style(style=style.text(weight="bold"), locations=loc.body(rows=[len(table.rows) - 1]))
    if table.note:
        gt = gt.tab_source_note(table.note)
    return gt.as_raw_html()


def render_html(figures: Figures, charts: dict[str, dict[str, Any]]) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from markupsafe import Markup

    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("report.html.j2")
    return template.render(
        meta=_title(figures),
        blocks=blocks(figures),
        tables={name: Markup(table_html(table)) for name, table in figures.tables.items()},
        charts={name: Markup(_svg_for_html(chart["svg"])) for name, chart in charts.items()},
    )


def _svg_for_html(svg: str) -> str:
    """Inline SVG scales with the page."""
    return svg.replace("<svg ", '<svg class="chart" preserveAspectRatio="xMinYMin meet" ', 1)


# ------------------------------------------------------------------------------ PDF


def render_pdf(figures: Figures, charts: dict[str, dict[str, Any]], out: Path) -> None:
    """Typst (pip `typst`, its own fonts): the same blocks, charts as PNG, tables from the same cells."""
    import typst

    with tempfile.TemporaryDirectory(prefix="incidents-report-") as folder:
        work = Path(folder)
        for name, chart in charts.items():
            (work / f"{name}.png").write_bytes(chart["png"])
        document = {
            "meta": _title(figures),
            "blocks": blocks(figures),
            "tables": {name: table_payload(table) for name, table in figures.tables.items()},
            "charts": {name: f"{name}.png" for name in charts},
        }
        (work / "report.json").write_text(json.dumps(document, default=str), encoding="utf-8")
        shutil.copy(TEMPLATES_DIR / "report.typ", work / "report.typ")
        typst.compile(str(work / "report.typ"), output=str(out), root=str(work))


# ---------------------------------------------------------------------------- write


def _atomic_write(target: Path, write: Any) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; a report is for reading
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_report(settings: Settings, period: Period, out_dir: Path | None = None) -> ReportResult:
    """Build `<period>.html` and `<period>.pdf` under `$INCIDENTS_HOME/reports/` (or `out_dir`)."""
    timings: dict[str, float] = {}
    started = last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        timings[name] = now - last
        last = now

    inputs = read_inputs(settings.published_path)
    lap("read")
    figures = build_report(inputs, period, report_config(settings))
    lap("figures")
    charts = render_charts(chart_specs(figures))
    lap("charts")
    html = render_html(figures, charts)
    lap("html")
    folder = out_dir or settings.home / "reports"
    html_path = folder / f"{period.slug}.html"
    pdf_path = folder / f"{period.slug}.pdf"
    _atomic_write(html_path, lambda p: p.write_text(html, encoding="utf-8"))
    _atomic_write(pdf_path, lambda p: render_pdf(figures, charts, p))
    lap("pdf")
    return ReportResult(html_path, pdf_path, time.perf_counter() - started, timings, figures)
