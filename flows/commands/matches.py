"""`incidents matches --out FILE.csv`: every CST-police pair the linkage holds, for the partners.

Columns exactly as the interface spec: cst_ref, police_force, police_ref,
match_probability, status. References are re-identified from the
re-identification store (outside the warehouse); a pair whose pseudonyms the
store cannot reverse (its secrets folder was deleted) is left out and counted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polars only where a command runs: `incidents --help` and each command start faster
    import polars as pl


COLUMNS = ["cst_ref", "police_force", "police_ref", "match_probability", "status"]


def matches_frame(pairs: pl.DataFrame, refs: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """link_pairs rows (report_key, crime_key, force_id, match_probability, status) + store -> export rows.

    Returns the rows (sorted by status, then CST ref) and how many pairs had no reference.
    """
    import polars as pl

    cst = refs.filter(pl.col("source") == "cst").select(pl.col("pseudonym").alias("report_key"), pl.col("ref").alias("cst_ref"))
    police = refs.filter(pl.col("source") != "cst").select(
        pl.col("pseudonym").alias("crime_key"), pl.col("ref").alias("police_ref")
    )
    joined = pairs.join(cst, on="report_key", how="left").join(police, on="crime_key", how="left")
    missing = joined.filter(pl.col("cst_ref").is_null() | pl.col("police_ref").is_null()).height
    order = {"matched": 0, "review": 1, "rejected": 2}
    out = (
        joined.drop_nulls(["cst_ref", "police_ref"])
        .with_columns(pl.col("status").replace_strict(order, default=3).alias("__order"))
        .sort(["__order", "cst_ref", "force_id", "police_ref"])
        .select(
            "cst_ref",
            pl.col("force_id").alias("police_force"),
            "police_ref",
            pl.col("match_probability").fill_null(0.0).round(6),
            "status",
        )
    )
    return out, missing


def cmd_matches(args: argparse.Namespace) -> int:
    from flows.config import load_settings
    from flows.secrets import ReidentificationStore
    from transforms.spreadsheet_safety import spreadsheet_safe
    from warehouse.run import Warehouse

    settings = load_settings()
    if not settings.warehouse_path.exists():
        print("no warehouse yet: run `incidents nightly` first", file=sys.stderr)
        return 1
    with Warehouse(settings.warehouse_path, read_only=True) as warehouse:
        pairs = warehouse.query("select report_key, crime_key, force_id, match_probability, status from link_pairs")
    out, missing = matches_frame(pairs, ReidentificationStore(settings.secrets_dir).lookup())
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    spreadsheet_safe(out).write_csv(path)
    counts = out.group_by("status").len().sort("status")
    summary = ", ".join(f"{s}: {n}" for s, n in counts.iter_rows()) or "no pairs"
    print(f"{out.height} pairs written to {path} ({summary})")
    if missing:
        print(f"  {missing} pairs left out: their references are not in the re-identification store", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("matches", help="export every CST-police pair the linkage holds (CSV)")
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.set_defaults(handler=cmd_matches)
