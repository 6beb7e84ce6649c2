"""Helpers for the end-to-end tests of issue 9: a real Prefect server, `incidents` processes, snapshots."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from demo.generator import generate_landing
from flows.scheduling import prefect_server

INCIDENTS = str(Path(sys.executable).parent / "incidents")
# A fixed pseudonymisation key: separate state folders then hold comparable keys.
TEST_KEY = "11" * 32
# Columns that differ between two runs doing the same work (times, run ids).
VOLATILE = {
    "run_id", "updated_at", "model_run_id", "first_seen", "last_seen", "resolved_by_run", "resolved_at",
    "created_at", "seen_at", "linked_run_id", "finished_at", "started_at", "seconds", "applied_at",
    "published_at", "data_as_of", "code_version",
}
# Tables that record each run (they grow with every run, by design).
LEDGER = {"runs", "manifest_sightings", "schema_migrations", "link_model_runs", "link_runs", "run_validations",
          "purges", "purge_counts"}


@contextmanager
def running_prefect_server(root: Path) -> Iterator[str]:
    """A `prefect server start` for a test module; yields PREFECT_API_URL."""
    with prefect_server(root / "prefect-server", log=root / "prefect-server.log") as url:
        yield url


def small_landing(root: Path, incidents: int = 240, seed: int = 5) -> tuple[Path, Path]:
    """A demo landing area split in two nights: (all files, the files of the first night only).

    The second night adds each source's newest file (as a new delivery would).
    """
    full = root / "landing-full"
    generate_landing(full, root / "truth", incidents=incidents, seed=seed)
    first = root / "landing-first"
    shutil.copytree(full, first)
    for folder in sorted({p.parent for p in first.rglob("*") if p.is_file()}):
        files = sorted(p for p in folder.iterdir() if p.is_file())
        if len(files) > 1:
            files[-1].unlink()
    return full, first


def env_for(landing: Path, home: Path, api_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "INCIDENTS_LANDING": str(landing),
        "INCIDENTS_HOME": str(home),
        "INCIDENTS_PSEUDONYM_KEY": TEST_KEY,
        "PREFECT_HOME": str(home.parent / f"prefect-client-{home.name}"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        **extra,
    }
    env.pop("INCIDENTS_CONFIG", None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    for name in ("INCIDENTS_TEST_KILL_AT", "INCIDENTS_TEST_PAUSE_AT"):
        if name not in extra:
            env.pop(name, None)
    return env


def run_incidents(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([INCIDENTS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _frames(database: Path, skip: set[str], drop: set[str], digits: int | None = None) -> dict[str, pl.DataFrame]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = [
            r[0] for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'main' and not temporary"
            ).fetchall()
            if r[0] not in skip
        ]
        out = {}
        for table in sorted(tables):
            frame = pl.from_arrow(con.sql(f'select * from "{table}"').to_arrow_table())
            frame = frame.drop([c for c in frame.columns if c in drop])
            if digits is not None:  # floating-point sums differ in the last bits between runs
                frame = frame.with_columns(pl.col(pl.Float64, pl.Float32).round(digits))
            sortable = [c for c, t in frame.schema.items() if not isinstance(t, (pl.List, pl.Array, pl.Struct))]
            out[table] = frame.sort(sortable, nulls_last=True) if sortable else frame
        return out
    finally:
        con.close()


def warehouse_state(home: Path) -> dict[str, pl.DataFrame]:
    """Every table, every column: for 'left exactly as it was'."""
    return _frames(home / "warehouse.duckdb", set(), set())


def warehouse_result(home: Path) -> dict[str, pl.DataFrame]:
    """The data a run produces, without the per-run ledger and times: for 'same result'."""
    return _frames(home / "warehouse.duckdb", LEDGER, VOLATILE, digits=9)


def published_result(home: Path) -> dict[str, pl.DataFrame]:
    path = home / "published" / "incidents.duckdb"
    return _frames(path, set(), VOLATILE, digits=9) if path.exists() else {}


def assert_same(left: dict[str, pl.DataFrame], right: dict[str, pl.DataFrame], what: str) -> None:
    assert sorted(left) == sorted(right), f"{what}: tables differ {sorted(set(left) ^ set(right))}"
    for table in left:
        a, b = left[table], right[table]
        assert a.columns == b.columns, f"{what}: {table} columns differ"
        assert a.height == b.height, f"{what}: {table} has {a.height} rows, expected {b.height}"
        assert a.equals(b), f"{what}: {table} content differs"
