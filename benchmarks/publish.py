"""Benchmark: publish on the default demo data; incidents per force x route against the truth.

Generates demo data, runs `incidents nightly`, then times a re-publish of the
warehouse (published database + open data, local only) and prints:
  - publish wall time and the published database's size;
  - incidents per force x reporting route: ours (published database) vs the
    generator's truth (`incidents_meta.csv`, route `none` = cancelled only, left out).

`--oracle-linkage` replaces the linkage's decisions by the truth (pairs and
police groups keyed from the truth's references with the run's key) before the
marts are built: it measures this step alone (incident assembly, force,
dates, participation, routes) apart from linkage errors. It is a benchmark
device only; the nightly run never does this.

    .venv/bin/python benchmarks/publish.py [--incidents N] [--seed S | --seeds 1,2,3] [--oracle-linkage]

With `--seeds`, every seed is run in turn and a last table gives, per seed, how
many participating force x route cells are within 1% of the truth and the worst.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.config import Settings  # noqa: E402
from flows.publishing import build_marts_now, frame, linkage_ready, publish_locally  # noqa: E402
from flows.secrets import load_or_create_key  # noqa: E402
from transforms.pseudonyms import keyed_hashes  # noqa: E402
from warehouse.run import Warehouse  # noqa: E402

# only where warehouse/schema/004_linkage.sql has not created the tables
ORACLE_DDL = [
    "create table if not exists link_pairs (report_key varchar, crime_key varchar, force_id varchar, "
    "match_probability double, match_weight double, status varchar, decided_by varchar, "
    "model_run_id varchar, updated_at timestamp)",
    "create table if not exists police_incident_groups "
    "(crime_key varchar, police_incident_id varchar, updated_at timestamp)",
    "delete from link_pairs",
    "delete from police_incident_groups",
]


def oracle_linkage(warehouse: Warehouse, truth: Path, key: bytes) -> tuple[int, int]:
    """Write link_pairs / police_incident_groups as the truth has them (benchmark only)."""
    refs = pl.read_csv(truth / "incidents.csv", infer_schema=False)
    cst = refs.filter(pl.col("source") == "cst")
    cst = cst.with_columns(keyed_hashes(cst["ref"], key, "cst:").alias("report_key"))
    police = pl.concat([
        part.with_columns(keyed_hashes(part["ref"], key, f"{part['force_id'][0]}:").alias("crime_key"))
        for part in refs.filter(pl.col("source") == "police").partition_by("force_id")
    ])
    pairs = cst.join(police, on="incident_id").select(
        "report_key", "crime_key", pl.col("force_id_right").alias("force_id"),
        pl.lit(1.0).alias("match_probability"), pl.lit(99.0).alias("match_weight"),
        pl.lit("matched").alias("status"), pl.lit("review").alias("decided_by"),
        pl.lit("oracle").alias("model_run_id"), pl.lit(datetime.now()).alias("updated_at"),
    ).unique(["report_key", "crime_key"])
    groups = police.select(
        "crime_key", pl.col("incident_id").alias("police_incident_id"), pl.lit(datetime.now()).alias("updated_at")
    ).unique("crime_key")
    for ddl in ORACLE_DDL:
        warehouse.execute(ddl)
    warehouse.insert("link_pairs", pairs)
    warehouse.insert("police_incident_groups", groups)
    return pairs.height, groups.height


def truth_counts(truth: Path) -> pl.DataFrame:
    meta = pl.read_csv(truth / "incidents_meta.csv", infer_schema=False)
    return (
        meta.filter(pl.col("route") != "none")
        .group_by(pl.col("force_area_id").alias("police_force"), pl.col("route").alias("reporting_route"))
        .agg(pl.len().alias("truth"))
    )


def published_counts(path: Path) -> pl.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return frame(con, "select police_force, reporting_route, count(*) as ours from incidents group by all")


def comparison(ours: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Per force x route: ours, truth and the difference in % of the truth."""
    return (
        truth.join(ours, on=["police_force", "reporting_route"], how="full", coalesce=True)
        .with_columns(pl.col("truth", "ours").fill_null(0).cast(pl.Int64))
        .with_columns(((pl.col("ours") - pl.col("truth")) / pl.col("truth") * 100).round(2).alias("diff_pct"))
        .sort("truth", "police_force", "reporting_route", descending=[True, False, False])
    )


PARTICIPATING = ("gmp", "mps", "wyp")
# issue 7's target for a participating force x route cell
WITHIN_ONE_PERCENT = (pl.col("ours") - pl.col("truth")).abs() <= 0.01 * pl.col("truth")


def run_one(seed: int, incidents: int | None, oracle: bool, root: Path) -> pl.DataFrame:
    """Generate one seed's data, run `incidents nightly`, re-publish; print and return ours vs truth."""
    from demo.generator import generate_landing

    landing, truth, home = root / "landing", root / "truth", root / "home"
    kwargs = {"seed": seed} | ({"incidents": incidents} if incidents else {})
    generate_landing(landing, truth, **kwargs)
    env = {**os.environ, "INCIDENTS_LANDING": str(landing), "INCIDENTS_HOME": str(home),
           "PREFECT_HOME": os.environ.get("PREFECT_HOME", str(root / "prefect"))}
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "incidents"), "nightly"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    print(f"seed {seed}: nightly {time.perf_counter() - started:.1f} s")
    settings = Settings(home=home)
    with Warehouse(settings.warehouse_path) as warehouse:
        if oracle:
            pairs, crimes = oracle_linkage(warehouse, truth, load_or_create_key(settings.secrets_dir))
            print(f"ORACLE linkage from the truth: {pairs} matched pairs, {crimes} grouped crimes")
        elif not linkage_ready(warehouse):
            sys.exit("the linkage tables do not exist: nothing to measure (try --oracle-linkage)")
        with warehouse.transaction():
            started = time.perf_counter()
            build_marts_now(warehouse, settings)
            marts_seconds = time.perf_counter() - started
        run_id = warehouse.scalar("select run_id from runs order by started_at desc limit 1")
        result = publish_locally(warehouse, settings, run_id)
    print(f"marts: {marts_seconds:.2f} s; publish (database + open data): {result.seconds:.2f} s; "
          f"published database {result.size_bytes / 1e6:.2f} MB; rows {result.tables}")
    table = comparison(published_counts(result.path), truth_counts(truth))
    with pl.Config(tbl_rows=100, tbl_hide_dataframe_shape=True):
        print(table)
    total_ours, total_truth = table["ours"].sum(), table["truth"].sum()
    print(f"all incidents: ours {total_ours}, truth {total_truth} "
          f"({(total_ours - total_truth) / total_truth * 100:+.2f}%)")
    return table


def seed_summary(tables: dict[int, pl.DataFrame]) -> pl.DataFrame:
    """Per seed: how many participating force x route cells are within 1% of the truth, and the worst."""
    rows = []
    for seed, table in tables.items():
        cells = table.filter(pl.col("police_force").is_in(PARTICIPATING))
        within = cells.filter(WITHIN_ONE_PERCENT)
        worst = cells.sort(pl.col("diff_pct").abs(), descending=True).row(0, named=True)
        rows.append({
            "seed": seed, "cells_within_1pct": f"{within.height}/{cells.height}",
            "worst_cell": f"{worst['police_force']} {worst['reporting_route']}", "worst_diff_pct": worst["diff_pct"],
            "all_diff_pct": round((table["ours"].sum() - table["truth"].sum()) / table["truth"].sum() * 100, 2),
        })
    return pl.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seeds", help="several seeds, comma-separated: each run, then a summary per seed")
    parser.add_argument("--oracle-linkage", action="store_true", help="use the truth as the linkage (see above)")
    parser.add_argument("--keep", help="work in this folder and keep it (one subfolder per seed with --seeds)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed]
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            root = Path(args.keep or tmp) / (f"seed{seed}" if args.seeds else "")
            tables[seed] = run_one(seed, args.incidents, args.oracle_linkage, root)
    if len(seeds) > 1:
        with pl.Config(tbl_rows=100, tbl_hide_dataframe_shape=True):
            print(seed_summary(tables))


if __name__ == "__main__":
    main()
