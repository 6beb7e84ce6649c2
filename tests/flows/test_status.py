"""`incidents status`: last runs, freshness against cadence, open items, exit codes; and the ledger schema."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from flows.cli import main
from flows.commands.status import EXIT_BUSY, EXIT_LAST_RUN_FAILED, EXIT_OK, EXIT_OVERDUE
from flows.config import load_settings
from flows.ledger import artifact_rows, config_hash
from warehouse.run import Warehouse

TODAY = date(2026, 11, 26)


def _at(days_ago: int) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time()) + timedelta(hours=2)


@pytest.fixture
def warehouse(incidents_env: dict[str, Path]) -> Path:
    """A warehouse with two runs and files from every default source (cst 0 d, gmp 3 d, mps 20 d, wyp 0 d)."""
    path = incidents_env["home"] / "warehouse.duckdb"
    with Warehouse(path) as w:
        w.migrate()
        w.execute(
            "insert into runs (run_id, started_at, finished_at, status, code_version, config_hash, files_ingested, "
            "files_seen, rows_loaded, rows_quarantined, pairs_matched, pairs_review, incidents_published, "
            "published_checksum) values "
            "('r1', ?, ?, 'succeeded', 'abc1234', 'cfg', 4, 4, 100, 2, 10, 1, 90, 'aa'), "
            "('r2', ?, ?, 'succeeded', 'abc1234', 'cfg', 1, 5, 20, 0, 11, 2, 95, 'bb')",
            [_at(1), _at(1) + timedelta(seconds=30), _at(0), _at(0) + timedelta(seconds=12)],
        )
        for i, (source, days) in enumerate([("cst", 0), ("gmp", 3), ("mps", 20), ("wyp", 0)]):
            w.execute(
                "insert into manifest values (?, ?, ?, 10, ?, 'r1', ?, 'loaded', 5, 5, 0)",
                [f"h{i}", source, f"{source}/f{i}.csv", i + 1, _at(days)],
            )
        w.execute(
            "insert into quarantine values ('q1', 'r1', 'gmp', 'police/gmp/f1.csv', 'h1', 3, 'k', 'date_parse', "
            "'unreadable date in Occurred', ?, null, null), "
            "('q2', 'r1', 'cst', 'cst/f0.csv', 'h0', null, null, 'columns', 'missing column', ?, ?, 'r2')",
            [_at(1), _at(1), _at(0)],
        )
    return path


def test_all_fresh_exits_zero_and_shows_runs_sources_and_open_items(warehouse, capsys):
    assert main(["status", "--as-of", TODAY.isoformat()]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.index("r2") < out.index("r1")  # newest first
    assert "95 incidents, published bb" in out
    assert "mps    every  31 d  last 20 d ago" in out
    assert "OVERDUE" not in out
    assert "Open quarantine: gmp: 0 files, 1 rows" in out  # the resolved cst entry is not open
    assert "Review queue: 0 pairs awaiting review" in out


def test_an_overdue_source_exits_3(warehouse, capsys):
    # gmp sends weekly: 8 days after its last file it is overdue; cst and wyp (daily) too.
    assert main(["status", "--as-of", (TODAY + timedelta(days=5)).isoformat()]) == EXIT_OVERDUE
    out = capsys.readouterr().out
    assert "gmp    every   7 d  last 8 d ago" in out and "OVERDUE" in out
    assert "mps    every  31 d  last 25 d ago" in out
    assert "exit 3" in out


def test_grace_days_and_json_output(warehouse, incidents_env, capsys, monkeypatch):
    config = incidents_env["root"] / "incidents.toml"
    config.write_text(textwrap.dedent("""
        [schedule]
        grace_days = 1
    """))
    monkeypatch.setenv("INCIDENTS_CONFIG", str(config))
    assert main(["status", "--json", "--as-of", (TODAY + timedelta(days=1)).isoformat()]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert {s["source"]: s["state"] for s in report["sources"]} == {"cst": "ok", "gmp": "ok", "mps": "ok", "wyp": "ok"}
    assert report["exit_code"] == 0
    assert [r["run_id"] for r in report["runs"]] == ["r2", "r1"]
    assert main(["status", "--json", "--as-of", (TODAY + timedelta(days=3)).isoformat()]) == EXIT_OVERDUE
    capsys.readouterr()


def test_a_source_never_heard_from(warehouse, incidents_env, capsys, monkeypatch):
    config = incidents_env["root"] / "incidents.toml"
    config.write_text(textwrap.dedent("""
        [[forces]]
        id = "gmp"
        mapping = "builtin:gmp"
        cadence_days = 7

        [[forces]]
        id = "wyp"
        mapping = "builtin:wyp"
        participating_from = 2027-01-01
        cadence_days = 1
    """))
    monkeypatch.setenv("INCIDENTS_CONFIG", str(config))
    with Warehouse(warehouse) as w:
        w.execute("delete from manifest where source_id = 'wyp'")
    assert main(["status", "--as-of", TODAY.isoformat()]) == EXIT_OK
    assert "wyp    every   1 d  last never" in capsys.readouterr().out  # not taking part yet: not due
    with Warehouse(warehouse) as w:
        w.execute("delete from manifest where source_id = 'gmp'")
    assert main(["status", "--as-of", TODAY.isoformat()]) == EXIT_OVERDUE
    capsys.readouterr()


def test_a_failed_last_run_exits_4(warehouse, capsys):
    with Warehouse(warehouse) as w:
        w.execute("insert into runs (run_id, started_at, finished_at, status, error) "
                  "values ('r3', ?, ?, 'failed', 'load: OSError')", [_at(0) + timedelta(hours=1), _at(0)])
    assert main(["status", "--as-of", TODAY.isoformat()]) == EXIT_LAST_RUN_FAILED
    assert "[load: OSError]" in capsys.readouterr().out


def test_review_items_are_counted_once_linkage_exists(warehouse, capsys):
    with Warehouse(warehouse) as w:
        w.execute("insert into link_pairs (report_key, crime_key, status, decided_by, updated_at) values "
                  "('a', 'b', 'review', 'model', now()), ('c', 'd', 'matched', 'model', now()), "
                  "('e', 'f', 'review', 'model', now())")
    main(["status", "--as-of", TODAY.isoformat()])
    assert "Review queue: 2 pairs awaiting review" in capsys.readouterr().out


def test_no_warehouse_and_busy_warehouse(incidents_env, warehouse, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); print('ok', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        assert main(["status", "--wait", "0"]) == EXIT_BUSY
        assert "being written by a run" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    warehouse.unlink()
    assert main(["status"]) == 1


def test_ledger_schema_and_counts_only_artifact(incidents_env):
    with Warehouse(incidents_env["home"] / "w.duckdb") as w:
        w.migrate()
        w.migrate()  # idempotent
        columns = set(w.query("select column_name from duckdb_columns() where table_name = 'runs'")["column_name"])
        assert {"code_version", "config_hash", "published_checksum", "validations_failed", "pairs_matched",
                "incidents_published", "records_purged", "error"} <= columns
        tables = set(w.query("select table_name from duckdb_tables()")["table_name"])
        assert {"run_validations", "purges", "purge_counts"} <= tables
    rows = artifact_rows({"files_ingested": 3, "rows_quarantined": 2, "pairs_matched": 7, "incidents_published": 9})
    assert {r["measure"] for r in rows} >= {"files ingested (new)", "rows quarantined", "pairs matched (held)",
                                            "incidents published"}
    assert all(isinstance(r["count"], int | None) for r in rows)
    settings = load_settings()
    assert config_hash(settings) == config_hash(load_settings())
    assert len(config_hash(settings)) == 64
