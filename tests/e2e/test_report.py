"""`incidents report` end to end: demo data -> nightly -> published database -> HTML + PDF.

One nightly run per module (generated extracts plus a bad extract and an empty
one, so the quarantine has something to show), a few review decisions
recorded and the database re-published, then the report for 2026-H1 and for
a custom span. The checks:

- every figure in the rendered HTML tables equals a query on the published database;
- suppression holds in the rendered tables and chart labels (no count 1..threshold visible);
- the report reads nothing but the published database (it builds from a home holding only that file);
- the PDF renders to pages (pypdfium2);
- the HTML is self-contained and loads in headless Chromium (Debian package) without console errors.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import tempfile
import time
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import polars as pl
import pytest

from flows.config import Settings
from flows.publishing import frame, publish_locally

pytestmark = pytest.mark.slow

THRESHOLD = Settings().publish.suppression_threshold
PERIOD = "2026-H1"
MARKER = "[c]"
ROUTES = {"CST only": "cst_only", "Police only": "police_only", "Both": "both"}
GMP_COLUMNS = ["CRIME_REF", "OFFENCE_CODE", "OFFENCE_DESC", "COMMITTED_FROM", "COMMITTED_TO", "REPORTED_DATE",
               "LOCATION", "POSTCODE", "BEAT", "HATE_FLAGS", "VICTIM_NAME", "VICTIM_DOB", "SUSPECT_NAME", "MO_TEXT",
               "OUTCOME", "RECORD_STATUS"]


def _gmp_row(ref: str, day: str, **changes: str) -> dict[str, str]:
    row = {
        "CRIME_REF": ref, "OFFENCE_CODE": "9B", "OFFENCE_DESC": "Racially or religiously aggravated public fear",
        "COMMITTED_FROM": f"{day} 21:00:00", "COMMITTED_TO": f"{day} 21:00:00", "REPORTED_DATE": day,
        "LOCATION": "12 Leicester Road", "POSTCODE": "M7 4AB", "BEAT": "M7A", "HATE_FLAGS": "Religion-Jewish",
        "VICTIM_NAME": "", "VICTIM_DOB": "", "SUSPECT_NAME": "", "MO_TEXT": "SUSP SHOUTED ABUSE.",
        "OUTCOME": "Investigation ongoing", "RECORD_STATUS": "CONFIRMED",
    }
    return row | changes


def _csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=GMP_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from demo.generator import generate_landing
    from flows.cli import main as incidents
    from flows.commands.review import record_decision
    from flows.nightly import nightly
    from warehouse.run import Warehouse

    root = tmp_path_factory.mktemp("report")
    landing, home = root / "landing", root / "home"
    generate_landing(landing, root / "truth", incidents=1500, seed=5)
    # a GMP extract dated in the period with one row out of order, and an empty CST extract
    (landing / "police" / "gmp" / "gmp_antisemitic_crimes_20260316.csv").write_bytes(_csv([
        _gmp_row("GMP/26/0999001", "2026-03-14"),
        _gmp_row("GMP/26/0999002", "2026-03-15", COMMITTED_TO="2026-03-13 21:00:00"),
        _gmp_row("GMP/26/0999003", "2026-03-15"),
    ]))
    (landing / "cst" / "cst_incidents_20260401.csv").write_bytes(b"")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INCIDENTS_LANDING", str(landing))
        patch.setenv("INCIDENTS_HOME", str(home))
        patch.delenv("INCIDENTS_CONFIG", raising=False)
        patch.chdir(root)
        started = time.perf_counter()
        nightly()
        nightly_seconds = time.perf_counter() - started
        settings = Settings(home=home)
        with Warehouse(settings.warehouse_path) as warehouse:
            # A review queue and a reviewer's decisions, then re-publish. At this size the model
            # leaves (almost) nothing in review, so 14 matched pairs are put in the review band
            # (probability 0.45): 8 stay in the queue, 6 are decided; 12 matched pairs are decided too.
            in_review = warehouse.scalar("select count(*) from link_pairs where status = 'review'")
            pairs = warehouse.query(
                "select report_key, crime_key from link_pairs where status = 'matched' "
                "order by report_key, crime_key limit 26"
            ).to_dicts()
            for row in pairs[:14]:
                warehouse.execute(
                    "update link_pairs set status = 'review', match_probability = 0.45 "
                    "where report_key = ? and crime_key = ?", [row["report_key"], row["crime_key"]],
                )
            for i, row in enumerate(pairs[8:14]):
                record_decision(warehouse, row, "accept" if i % 2 else "reject", "tester", None)
            for i, row in enumerate(pairs[14:]):
                record_decision(warehouse, row, "reject" if i == 0 else "accept", "tester", None)
            run_id = warehouse.scalar("select max(run_id) from runs where status = 'succeeded'")
            publish_locally(warehouse, settings, run_id)
        started = time.perf_counter()
        assert incidents(["report", "--period", PERIOD]) == 0
        report_seconds = time.perf_counter() - started
        assert incidents(["report", "--from", "2026-01-01", "--to", "2026-03-31"]) == 0
    print(f"nightly {nightly_seconds:.1f} s; report {PERIOD} {report_seconds:.1f} s")  # noqa: T201
    reports = home / "reports"
    return {
        "home": home, "db": settings.published_path, "html": reports / f"{PERIOD}.html",
        "pdf": reports / f"{PERIOD}.pdf", "span_html": reports / "2026-01-01_2026-03-31.html",
        "span_pdf": reports / "2026-01-01_2026-03-31.pdf", "seconds": report_seconds, "in_review": in_review,
    }


# ------------------------------------------------------------------- reading the HTML


class _Tables(HTMLParser):
    """great-tables output: header cells `id="table-<name>-cN"`, body cells `headers="table-<name>-cN"`."""

    def __init__(self) -> None:
        super().__init__()
        self.columns: dict[str, dict[int, str]] = {}
        self.rows: dict[str, list[dict[int, str]]] = {}
        self._cell: tuple[str, int, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        key = attrs.get("id") if tag == "th" else attrs.get("headers") if tag == "td" else None
        match = re.fullmatch(r"table-(.+)-c(\d+)", key or "")
        if match:
            self._cell = (match.group(1), int(match.group(2)), tag)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._cell:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._cell and tag == self._cell[2]:
            table, column, kind = self._cell
            value = " ".join("".join(self._text).split())
            if kind == "th":
                self.columns.setdefault(table, {})[column] = value
            else:
                rows = self.rows.setdefault(table, [])
                if column == 0:
                    rows.append({})
                rows[-1][column] = value
            self._cell = None


def rendered_tables(path: Path) -> dict[str, list[dict[str, str]]]:
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return {
        name: [{parser.columns[name][i]: v for i, v in row.items()} for row in rows]
        for name, rows in parser.rows.items()
    }


def row_of(table: list[dict[str, str]], label: str) -> dict[str, str]:
    first = next(iter(table[0]))
    return next(r for r in table if r[first] == label)


def number(text: str) -> int | None:
    """A rendered count, None when suppressed."""
    if text == MARKER:
        return None
    assert re.fullmatch(r"\d[\d,]*", text), text
    return int(text.replace(",", ""))


def check(text: str, exact: int) -> bool:
    """Visible: equal to the exact count. Suppressed: allowed, and required for 1..threshold."""
    shown = number(text)
    if 1 <= exact <= THRESHOLD:
        assert shown is None, f"small count {exact} shown as {text}"
    return shown is None or shown == exact


def query(db: Path, sql: str, params: list | None = None) -> pl.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return frame(con, sql, params)


# ----------------------------------------------------------------------------- tests


def test_report_is_written_where_the_interface_says(reported) -> None:
    for key in ("html", "pdf", "span_html", "span_pdf"):
        assert reported[key].exists() and reported[key].stat().st_size > 10_000, key
    assert reported["seconds"] < 120


def test_headline_equals_queries_on_the_published_database(reported) -> None:
    headline = rendered_tables(reported["html"])["headline"]
    for half in ("2026-H1", "2025-H2", "2025-H1"):
        exact = dict(query(reported["db"], "select reporting_route, sum(incidents)::bigint from incident_counts_half_year "
                                           "where half_year = ? group by 1", [half]).iter_rows())
        for label, route in ROUTES.items():
            assert check(row_of(headline, label)[half], exact.get(route, 0)), (half, route)
        assert check(row_of(headline, "All routes")[half], sum(exact.values()))


def test_tables_by_month_category_force_and_location_equal_queries(reported) -> None:
    tables, db = rendered_tables(reported["html"]), reported["db"]
    months = query(db, "select strftime(month, '%b %Y') as label, reporting_route, sum(incidents)::bigint as n "
                       "from incident_counts where month between '2026-01-01' and '2026-06-01' group by all")
    categories = query(db, "select category as label, reporting_route, sum(incidents)::bigint as n "
                           "from incident_counts_half_year where half_year = ? group by all", [PERIOD])
    locations = query(db, "select location_type as label, reporting_route, sum(incidents)::bigint as n "
                          "from incident_counts_location where half_year = ? group by all", [PERIOD])
    forces = query(db, "select upper(police_force) as label, reporting_route, count(*) as n from incidents "
                       "where half_year = ? and participating group by all", [PERIOD])
    checked = 0
    for name, exact, first in (("months", months, "Month"), ("categories", categories, "Category"),
                               ("locations", locations, "Location type"), ("forces", forces, "Force area")):
        lookup = {(r["label"].lower(), r["reporting_route"]): r["n"] for r in exact.iter_rows(named=True)}
        for row in tables[name]:
            if row[first] in ("Total", "Other areas"):
                continue
            for label, route in ROUTES.items():
                assert check(row[label], lookup.get((row[first].lower(), route), 0)), (name, row[first], route)
                checked += 1
    assert checked > 50


def test_coverage_equals_the_published_coverage_table(reported) -> None:
    coverage = rendered_tables(reported["html"])["coverage"]
    exact = query(reported["db"], "select * from coverage where half_year = ?", [PERIOD])
    for row in exact.iter_rows(named=True):
        shown = row_of(coverage, row["police_force"].upper())
        assert check(shown["Police crimes"], row["police_crimes"])
        assert check(shown["Also known to CST"], row["police_crimes_known_to_cst"])
        assert check(shown["CST reports in its area"], row["cst_reports"])
        assert check(shown["Also known to the force"], row["cst_reports_known_to_police"])
        if shown["Share of crimes CST knew"] != MARKER:
            assert shown["Share of crimes CST knew"] == f"{100 * row['share_police_crimes_known_to_cst']:.0f}%"


def test_capture_recapture_estimate_uses_the_published_counts(reported) -> None:
    from transforms.capture_recapture import chapman

    table = rendered_tables(reported["html"])["capture_recapture"]
    exact = query(reported["db"], "select * from coverage where half_year = ?", [PERIOD])
    shown = 0
    for row in exact.iter_rows(named=True):
        rendered = row_of(table, row["police_force"].upper())
        if not rendered["Estimated total (N)"].startswith("≈"):
            continue
        n1, n2, m = row["cst_incidents"], row["police_incidents"], row["incidents_both"]
        assert number(rendered["Known to both (m)"]) == m
        assert rendered["Estimated total (N)"] == f"≈ {round(chapman(n1, n2, m).population):,}"
        shown += 1
    assert shown >= 1


def test_data_quality_equals_the_published_tables(reported) -> None:
    tables, db = rendered_tables(reported["html"]), reported["db"]
    queue = dict(query(db, "select upper(police_force), sum(pairs)::bigint from data_quality_review_queue "
                           "group by 1").iter_rows())
    for force, pairs in queue.items():
        assert check(row_of(tables["review_queue"], force)["Pairs, all dates"], pairs)
    quarantined = query(db, "select sum(rows_quarantined)::bigint from data_quality_quarantine "
                            "where extract_date between '2026-01-01' and '2026-06-30'").item()
    assert quarantined == 1  # the GMP row out of order
    assert row_of(tables["quarantine"], "GMP")["Rows quarantined"] == MARKER
    whole = query(db, "select extract_date, extract_date_basis from data_quality_extracts "
                      "where source_id = 'cst' and extracts_quarantined > 0")
    assert whole.rows() == [(date(2026, 4, 1), "file name")]
    assert row_of(tables["extracts"], "CST")["Extracts quarantined whole"] == "1"
    assert sum(queue.values()) == reported["in_review"] + 8
    reviewed = dict(query(db, "select model_status || ' ' || decision, sum(pairs)::bigint from data_quality_linkage "
                              "group by all").iter_rows())
    assert reviewed == {"review accept": 3, "review reject": 3, "matched accept": 11, "matched reject": 1}
    quality = row_of(tables["linkage_quality"], "All reviewed pairs")
    assert check(quality["Reviewed"], 18)
    assert check(quality["Accepted"], 14)
    assert check(quality["Matched by the model"], 12)
    assert quality["Precision"] in (MARKER, "92%")  # 11 / 12


def test_suppression_holds_in_every_rendered_table_and_chart_label(reported) -> None:
    for path in (reported["html"], reported["span_html"]):
        tables = rendered_tables(path)
        suppressed = 0
        for name, rows in tables.items():
            if name == "extracts":  # counts of files and days, not of people
                continue
            for row in rows:
                for column, value in row.items():
                    suppressed += value == MARKER
                    if re.fullmatch(r"\d[\d,]*", value):
                        assert not 1 <= int(value.replace(",", "")) <= THRESHOLD, (path.name, name, column, value)
                    for part in re.findall(r"\d[\d,]*", value) if "/" in value else []:
                        assert not 1 <= int(part.replace(",", "")) <= THRESHOLD, (name, column, value)
        assert suppressed > 0, path.name
        html = path.read_text(encoding="utf-8")
        labels = [
            text
            for group in re.findall(r'<g class="mark-text role-mark[^"]*"[^>]*>(.*?)</g>', html, flags=re.S)
            for text in re.findall(r"<text[^>]*>([^<]*)</text>", group)
        ]
        assert labels and MARKER in labels
        for text in labels:
            if re.fullmatch(r"\d[\d,]*", text):
                assert not 1 <= int(text.replace(",", "")) <= THRESHOLD, text


def test_no_reference_or_free_text_reaches_the_report(reported) -> None:
    html = reported["html"].read_text(encoding="utf-8")
    assert not re.search(r"GMP/\d\d/\d+|CST-\d", html)
    assert "SUSP SHOUTED" not in html
    with duckdb.connect(str(reported["db"]), read_only=True) as con:
        columns = {r[0] for r in con.execute("select column_name from duckdb_columns() where table_name like 'data_quality_%'").fetchall()}
    assert not columns & {"file_key", "file_hash", "report_key", "crime_key", "reason", "note", "reviewer"}


def test_report_needs_only_the_published_database(reported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.report import write_report
    from transforms.report_figures import half_year

    home = tmp_path / "home"
    (home / "published").mkdir(parents=True)
    shutil.copy(reported["db"], home / "published" / "incidents.duckdb")
    monkeypatch.setenv("INCIDENTS_HOME", str(home))
    result = write_report(Settings(home=home), half_year(PERIOD))
    assert sorted(p.name for p in home.iterdir()) == ["published", "reports"]
    ours = rendered_tables(result.html)["headline"]
    assert ours == rendered_tables(reported["html"])["headline"]


def test_custom_span_headline_equals_a_query(reported) -> None:
    headline = rendered_tables(reported["span_html"])["headline"]
    exact = dict(query(reported["db"], "select reporting_route, count(*) from incidents where incident_date "
                                       "between '2026-01-01' and '2026-03-31' group by 1").iter_rows())
    label = next(c for c in headline[0] if c.startswith("01 Jan 2026"))
    for name, route in ROUTES.items():
        assert check(row_of(headline, name)[label], exact.get(route, 0))


def test_pdf_renders_to_pages(reported) -> None:
    pdfium = pytest.importorskip("pypdfium2")
    for path in (reported["pdf"], reported["span_pdf"]):
        document = pdfium.PdfDocument(str(path))
        assert len(document) >= 3
        text = ""
        for page in document:
            image = page.render(scale=0.5).to_numpy()
            assert image.shape[0] > 300 and image.shape[1] > 200
            assert image.min() < 100 and image.max() > 200  # ink on paper, not a blank page
            text += page.get_textpage().get_text_range()
        assert "Antisemitic incidents" in text
        assert MARKER in text
        assert "Chapman" in text


def test_html_is_self_contained(reported) -> None:
    html = reported["html"].read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, flags=re.I)
    assert not re.search(r"""url\(\s*["']?(?:https?:)?//|@import""", html, flags=re.I)
    assert "<script" not in html
    assert html.count("<svg") == 5


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def test_html_loads_in_headless_chromium_without_errors(reported) -> None:
    """Chromium from the Debian package (`apt-get install chromium`), driven over the DevTools protocol."""
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium: apt-get install -y --no-install-recommends chromium")
    from websockets.sync.client import connect

    profile = tempfile.mkdtemp(prefix="report-chromium-")
    process = subprocess.Popen(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        endpoint = None
        deadline = time.monotonic() + 90
        while endpoint is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            endpoint = match.group(1) if match else None
            assert line or process.poll() is None, "chromium exited"
        assert endpoint, "chromium did not start"
        errors, result = _load_page(connect, endpoint, reported["html"].resolve().as_uri())
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)
    assert errors == []
    assert result["tables"] >= 12 and result["svgs"] == 5
    assert result["title"].startswith("Antisemitic incidents")
    assert result["height"] > 3000


def _load_page(connect, endpoint: str, url: str) -> tuple[list[str], dict]:
    errors: list[str] = []
    with connect(endpoint, max_size=None, open_timeout=30) as ws:
        counter = iter(range(1, 10_000))

        def send(method: str, params: dict | None = None, session: str | None = None) -> dict:
            ident = next(counter)
            message = {"id": ident, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = session
            ws.send(json.dumps(message))
            while True:
                reply = json.loads(ws.recv(timeout=60))
                if reply.get("id") == ident:
                    assert "error" not in reply, reply
                    return reply.get("result", {})
                note(reply)

        def note(event: dict) -> None:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Page.loadEventFired":
                loaded.append(True)

        loaded: list[bool] = []
        target = send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            send(f"{domain}.enable", session=session)
        send("Page.navigate", {"url": url}, session=session)
        deadline = time.monotonic() + 60
        while not loaded and time.monotonic() < deadline:
            note(json.loads(ws.recv(timeout=60)))
        assert loaded, "the page did not finish loading"
        time.sleep(0.5)
        value = send("Runtime.evaluate", {
            "expression": "JSON.stringify({tables: document.querySelectorAll('table').length, "
                          "svgs: document.querySelectorAll('svg').length, title: document.title, "
                          "height: document.body.scrollHeight})",
            "returnByValue": True,
        }, session=session)["result"]["value"]
        return errors, json.loads(value)
