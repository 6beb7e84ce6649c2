"""Benchmark: `incidents nightly` on the default demo data, a no-change rerun, and a baseline.

Baseline (same run, same data): reading every extract with plain Polars and
inserting it raw into a DuckDB file — the floor any pipeline over these files
pays. Prints wall time and peak memory of each, and rows per source.

    .venv/bin/python benchmarks/nightly.py [--incidents N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measure import measure  # noqa: E402

BASELINE = """
import sys, duckdb, polars as pl
from pathlib import Path
root = Path(sys.argv[1]); con = duckdb.connect(sys.argv[2])
for i, path in enumerate(sorted(p for p in root.rglob("*") if p.is_file())):
    if path.suffix == ".csv":
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    elif path.suffix == ".xlsx":
        frame = pl.read_excel(path, sheet_name="Export")
    else:
        frame = pl.read_ndjson(path).unnest("occurred", "offence", "location", separator=".").drop("persons", "flags")
    con.register("f", frame.to_arrow())
    con.execute(f"create table t{i} as select * from f")
con.close()
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    incidents = str(Path(sys.executable).parent / "incidents")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        landing, home = root / "landing", root / "home"
        env = {
            **os.environ,
            "INCIDENTS_LANDING": str(landing),
            "INCIDENTS_HOME": str(home),
            "PREFECT_HOME": str(root / "prefect"),
        }
        demo = [incidents, "demo-data", "--out", str(landing), "--seed", str(args.seed)]
        if args.incidents:
            demo += ["--incidents", str(args.incidents)]
        generated = measure(demo, env)
        files = sum(1 for p in landing.rglob("*") if p.is_file())
        baseline = measure([sys.executable, "-c", BASELINE, str(landing), str(root / "raw.duckdb")], env)
        first = measure([incidents, "nightly"], env)
        second = measure([incidents, "nightly"], env)
        con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
        rows = con.execute(
            "select 'cst' as source, count(*) from stg_cst_reports union all "
            "select force_id, count(*) from stg_police_crimes group by force_id order by 1"
        ).fetchall()
        versions = con.execute(
            "select (select count(*) from stg_cst_report_versions), (select count(*) from stg_police_crime_versions)"
        ).fetchone()
        con.close()
    print(f"demo data: {files} files, generated in {generated}")
    print(f"baseline (raw read + raw DuckDB insert): {baseline}")
    print(f"incidents nightly, first run:            {first}   ({first.seconds / baseline.seconds:.1f}x baseline)")
    print(f"incidents nightly, no-change rerun:      {second}")
    print(f"row versions loaded: cst {versions[0]}, police {versions[1]}")
    for source, count in rows:
        print(f"  {source:>6}: {count} current records")


if __name__ == "__main__":
    main()
