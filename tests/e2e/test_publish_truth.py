"""Published incidents against the generator's ground truth, at the default demo size.

Two views of the same nightly run:
- the real pipeline (linkage included): incidents per participating force x
  route within 1% of the truth (skipped while the linkage outputs are absent);
- the truth as the linkage (benchmarks/publish.py `oracle_linkage`) on a copy
  of the warehouse: every incident whose records all loaded gets exactly the
  truth's route, whatever the linkage model does. This pins the incident
  assembly (groups, cancellations, participation, dates) on realistic data.
Both also attack the open-data files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from benchmarks.publish import (
    PARTICIPATING,
    WITHIN_ONE_PERCENT,
    comparison,
    oracle_linkage,
    published_counts,
    truth_counts,
)
from flows.config import Settings
from flows.publishing import build_marts_now, frame, publish_locally, table_exists
from flows.secrets import load_or_create_key
from tests.transforms.test_disclosure import attack
from transforms.disclosure import TOTAL, recoverable_cells
from transforms.pseudonyms import keyed_hashes
from warehouse.run import Warehouse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nightly_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from demo.generator import generate_landing
    from flows.nightly import nightly

    root = tmp_path_factory.mktemp("publish_truth")
    landing, truth, home = root / "landing", root / "truth", root / "home"
    generate_landing(landing, truth, seed=7)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INCIDENTS_LANDING", str(landing))
        patch.setenv("INCIDENTS_HOME", str(home))
        patch.delenv("INCIDENTS_CONFIG", raising=False)
        patch.chdir(root)
        nightly()
    return {"root": root, "truth": truth, "home": home}


def open_data_is_safe(published: Path) -> None:
    folder = published.parent / "open-data"
    by_category = pl.read_parquet(folder / "incidents_by_category.parquet")
    by_location = pl.read_parquet(folder / "incidents_by_location_type.parquet")
    dims = ["police_force", "category", "location_type", "reporting_route"]
    union = pl.concat([
        by_category.with_columns(pl.lit(TOTAL).alias("location_type")).select("half_year", *dims, "incidents", "suppressed"),
        by_location.with_columns(pl.lit(TOTAL).alias("category")).select("half_year", *dims, "incidents", "suppressed"),
    ]).unique(["half_year", *dims]).sort(["half_year", *dims])
    assert union["suppressed"].sum() > 0
    assert attack(union, dims, ["half_year"], count="incidents", exact=False) == {}
    with duckdb.connect(str(published), read_only=True) as con:
        exact = frame(con, "select half_year, police_force, category, reporting_route, incidents from incident_counts_half_year")
    truth_union = union.join(
        exact.rename({"incidents": "exact"}), on=["half_year", "police_force", "category", "reporting_route"], how="left"
    )
    # the published cells that are visible agree with the exact counts
    visible = truth_union.filter(~pl.col("suppressed") & pl.col("exact").is_not_null())
    assert (visible["incidents"] == visible["exact"]).all()
    restored = union.with_columns(pl.col("incidents").fill_null(0))  # the check needs counts, not their values
    assert recoverable_cells(restored, dims, "incidents", ["half_year"]).is_empty()


def test_incidents_per_force_and_route_within_one_percent_of_truth(nightly_run) -> None:
    # Seed 7 only: the margin is a few incidents per cell (1% of 120-1,300), so a linkage
    # error or two moves a cell across it; other seeds are measured by benchmarks/publish.py.
    settings = Settings(home=nightly_run["home"])
    with Warehouse(settings.warehouse_path, read_only=True) as warehouse:
        if not table_exists(warehouse.con, "incidents"):
            pytest.skip("the linkage outputs (link_pairs, police_incident_groups) are not produced yet")
    table = comparison(published_counts(settings.published_path), truth_counts(nightly_run["truth"]))
    checked = table.filter(pl.col("police_force").is_in(PARTICIPATING))
    print(table)  # noqa: T201 - shown with -s, the figures of the closing note
    outside = checked.filter(~WITHIN_ONE_PERCENT)
    assert outside.is_empty(), outside
    assert abs(table["ours"].sum() - table["truth"].sum()) <= 0.01 * table["truth"].sum()
    open_data_is_safe(settings.published_path)


def test_with_the_truth_as_linkage_every_fully_loaded_incident_gets_its_route(nightly_run, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(nightly_run["home"], home, ignore=shutil.ignore_patterns("published", "prefect", ".run.lock"))
    settings = Settings(home=home)
    key = load_or_create_key(settings.secrets_dir)
    with Warehouse(settings.warehouse_path) as warehouse:
        oracle_linkage(warehouse, nightly_run["truth"], key)
        with warehouse.transaction():
            build_marts_now(warehouse, settings)
        run_id = warehouse.scalar("select max(run_id) from runs")
        result = publish_locally(warehouse, settings, run_id)
        members = frame(
            warehouse.con,
            "select coalesce(m.report_key, m.crime_key) as k, m.incident_key, i.reporting_route "
            "from incident_members m left join incidents i using (incident_key)",
        )
    refs = pl.read_csv(nightly_run["truth"] / "incidents.csv", infer_schema=False)
    refs = pl.concat([
        part.with_columns(keyed_hashes(part["ref"], key, "cst:" if part["source"][0] == "cst" else f"{part['force_id'][0]}:").alias("k"))
        for part in refs.partition_by("source", "force_id")
    ])
    joined = refs.join(members, on="k", how="left")
    not_loaded = set(joined.filter(pl.col("incident_key").is_null())["incident_id"])  # quarantined records
    meta = pl.read_csv(nightly_run["truth"] / "incidents_meta.csv", infer_schema=False)
    ours = (
        joined.filter(pl.col("incident_key").is_not_null())
        .group_by("incident_id")
        .agg(pl.col("incident_key").n_unique().alias("pieces"), pl.col("reporting_route").drop_nulls().first().alias("ours"))
        .join(meta, on="incident_id")
        .filter(~pl.col("incident_id").is_in(sorted(not_loaded)))
    )
    assert ours.height > 0.9 * meta.height
    assert ours.filter(pl.col("pieces") > 1).is_empty()  # no truth incident split
    merged = joined.filter(pl.col("incident_key").is_not_null()).group_by("incident_key").agg(pl.col("incident_id").n_unique())
    assert (merged["incident_id"] == 1).all()  # no two truth incidents merged
    cancelled_only = ours.filter(pl.col("route") == "none")
    assert cancelled_only["ours"].null_count() == cancelled_only.height  # counted nowhere
    wrong = ours.filter((pl.col("route") != "none") & (pl.col("ours").fill_null("dropped") != pl.col("route")))
    assert wrong.is_empty(), wrong.group_by("route", "ours").len()
    open_data_is_safe(result.path)
