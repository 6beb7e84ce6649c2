"""Data Docs: static HTML per run, built by GX from value-free results; planted values never appear."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from expectations.docs import write_data_docs
from expectations.validation import validate_extract
from flows.config import Settings
from flows.readers import read_extract
from transforms.mapping import load_mapping

SHARED_SAMPLES = Path("/work/shared/spec/samples")
SAMPLES = SHARED_SAMPLES if SHARED_SAMPLES.exists() else Path(__file__).parents[1] / "data" / "samples"
PLANTED = ["Quentin Zabriskie", "q.zabriskie@example.org", "07700 900461", "GMP/26/0199999", "ZQ9 9QZ"]


def test_data_docs_are_written_without_any_value(tmp_path: Path):
    mapping = load_mapping("builtin:gmp")
    raw = read_extract((SAMPLES / "police/gmp/gmp_antisemitic_crimes_20261019.csv").read_bytes(), mapping).frame
    raw = raw.with_columns(
        pl.when(pl.col("_row") == 1).then(pl.lit(PLANTED[0])).otherwise(pl.col("OFFENCE_CODE")).alias("OFFENCE_CODE"),
        pl.when(pl.col("_row") == 1).then(pl.lit(PLANTED[1])).otherwise(pl.col("RECORD_STATUS")).alias("RECORD_STATUS"),
        pl.when(pl.col("_row") == 2).then(pl.lit(PLANTED[2])).otherwise(pl.col("POSTCODE")).alias("POSTCODE"),
        pl.when(pl.col("_row") == 2).then(pl.lit(PLANTED[3] + " x")).otherwise(pl.col("CRIME_REF")).alias("CRIME_REF"),
        pl.when(pl.col("_row") == 3).then(pl.lit(PLANTED[4])).otherwise(pl.col("COMMITTED_FROM")).alias("COMMITTED_FROM"),
        pl.lit(PLANTED[0] + " " * 60_000).alias("MO_TEXT"),
    )
    outcome = validate_extract(raw, mapping, Settings().reference_data, now=datetime(2026, 11, 25))
    assert not outcome.row_failures.is_empty()
    entries = [{**entry, "label": "police/gmp/gmp_antisemitic_crimes_20261019.csv"} for entry in outcome.results]

    reports = tmp_path / "reports" / "validation"
    index = write_data_docs(reports, "20261125T020000-abc123", entries)
    write_data_docs(reports, "20261126T020000-def456", entries)

    assert index == reports.resolve() / "20261125T020000-abc123" / "index.html" and index.exists()
    pages = list(reports.rglob("*.html"))
    assert any("validations" in p.parts for p in pages)
    runs_index = (reports / "index.html").read_text()
    assert runs_index.index("20261126T020000-def456") < runs_index.index("20261125T020000-abc123")
    assert (reports / "20261125T020000-abc123" / "static").resolve() == (reports / "static").resolve()
    page_path = next(p for p in pages if "validations" in p.parts)
    assert page_path.name == "police__gmp__gmp_antisemitic_crimes_20261019.csv.html"
    page = page_path.read_text()
    assert "raw__gmp" in page and "20261125T020000-abc123" in page and "Unsuccessful Expectations" in page
    for path in reports.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            for value in PLANTED:
                assert value.encode() not in data, f"{value!r} in {path}"
                assert value.upper().encode() not in data and value.lower().encode() not in data


def test_an_expectation_that_could_not_run_still_renders(tmp_path: Path, caplog):
    """A missing column makes row checks raise inside GX; their page must still be built, without errors."""
    mapping = load_mapping("builtin:gmp")
    raw = read_extract((SAMPLES / "police/gmp/gmp_antisemitic_crimes_20261019.csv").read_bytes(), mapping).frame
    outcome = validate_extract(raw.drop("RECORD_STATUS"), mapping, Settings().reference_data, now=datetime(2026, 11, 25))
    entries = [{**entry, "label": "police/gmp/no_status.csv"} for entry in outcome.results]
    assert any(r["exception_info"]["raised_exception"] for e in entries for r in e["result"]["results"])

    caplog.set_level("ERROR")
    write_data_docs(tmp_path / "reports", "20261125T020000-abc123", entries)

    assert not [r for r in caplog.records if r.levelname == "ERROR"], [r.getMessage()[:200] for r in caplog.records]
    page = next(p for p in (tmp_path / "reports").rglob("*.html") if p.name.startswith("police__gmp__no_status"))
    assert "RECORD_STATUS" in page.read_text()
