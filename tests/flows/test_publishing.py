"""The published database: contents, comments, no keys, atomic swap, open data, data dictionary."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import polars as pl
import pytest

from flows.publishing import (
    PublishError,
    data_dictionary_markdown,
    frame,
    load_comments,
    publish_incidents,
    publish_locally,
    sha256_file,
)
from tests.warehouse import test_marts as samples
from warehouse.run import Warehouse

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sample(tmp_path: Path):
    warehouse, settings = samples.sample_warehouse(tmp_path)
    yield warehouse, settings
    warehouse.close()


def published_tables(path: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        return {name: frame(con, f"select * from {name}") for name in names}


def test_published_database_holds_the_marts_and_incidents(sample) -> None:
    warehouse, settings = sample
    result = publish_locally(warehouse, settings, "run-1")
    assert result.path == settings.home / "published" / "incidents.duckdb"
    tables = published_tables(result.path)
    assert set(tables) == set(load_comments())
    assert tables["incidents"].height == 10
    assert tables["incidents"]["incident_id"].sort().to_list() == list(range(1, 11))
    assert tables["incident_counts"]["incidents"].sum() == 10
    assert tables["publication"].row(0, named=True)["run_id"] == "run-1"
    with duckdb.connect(str(result.path), read_only=True) as con:
        assert [(r[0], r[1]) for r in con.execute("describe incident_counts").fetchall()] == [
            ("month", "DATE"), ("police_force", "VARCHAR"), ("category", "VARCHAR"),
            ("reporting_route", "VARCHAR"), ("incidents", "BIGINT"),
        ]
    assert warehouse.scalar("select published_checksum from runs where run_id = 'run-1'") == sha256_file(result.path)
    assert not list(result.path.parent.glob(".staging-*"))
    assert not Path(str(result.path) + ".wal").exists()


def test_every_table_and_column_is_commented(sample) -> None:
    warehouse, settings = sample
    path = publish_locally(warehouse, settings, "run-1").path
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select count(*) from duckdb_tables() where not internal and coalesce(comment, '') = ''").fetchone()[0] == 0
        assert con.execute("select count(*) from duckdb_columns() where not internal and coalesce(comment, '') = ''").fetchone()[0] == 0
        assert con.execute("select count(*) from duckdb_views() where not internal").fetchone()[0] == 0


def test_no_keys_references_or_personal_fields_are_published(sample) -> None:
    warehouse, settings = sample
    path = publish_locally(warehouse, settings, "run-1").path
    secrets = set(frame(warehouse.con, "select report_key as k from stg_cst_reports union select crime_key from stg_police_crimes")["k"])
    secrets |= set(frame(warehouse.con, "select incident_key as k from incidents")["k"])
    for name, table in published_tables(path).items():
        for column in table.columns:
            assert not any(word in column for word in ("key", "ref", "postcode", "street", "name", "description"))
            values = {str(v) for v in table[column].to_list()}
            leaked = {v for v in values if any(s in v for s in secrets)}
            assert not leaked, f"{name}.{column} carries warehouse keys"


def test_a_failure_between_write_and_swap_leaves_yesterdays(sample) -> None:
    warehouse, settings = sample
    yesterday = publish_locally(warehouse, settings, "run-1")
    before = sha256_file(yesterday.path)
    open_data_before = {p.name: sha256_file(p) for p in (yesterday.path.parent / "open-data").iterdir()}

    def crash(_: Path) -> None:
        raise RuntimeError("injected crash between write and swap")

    with pytest.raises(RuntimeError, match="injected"):
        publish_locally(warehouse, settings, "run-2", before_swap=crash)
    assert sha256_file(yesterday.path) == before
    assert {p.name: sha256_file(p) for p in (yesterday.path.parent / "open-data").iterdir()} == open_data_before
    assert not list(yesterday.path.parent.glob(".staging-*"))
    assert published_tables(yesterday.path)["publication"]["run_id"].to_list() == ["run-1"]


def test_a_killed_process_between_write_and_swap_leaves_yesterdays(tmp_path: Path) -> None:
    warehouse, settings = samples.sample_warehouse(tmp_path)
    published = publish_locally(warehouse, settings, "run-1").path
    before = sha256_file(published)
    warehouse.close()
    script = textwrap.dedent(f"""
        import importlib.util, os
        from flows.config import Settings
        from flows.publishing import publish_locally
        from warehouse.run import Warehouse
        settings = Settings(home={str(tmp_path)!r})
        with Warehouse(settings.warehouse_path) as warehouse:
            publish_locally(warehouse, settings, "run-2", before_swap=lambda staged: os._exit(9))
    """)
    crashed = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert crashed.returncode == 9, crashed.stderr
    assert sha256_file(published) == before
    assert list(published.parent.glob(".staging-run-2"))  # the half-done work, never visible under the name
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select run_id from publication").fetchone()[0] == "run-1"
    with Warehouse(settings.warehouse_path) as warehouse:
        samples.record_run(warehouse, "run-3")
        publish_locally(warehouse, settings, "run-3")
    assert not list(published.parent.glob(".staging-*"))
    assert published_tables(published)["publication"]["run_id"].to_list() == ["run-3"]


def test_an_analyst_with_the_old_file_open_keeps_a_consistent_view(sample) -> None:
    warehouse, settings = sample
    path = publish_locally(warehouse, settings, "run-1").path
    analyst = duckdb.connect(str(path), read_only=True)
    try:
        samples.record_run(warehouse, "run-2")
        publish_locally(warehouse, settings, "run-2")
        assert analyst.execute("select run_id from publication").fetchone()[0] == "run-1"
        assert analyst.execute("select sum(incidents) from incident_counts").fetchone()[0] == 10
    finally:
        analyst.close()
    assert published_tables(path)["publication"]["run_id"].to_list() == ["run-2"]


def test_failing_data_tests_stop_the_publication(sample) -> None:
    warehouse, settings = sample
    path = publish_locally(warehouse, settings, "run-1").path
    before = sha256_file(path)
    warehouse.execute("update incidents set category = 'Nonsense' where reporting_route = 'both'")
    with pytest.raises(PublishError, match="accepted_values"):
        publish_locally(warehouse, settings, "run-2")
    assert sha256_file(path) == before


def test_open_data_files_are_suppressed_and_match_the_manifest(sample) -> None:
    warehouse, settings = sample
    result = publish_locally(warehouse, settings, "run-1")
    folder = result.path.parent / "open-data"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([
        "README.txt",
        "incidents_by_category.csv", "incidents_by_category.parquet",
        "incidents_by_location_type.csv", "incidents_by_location_type.parquet",
    ])
    parquet = pl.read_parquet(folder / "incidents_by_category.parquet")
    visible = parquet.filter(~pl.col("suppressed"))["incidents"]
    assert not visible.is_between(1, settings.publish.suppression_threshold).any()
    assert parquet.filter(pl.col("suppressed"))["incidents"].null_count() == parquet["suppressed"].sum()
    csv = pl.read_csv(folder / "incidents_by_category.csv", infer_schema=False)
    assert set(csv.filter(pl.col("suppressed") == "true")["incidents"]) <= {"[c]"}
    manifest = json.loads((result.path.parent / "manifest.json").read_text())
    assert manifest["run_id"] == "run-1"
    for entry in manifest["files"]:
        assert sha256_file(result.path.parent / entry["name"]) == entry["sha256"]


def test_nothing_is_published_before_the_marts_exist(tmp_path: Path) -> None:
    from flows.config import Settings

    settings = Settings(home=tmp_path)
    with Warehouse(settings.warehouse_path) as warehouse:
        warehouse.migrate()
        assert publish_incidents.fn(warehouse, settings, "run-1") is None
    assert not settings.published_path.exists()


def test_data_dictionary_is_up_to_date(sample) -> None:
    warehouse, settings = sample
    path = publish_locally(warehouse, settings, "run-1").path
    with duckdb.connect(str(path), read_only=True) as con:
        generated = data_dictionary_markdown(con)
    assert "| `incident_id` | BIGINT |" in generated
    committed = (REPO / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert committed == generated, "run `incidents data-dictionary` and commit docs/data-dictionary.md"


def test_a_night_that_changed_nothing_keeps_the_marts_built_last(sample) -> None:
    from flows.publishing import build_marts_now

    warehouse, settings = sample
    with warehouse.transaction():
        assert build_marts_now(warehouse, settings, data_unchanged=True) == []  # built by the same files
        # changed data (or any night that loaded or linked something) rebuilds
        assert "incidents" in build_marts_now(warehouse, settings)
        # so does a change of the participating forces, even on an unchanged night
        first = settings.forces[0]
        later = first.model_copy(update={"participating_from": first.participating_from.replace(year=2030)})
        moved = settings.model_copy(update={"forces": [later, *settings.forces[1:]]})
        assert "incidents" in build_marts_now(warehouse, moved, data_unchanged=True)
