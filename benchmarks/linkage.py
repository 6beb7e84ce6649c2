"""Benchmark: our linkage vs a competent Splink model on the same generated demo data.

    .venv/bin/python benchmarks/linkage.py [--incidents N] [--seed 7] [--density 1]
        [--workdir DIR] [--no-splink] [--no-incremental]

1. Generates demo data (`demo.generator`) at the given size/seed/density and
   stages it with the pipeline's own code (read, validate, standardise,
   redact); both are cached in `--workdir` and not timed.
2. Runs, each in its own child process (wall time and peak RSS measured):
   - ours: the product's path - the staged versions loaded into a DuckDB
     warehouse and `flows.linking.link_warehouse` run in full (narratives,
     blocking, comparison vectors, recordlinkage ECM, incident groups,
     assignment, thresholds, link tables written); peak memory includes DuckDB;
   - Splink 5 on DuckDB: the same staged columns, comparable blocking rules,
     comparisons (date vs range, time, postcode levels, street Jaro-Winkler,
     category, narrative/offender/crime-number token overlaps built with our
     own text normaliser), u by random sampling, lambda from a deterministic
     rule, EM on two blocking rules, predictions at 0.5;
   - an incremental night: a warehouse linked (full) with everything but the
     last delivery day's files and that day loaded, then, in a fresh process
     as a nightly run would be, that day linked incrementally.
3. Prints precision, recall and F1 over CST-police pairs against the ground
   truth (crimes cancelled in their latest version excluded: they count
   nowhere), the review-queue size, wall time and peak memory for both.

Splink is a dev-only dependency (`uv pip install splink`); it runs on DuckDB 2
with `SET lambda_syntax='ENABLE_SINGLE_ARROW'` on its connection.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measure import measure  # noqa: E402

if TYPE_CHECKING:
    from warehouse.run import Warehouse

PAIRS = ["report_key", "crime_key"]


# --------------------------------------------------------------------------- data


def prepared_data(workdir: Path, incidents: int | None, seed: int, density: float) -> Path:
    """Generated and staged demo data (cached): landing/, truth/, *.parquet."""
    from benchmarks.linkage_data import generated, staged_versions

    name = f"i{incidents or 'default'}_s{seed}_d{density:g}"
    out = workdir / name
    generated(out, incidents, seed, density)
    if not (out / "files.parquet").exists():
        cst_v, police_v, refs, files = staged_versions(out / "landing", with_files=True)
        from benchmarks.linkage_data import latest_cst, latest_police

        latest_cst(cst_v).write_parquet(out / "cst.parquet")
        latest_police(police_v).write_parquet(out / "police.parquet")
        cst_v.write_parquet(out / "cst_v.parquet")
        police_v.write_parquet(out / "police_v.parquet")
        refs.write_parquet(out / "refs.parquet")
        files.write_parquet(out / "files.parquet")
    return out


# --------------------------------------------------------------------------- children


def _load_versions(warehouse: Warehouse, data: Path, rows: pl.Expr | None = None) -> None:
    """The staged CST and police versions (those `rows` selects) into the warehouse's version tables."""
    for table, name in (("stg_cst_report_versions", "cst_v"), ("stg_police_crime_versions", "police_v")):
        versions = pl.read_parquet(data / f"{name}.parquet")
        warehouse.insert(table, versions if rows is None else versions.filter(rows))


def child_ours(data: Path, out: Path) -> None:
    """The product's own path: staged versions in a DuckDB warehouse, `link_warehouse` full."""
    from flows.linking import link_warehouse
    from warehouse.run import Warehouse

    path = out / "ours.duckdb"
    path.unlink(missing_ok=True)
    with Warehouse(path) as warehouse:
        warehouse.migrate()
        with warehouse.transaction():
            _load_versions(warehouse, data)
        started = time.perf_counter()
        with warehouse.transaction():
            summary = link_warehouse(warehouse, "benchmark", full=True)
        total = time.perf_counter() - started
        pairs = pl.from_arrow(
            warehouse.con.execute("select report_key, crime_key, status, match_probability from link_pairs").to_arrow_table()
        )
    path.unlink(missing_ok=True)
    pairs.write_parquet(out / "ours.parquet")  # type: ignore[union-attr]
    (out / "ours.json").write_text(
        json.dumps({"candidate_pairs": summary.pairs_scored, "pairs_written": summary.pairs_written, "total": total})
    )


def _splink_frame(frame: pl.DataFrame, side: str, settings: dict) -> pl.DataFrame:
    from transforms.linkage import cst_text
    from transforms.linkage_text import NarrativeLexicon, narrative_terms

    lexicon = NarrativeLexicon.from_settings(settings["narrative"])
    key = "report_key" if side == "cst" else "crime_key"
    if side == "cst":
        text, offender = cst_text(frame), pl.col("offender_description_redacted")
        tokens = pl.col("cited_crime_ref_tokens")
        base = frame.select(
            pl.col(key).alias("unique_id"),
            pl.col("incident_date").alias("d"),
            pl.col("incident_date").alias("d_end"),
            (pl.col("incident_time").dt.hour().cast(pl.Int32) * 60 + pl.col("incident_time").dt.minute().cast(pl.Int32)).alias("minute"),
            pl.col("category"),
            pl.col("force_id").replace("unknown", None),
        )
    else:
        text = pl.col("summary_redacted")
        offender = pl.col("summary_redacted").str.extract(settings["offender_pattern"], 1)
        tokens = pl.col("crime_ref_tokens")
        exact = pl.col("occurred_from") == pl.col("occurred_to")
        base = frame.select(
            pl.col(key).alias("unique_id"),
            pl.col("occurred_from").dt.date().alias("d"),
            pl.col("occurred_to").dt.date().alias("d_end"),
            pl.when(exact).then(
                pl.col("occurred_from").dt.hour().cast(pl.Int32) * 60 + pl.col("occurred_from").dt.minute().cast(pl.Int32)
            ).alias("minute"),
            pl.col("offence_category").alias("category"),
            pl.col("force_id"),
        )
    places = frame.select(
        pl.col("postcode_unit_key").alias("unit"),
        pl.col("postcode_sector").alias("sector"),
        pl.col("postcode_district").alias("district"),
        pl.col("street").str.to_lowercase().alias("street"),
    )

    def term_lists(expr: pl.Expr, name: str) -> pl.DataFrame:
        terms = narrative_terms(frame.select(pl.col(key).alias("doc"), expr.alias("text")), lexicon)
        return terms.group_by("doc").agg(pl.col("term").sort().alias(name)).rename({"doc": "unique_id"})

    out = pl.concat([base, places], how="horizontal").with_columns(
        frame.select(tokens.list.eval(pl.element().filter(pl.element().str.starts_with("x:"))).alias("ref_tokens"))["ref_tokens"]
    )
    out = out.join(term_lists(text, "text_tokens"), on="unique_id", how="left")
    out = out.join(term_lists(offender, "offender_tokens"), on="unique_id", how="left")
    return out


def child_splink(data: Path, out: Path) -> None:
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    from splink.comparison_level_library import CustomLevel, ElseLevel, NullLevel

    from transforms.linkage import linkage_settings

    settings = linkage_settings()
    cst = pl.read_parquet(data / "cst.parquet")
    police = pl.read_parquet(data / "police.parquet").filter(pl.col("status") != "cancelled")
    started = time.perf_counter()
    left = _splink_frame(cst, "cst", settings).to_arrow()
    right = _splink_frame(police, "police", settings).to_arrow()
    con = duckdb.connect()
    con.execute("SET lambda_syntax='ENABLE_SINGLE_ARROW'")
    db_api = DuckDBAPI(connection=con)
    window = "l.d between r.d - interval 3 day and r.d_end + interval 3 day"
    window_level = "d_l between d_r - interval 3 day and d_end_r + interval 3 day"
    date = cl.CustomComparison(
        output_column_name="date",
        comparison_levels=[
            NullLevel("d"),
            CustomLevel("d_l between d_r and d_end_r", "inside the police range"),
            CustomLevel("d_l between d_r - interval 1 day and d_end_r + interval 1 day", "1 day"),
            CustomLevel(window_level, "3 days"),
            ElseLevel(),
        ],
    )
    minute = cl.CustomComparison(
        output_column_name="time",
        comparison_levels=[
            NullLevel("minute"),
            CustomLevel("abs(minute_l - minute_r) <= 15", "15 min"),
            CustomLevel("abs(minute_l - minute_r) <= 60", "1 h"),
            ElseLevel(),
        ],
    )
    place = cl.CustomComparison(
        output_column_name="postcode",
        comparison_levels=[
            CustomLevel("district_l is null or district_r is null", "null").configure(is_null_level=True),
            CustomLevel("unit_l = unit_r", "unit"),
            CustomLevel("sector_l = sector_r", "sector"),
            CustomLevel("district_l = district_r", "district"),
            ElseLevel(),
        ],
    )
    model = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=1e-4,
        blocking_rules_to_generate_predictions=[
            f"l.district = r.district and {window}",
            f"l.street = r.street and {window}",
            "l.force_id = r.force_id and l.d between r.d - interval 1 day and r.d_end + interval 1 day "
            "and (l.district is null or r.district is null)",
        ],
        comparisons=[
            date,
            minute,
            place,
            cl.JaroWinklerAtThresholds("street", [0.92]),
            cl.ExactMatch("category"),
            cl.ArrayIntersectAtSizes("text_tokens", [6, 4, 2, 1]),
            cl.ArrayIntersectAtSizes("offender_tokens", [3, 2, 1]),
            cl.ArrayIntersectAtSizes("ref_tokens", [1]),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker([db_api.register(left), db_api.register(right)], model, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        ["l.unit = r.unit and l.d = r.d"], recall=0.3
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("district", "d"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("street"))
    predictions = linker.inference.predict(threshold_match_probability=0.05)
    frame = pl.from_arrow(
        con.sql(f"select unique_id_l, unique_id_r, match_probability from {predictions.physical_name}").to_arrow_table()
    )
    elapsed = time.perf_counter() - started
    frame.rename({"unique_id_l": "report_key", "unique_id_r": "crime_key"}).write_parquet(out / "splink.parquet")
    (out / "splink.json").write_text(json.dumps({"total": elapsed, "candidate_pairs": frame.height}))


def child_incremental_base(data: Path, out: Path) -> None:
    """A warehouse linked (full) with all but the last delivery day, then that day loaded, not linked."""
    from flows.linking import link_warehouse
    from warehouse.run import Warehouse

    files = pl.read_parquet(data / "files.parquet")
    night = files.filter(pl.col("day") == files["day"].max())["ingest_seq"].implode()
    path = out / "incremental.duckdb"
    path.unlink(missing_ok=True)
    with Warehouse(path) as warehouse:
        warehouse.migrate()
        in_night = pl.col("ingest_seq").is_in(night)
        with warehouse.transaction():
            _load_versions(warehouse, data, ~in_night)
            before = link_warehouse(warehouse, "before", full=True)
        with warehouse.transaction():
            _load_versions(warehouse, data, in_night)
        warehouse.execute("checkpoint")
    (out / "incremental_base.json").write_text(json.dumps({"full_seconds": before.seconds}))


def child_incremental(data: Path, out: Path) -> None:
    """The last day linked incrementally, in a process of its own (as a nightly run is)."""
    from flows.linking import link_warehouse
    from warehouse.run import Warehouse

    path = out / "incremental.duckdb"
    with Warehouse(path) as warehouse:
        started = time.perf_counter()
        with warehouse.transaction():
            night_summary = link_warehouse(warehouse, "night")
        seconds = time.perf_counter() - started
    path.unlink(missing_ok=True)
    base = json.loads((out / "incremental_base.json").read_text())
    (out / "incremental.json").write_text(
        json.dumps({"seconds": seconds, "full_seconds": base["full_seconds"], "changed_reports": night_summary.changed_reports,
                    "changed_crimes": night_summary.changed_crimes, "pairs_scored": night_summary.pairs_scored,
                    "pairs_written": night_summary.pairs_written, "mode": night_summary.mode})
    )


# --------------------------------------------------------------------------- report


def _quality(predicted: pl.DataFrame, truth: pl.DataFrame) -> dict:
    from benchmarks.linkage_data import pairwise_quality

    return pairwise_quality(predicted, truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--density", type=float, default=1.0)
    parser.add_argument("--workdir", default=os.environ.get("LINKAGE_BENCH_DIR", "/tmp/linkage-bench"))
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--no-incremental", action="store_true")
    parser.add_argument(
        "--child", choices=["ours", "splink", "incremental-base", "incremental"], help=argparse.SUPPRESS
    )
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        data = Path(args.data)
        {"ours": child_ours, "splink": child_splink, "incremental-base": child_incremental_base,
         "incremental": child_incremental}[args.child](data, data)
        return

    from benchmarks.linkage_data import truth_pairs

    started = time.perf_counter()
    data = prepared_data(Path(args.workdir), args.incidents, args.seed, args.density)
    prepared = time.perf_counter() - started
    cst = pl.read_parquet(data / "cst.parquet")
    police = pl.read_parquet(data / "police.parquet")
    truth = truth_pairs(data / "truth", pl.read_parquet(data / "refs.parquet"), police)
    live_police = police.filter(pl.col("status") != "cancelled").height
    script = str(Path(__file__).resolve())
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def run(child: str):
        return measure([sys.executable, script, "--child", child, "--data", str(data)], env)

    print(f"data: {data} (prepared in {prepared:.0f} s)")
    print(f"  {cst.height} CST reports + {police.height} police crimes = {cst.height + police.height} records; "
          f"{truth.height} true CST-police pairs (live crimes)")
    rows = []
    ours_m = run("ours")
    ours = pl.read_parquet(data / "ours.parquet")
    info = json.loads((data / "ours.json").read_text())
    q = _quality(ours.filter(pl.col("status") == "matched"), truth)
    review = ours.filter(pl.col("status") == "review").height
    rows.append(("ours (recordlinkage ECM)", q, review, ours_m, info["candidate_pairs"]))
    if not args.no_splink:
        splink_m = run("splink")
        splink = pl.read_parquet(data / "splink.parquet")
        sinfo = json.loads((data / "splink.json").read_text())
        q_s = _quality(splink.filter(pl.col("match_probability") >= 0.5), truth)
        review_s = splink.filter(pl.col("match_probability").is_between(0.3, 0.6, closed="left")).height
        rows.append(("splink 5 (p >= 0.5)", q_s, review_s, splink_m, sinfo["candidate_pairs"]))
        best = max(
            ((t, _quality(splink.filter(pl.col("match_probability") >= t), truth)) for t in (0.2, 0.5, 0.8, 0.9, 0.95, 0.99)),
            key=lambda item: item[1]["f1"],
        )
        rows.append((f"splink 5 (best threshold {best[0]})", best[1], None, None, None))
    print()
    print(f"{'system':<34} {'precision':>9} {'recall':>7} {'F1':>7} {'review':>8} {'review %':>8} {'time s':>8} {'peak MB':>8}")
    for name, quality, review_n, m, _ in rows:
        share = f"{100 * review_n / live_police:7.2f}%" if review_n is not None else "       -"
        print(
            f"{name:<34} {quality['precision']:9.4f} {quality['recall']:7.4f} {quality['f1']:7.4f} "
            f"{review_n if review_n is not None else '-':>8} {share:>8} "
            f"{(f'{m.seconds:8.1f}' if m else '       -')} {(f'{m.peak_mb:8.0f}' if m else '       -')}"
        )
    print(f"ours: {info['candidate_pairs']} candidate pairs scored, {info['pairs_written']} kept in link_pairs; "
          f"link_warehouse (full) {info['total']:.1f} s of the child's wall time (the rest: loading the warehouse)")
    if not args.no_incremental:
        base_m = run("incremental-base")
        inc_m = run("incremental")
        inc = json.loads((data / "incremental.json").read_text())
        print(
            f"incremental night: {inc['changed_reports']} new/changed reports + {inc['changed_crimes']} crimes linked in "
            f"{inc['seconds']:.2f} s ({inc['pairs_scored']} pairs scored, {inc['pairs_written']} written; "
            f"process {inc_m.seconds:.1f} s, peak {inc_m.peak_mb:.0f} MB); before it, the full link of the rest "
            f"{inc['full_seconds']:.1f} s (process {base_m.seconds:.1f} s, peak {base_m.peak_mb:.0f} MB)"
        )


if __name__ == "__main__":
    main()
