"""`incidents status`: last runs, freshness of each source, open quarantine and review items.

Exit codes, for a scheduler or monitor to alert on:
    0  every source is within its cadence and the last run succeeded
    3  a source is overdue (no new extract for longer than its `cadence_days` + `[schedule] grace_days`)
    4  no source overdue, but the last run failed (or its publishing did)
    1  no warehouse yet, or it cannot be read
    75 the warehouse is busy (a run is writing it); try again later
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, datetime
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_OVERDUE, EXIT_LAST_RUN_FAILED, EXIT_BUSY = 0, 1, 3, 4, 75


def _records(con: Any, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _exists(con: Any, table: str) -> bool:
    return bool(con.execute(
        "select count(*) from duckdb_tables() where table_name = ? and schema_name = 'main' "
        "and database_name = current_database()", [table],
    ).fetchone()[0])


def _columns(con: Any, table: str) -> set[str]:
    return {r[0] for r in con.execute(
        "select column_name from duckdb_columns() where table_name = ? and schema_name = 'main' "
        "and database_name = current_database()", [table],
    ).fetchall()}


def collect(con: Any, settings: Any, as_of: date, runs: int = 5) -> dict[str, Any]:
    """Everything `incidents status` shows, as plain data (counts, dates, hashes: no record content)."""
    run_columns = _columns(con, "runs")
    wanted = ["run_id", "started_at", "finished_at", "status", "files_ingested", "files_seen", "rows_loaded",
              "rows_quarantined", "validations_failed", "pairs_matched", "pairs_review", "records_purged",
              "incidents_published", "published_checksum", "code_version", "config_hash", "error"]
    select = ", ".join(c if c in run_columns else f"null as {c}" for c in wanted)
    last_runs = _records(con, f"select {select} from runs order by started_at desc limit ?", [runs])

    received = {
        r["source_id"]: r for r in _records(
            con, "select source_id, max(first_seen) as last_extract, count(*) as files from manifest group by 1"
        )
    }
    grace = settings.schedule.grace_days
    sources = []
    for source in settings.sources:
        row = received.get(source.id)
        last = row["last_extract"] if row else None
        days = (as_of - last.date()).days if last else None
        expected = source.participating_from is None or source.participating_from <= as_of
        if last is None:
            state = "overdue" if expected else "not yet due"
        else:
            state = "overdue" if days > source.cadence_days + grace else "ok"
        sources.append({
            "source": source.id, "cadence_days": source.cadence_days, "last_extract": last,
            "days_since": days, "files": row["files"] if row else 0, "state": state,
        })

    quarantine = _records(
        con,
        "select source_id, count(*) filter (where source_row is null) as files, "
        "count(*) filter (where source_row is not null) as rows_ "
        "from quarantine where resolved_at is null group by 1 order by 1",
    )
    landing_issues = con.execute("select count(*) from landing_issues").fetchone()[0]
    review = None
    if _exists(con, "link_pairs"):
        review = con.execute("select count(*) from link_pairs where status = 'review'").fetchone()[0]
    return {
        "as_of": as_of,
        "runs": last_runs,
        "sources": sources,
        "open_quarantine": quarantine,
        "landing_issues": landing_issues,
        "review_pairs": review,
    }


def exit_code(report: dict[str, Any]) -> int:
    if any(s["state"] == "overdue" for s in report["sources"]):
        return EXIT_OVERDUE
    if report["runs"] and report["runs"][0]["status"] in ("failed", "publish_failed"):
        return EXIT_LAST_RUN_FAILED
    return EXIT_OK


def _when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _n(value: Any) -> str:
    return "-" if value is None else str(value)


def render(report: dict[str, Any]) -> str:
    lines = [f"Last runs (newest first, as of {report['as_of']}):"]
    if not report["runs"]:
        lines.append("  none yet")
    for run in report["runs"]:
        took = ""
        if run["finished_at"] and run["started_at"]:
            took = f" {(run['finished_at'] - run['started_at']).total_seconds():.0f} s"
        published = f"published {run['published_checksum'][:12]}" if run["published_checksum"] else "not published"
        failed = f" [{run['error']}]" if run.get("error") else ""
        lines.append(
            f"  {run['run_id']}  {_when(run['started_at'])}  {run['status']}{took}{failed}  "
            f"files {_n(run['files_ingested'])} new/{_n(run['files_seen'])} seen, rows {_n(run['rows_loaded'])} loaded, "
            f"{_n(run['rows_quarantined'])} quarantined; pairs {_n(run['pairs_matched'])} matched, "
            f"{_n(run['pairs_review'])} review; {_n(run['incidents_published'])} incidents, {published}; "
            f"code {_n(run['code_version'])}, config {str(run['config_hash'] or '-')[:12]}"
        )
    lines.append("Sources (days since the last new extract, against the expected cadence):")
    for s in report["sources"]:
        flag = "OVERDUE" if s["state"] == "overdue" else s["state"]
        since = "never" if s["days_since"] is None else f"{s['days_since']} d ago ({_when(s['last_extract'])})"
        lines.append(f"  {s['source']:<6} every {s['cadence_days']:>3} d  last {since:<32} {s['files']:>5} files  {flag}")
    q = report["open_quarantine"]
    if q:
        parts = ", ".join(f"{r['source_id']}: {r['files']} files, {r['rows_']} rows" for r in q)
        lines.append(f"Open quarantine: {parts}  (`incidents quarantine`)")
    else:
        lines.append("Open quarantine: none")
    if report["landing_issues"]:
        lines.append(f"Files in folders no source is configured for: {report['landing_issues']}")
    review = report["review_pairs"]
    lines.append("Review queue: " + ("linkage has not run yet" if review is None else f"{review} pairs awaiting review"))
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    import duckdb

    from flows.config import load_settings

    settings = load_settings()
    if not settings.warehouse_path.exists():
        print("no warehouse yet: run `incidents nightly` first", file=sys.stderr)
        return EXIT_ERROR
    as_of = date.fromisoformat(args.as_of) if args.as_of else date.today()
    deadline = time.monotonic() + args.wait
    while True:
        try:
            con = duckdb.connect(str(settings.warehouse_path), read_only=True)
            break
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            if time.monotonic() >= deadline:
                print(f"incidents status: {settings.warehouse_path} is being written by a run; "
                      "try again when it has finished", file=sys.stderr)
                return EXIT_BUSY
            time.sleep(1)
    try:
        report = collect(con, settings, as_of, args.runs)
    finally:
        con.close()
    code = exit_code(report)
    if args.json:
        print(json.dumps({**report, "exit_code": code}, default=str, indent=2))
    else:
        print(render(report))
        if code == EXIT_OVERDUE:
            print("status: a source is overdue (exit 3)")
        elif code == EXIT_LAST_RUN_FAILED:
            print("status: the last run failed (exit 4); see the Prefect UI or `incidents nightly`")
    return code


def register(subparsers: argparse._SubParsersAction) -> None:
    status = subparsers.add_parser(
        "status", help="last runs, source freshness, open quarantine and review items (exit 3: a source is overdue)"
    )
    status.add_argument("--runs", type=int, default=5, help="how many recent runs to show (default 5)")
    status.add_argument("--as-of", help="judge freshness as of this date (YYYY-MM-DD; default today)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--wait", type=float, default=30.0,
                        help="seconds to wait while a run is writing the warehouse (default 30)")
    status.set_defaults(handler=cmd_status)
