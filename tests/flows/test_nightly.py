"""Pieces of the nightly flow that need no Prefect run: the validator warm-up guess, an empty source,
staging ahead of validation."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import polars as pl

from flows import nightly
from flows.config import Settings
from flows.landing import LandedFile
from flows.nightly import any_unseen, prepared_files
from flows.readers import read_extract
from warehouse.run import Warehouse


def test_a_file_counts_as_unseen_unless_sighted_under_its_name_and_size(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb") as warehouse:
        warehouse.migrate()
        warehouse.execute(
            "insert into manifest values ('h1', 'cst', 'cst/a.csv', 10, 1, 'r1', ?, 'loaded', 1, 1, 0)", [datetime.now()]
        )
        warehouse.execute("insert into manifest_sightings values ('h1', 'cst/a.csv', 'r1', ?)", [datetime.now()])
        warehouse.execute("insert into manifest_sightings values ('h1', 'cst/renamed.csv', 'r2', ?)", [datetime.now()])
        assert not any_unseen(warehouse, [])
        assert not any_unseen(warehouse, [LandedFile("cst/a.csv", 10, 0.0), LandedFile("cst/renamed.csv", 10, 0.0)])
        assert any_unseen(warehouse, [LandedFile("cst/a.csv", 11, 0.0)])  # rewritten in place
        assert any_unseen(warehouse, [LandedFile("cst/b.csv", 10, 0.0)])


def test_a_source_with_nothing_new_prepares_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    mapping = settings.mappings["cst"]
    assert prepared_files(mapping.id, [], mapping, settings.reference_data, b"k" * 32) == []


def _cst_file(extra_row: dict[str, str] | None = None) -> bytes:
    """The sample CST extract, with one more row appended when given."""
    text = (Path(__file__).parents[1] / "data" / "samples" / "cst" / "cst_incidents_20261104.csv").read_text("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows([*rows, *([extra_row] if extra_row else [])])
    return out.getvalue().encode("utf-8")


def test_a_file_is_staged_ahead_of_validation_and_kept_only_when_every_row_passes(monkeypatch) -> None:
    """Staging runs while the raw suites run; a file with a failing row has its good rows staged
    again, as redaction learns names across a file's rows (the failing row names the victim that
    a good row's description mentions)."""
    settings = Settings()
    mapping, reference, key = settings.mappings["cst"], settings.reference_data, bytes(range(32))
    real_stage = nightly.staged_cst_reports
    staged_heights: list[int] = []

    def counted_stage(raw: pl.DataFrame, *args: object) -> pl.DataFrame:
        staged_heights.append(raw.height)
        return real_stage(raw, *args)

    monkeypatch.setattr(nightly, "staged_cst_reports", counted_stage)
    clean = _cst_file()
    [prepared] = prepared_files(mapping.id, [(LandedFile("cst/a.csv", len(clean), 0.0), clean)], mapping, reference, key)
    raw = read_extract(clean, mapping).frame
    assert staged_heights == [raw.height] and not prepared.quarantined
    assert prepared.staged.equals(real_stage(raw, mapping, reference, key))

    staged_heights.clear()
    first = next(csv.DictReader(io.StringIO(clean.decode("utf-8"))))
    failing = {**first, "Incident Ref": "CST/26/09999", "Category": "Hooliganism", "Victim Name": "Miriam Quell",
               "Description": "Miriam Quell was followed home."}
    dirty = _cst_file(failing)
    [prepared] = prepared_files(mapping.id, [(LandedFile("cst/b.csv", len(dirty), 0.0), dirty)], mapping, reference, key)
    raw = read_extract(dirty, mapping).frame
    goods = raw.filter(pl.col("Incident Ref") != "CST/26/09999")
    assert [q["rule"] for q in prepared.quarantined] == ["category_known"]
    assert staged_heights == [raw.height, goods.height]
    assert prepared.staged.equals(real_stage(goods, mapping, reference, key))

    # staging the whole file fails (say, on a row the suites quarantine): staged after validation
    staged_heights.clear()

    def failing_on_whole_files(raw: pl.DataFrame, *args: object) -> pl.DataFrame:
        staged_heights.append(raw.height)
        if len(staged_heights) == 1:
            raise ValueError("a row staging cannot take")
        return real_stage(raw, *args)

    monkeypatch.setattr(nightly, "staged_cst_reports", failing_on_whole_files)
    [prepared] = prepared_files(mapping.id, [(LandedFile("cst/a.csv", len(clean), 0.0), clean)], mapping, reference, key)
    raw = read_extract(clean, mapping).frame
    assert staged_heights == [raw.height, raw.height] and not prepared.quarantined
    assert prepared.staged.equals(real_stage(raw, mapping, reference, key))
