"""Pieces of the nightly flow that need no Prefect run: the validator warm-up guess, an empty source."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flows.config import Settings
from flows.landing import LandedFile
from flows.nightly import any_unseen, prepared_files
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
