"""The `incidents` command line."""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

COMMANDS_DIR = Path(__file__).parent / "commands"


def prefect_defaults(home: Path) -> None:
    """Quiet, offline Prefect with its database in the state folder (reused between runs)."""
    os.environ.setdefault("PREFECT_HOME", str((home / "prefect").resolve()))
    # Prefect creates its home but not the folders above it.
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")


HEARTBEAT_VARIABLES = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


@contextlib.contextmanager
def without_flow_heartbeats() -> Iterator[None]:
    """Prefect's flow-run heartbeats off, unless a PREFECT_*_HEARTBEAT_FREQUENCY variable asks for them.

    Heartbeats let a Prefect automation mark a vanished flow run Crashed; a run of
    `incidents nightly` holds the run lock, whose next holder does that (flows/locking.py).
    Prefect's heartbeat thread sleeps in whole seconds and the run joins it at its end,
    which held every run up to 1 s (an empty flow: 1.1 s with heartbeats, 0.13 s without).
    """
    if any(name in os.environ for name in HEARTBEAT_VARIABLES):
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _checked_settings():  # noqa: ANN202
    """Settings with every mapping and reference table loaded: a bad configuration fails here."""
    import tomllib

    import yaml
    from pydantic import ValidationError

    from flows.config import load_settings

    try:
        settings = load_settings()
        _ = settings.mappings, settings.reference_data
    except (ValidationError, ValueError, OSError, tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SystemExit(f"incidents: configuration invalid: {first_line}") from None
    return settings


def cmd_nightly(args: argparse.Namespace) -> int:
    from expectations import gx_process

    gx_process.start()  # GX's 3 s import, in a helper process, while Prefect starts here
    try:
        return _nightly(args)
    finally:
        gx_process.stop()


def _nightly(args: argparse.Namespace) -> int:
    settings = _checked_settings()
    prefect_defaults(settings.home)
    import duckdb

    from flows.locking import RunLockedError
    from flows.nightly import nightly
    from flows.task_runners import task_runner_for

    started = time.perf_counter()
    try:
        with without_flow_heartbeats():
            summary = nightly.with_options(task_runner=task_runner_for(settings))(config_path=args.config)
    except RunLockedError as error:
        print(f"incidents nightly: {error}", file=sys.stderr)
        return 75
    except (duckdb.IOException, PermissionError) as error:
        print(f"incidents nightly: the warehouse cannot be opened ({type(error).__name__}); "
              "nothing was changed", file=sys.stderr)
        return 1
    except Exception as error:  # the run rolled back; Prefect's log has the traceback
        print(f"incidents nightly: the run failed and was rolled back ({type(error).__name__}); "
              "the warehouse and published database are as they were", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    loaded = ", ".join(f"{s}: {n}" for s, n in sorted(summary.rows_loaded.items())) or "none"
    print(f"nightly run {summary.run_id} finished in {elapsed:.1f} s")
    print(f"  files: {summary.files_seen} seen, {summary.files_ingested} new, {summary.files_resent} already held")
    print(f"  rows loaded: {loaded}")
    print(f"  quarantined: {summary.files_quarantined} files, {summary.rows_quarantined} rows (see `incidents quarantine`)")
    for key in summary.unconfigured_files:
        print(f"  not ingested, no source configured for its folder: {key}")
    print(f"  warehouse: {settings.warehouse_path}")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from demo.generator import generate_landing

    out = Path(args.out)
    truth = Path(args.truth) if args.truth else out.parent / f"{out.name}_truth"
    kwargs = {"seed": args.seed, "density": args.density}
    if args.incidents is not None:
        kwargs["incidents"] = args.incidents
    summary = generate_landing(out, truth, **kwargs)
    print(f"demo landing area written to {out} (ground truth in {truth})")
    print(f"  {summary}")
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    """Open quarantine entries (file, row, rule, reason, first seen) and files nobody is configured for."""
    import duckdb

    from flows.config import load_settings
    from warehouse.run import Warehouse

    def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]

    settings = load_settings()
    if not settings.warehouse_path.exists():
        print("no warehouse yet: run `incidents nightly` first", file=sys.stderr)
        return 1
    where = "" if args.all else "where resolved_at is null"
    try:
        with Warehouse(settings.warehouse_path, read_only=True) as warehouse:
            rows = _records(
                warehouse.con,
                "select source_id, file_key, source_row, rule, reason, first_seen, resolved_at "
                f"from quarantine {where} order by first_seen, file_key, source_row nulls first, rule",
            )
            issues = _records(
                warehouse.con,
                "select file_key, folder, issue, first_seen, last_seen from landing_issues order by file_key",
            )
    except duckdb.Error as error:
        print(f"incidents quarantine: cannot read {settings.warehouse_path} ({type(error).__name__}); "
              "is a nightly run still writing it?", file=sys.stderr)
        return 1
    if not rows and not issues:
        print("no open quarantine entries")
        return 0
    if rows:
        state = "" if args.all else "open "
        print(f"{len(rows)} {state}quarantine entr{'y' if len(rows) == 1 else 'ies'} (first seen, file, row, rule: reason)")
    for row in rows:
        where_in_file = "whole file" if row["source_row"] is None else f"row {row['source_row']}"
        resolved = "" if row["resolved_at"] is None else f" [resolved {row['resolved_at']:%Y-%m-%d}]"
        print(f"{row['first_seen']:%Y-%m-%d %H:%M}  {row['file_key']}  {where_in_file}  {row['rule']}: {row['reason']}{resolved}")
    if issues:
        print(f"{len(issues)} file(s) not ingested (first seen, file: issue)")
    for row in issues:
        print(f"{row['first_seen']:%Y-%m-%d %H:%M}  {row['file_key']}  folder {row['folder']}: {row['issue']} "
              f"(last seen {row['last_seen']:%Y-%m-%d})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="incidents", description=__doc__)
    parser.add_argument("--config", help="configuration file (default $INCIDENTS_CONFIG or ./incidents.toml)")
    commands = parser.add_subparsers(dest="command", required=True)

    nightly = commands.add_parser("nightly", help="ingest, validate, standardise, link and publish")
    nightly.set_defaults(handler=cmd_nightly)

    demo = commands.add_parser("demo-data", help="write a synthetic landing area with ground truth")
    demo.add_argument("--out", required=True, help="landing folder to write")
    demo.add_argument("--truth", help="ground-truth folder (default <out>_truth beside it)")
    demo.add_argument("--incidents", type=int, help="number of underlying incidents")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--density", type=float, default=1.0, help="look-alike density multiplier")
    demo.set_defaults(handler=cmd_demo_data)

    quarantine = commands.add_parser("quarantine", help="list open quarantine entries")
    quarantine.add_argument("--all", action="store_true", help="include resolved entries")
    quarantine.set_defaults(handler=cmd_quarantine)

    # Further commands live in flows/commands/<name>.py, each with register(subparsers).
    for module in sorted(COMMANDS_DIR.glob("[!_]*.py")):
        importlib.import_module(f"flows.commands.{module.stem}").register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.config:
        os.environ["INCIDENTS_CONFIG"] = args.config
    return args.handler(args)


def console() -> int:
    """The `incidents` command: `main()`, then an exit without the interpreter's last full collection.

    That collection walks every object the libraries leave (Prefect, pydantic, Great
    Expectations): 1.2 s of a 16 s night at 30x the demo data. Frozen objects are skipped;
    atexit handlers (Prefect's log and event flush, logging) still run and the OS frees the rest.
    Only here, where the process ends: tests call `main()` and keep collecting.
    """
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(console())
