"""The run ledger (warehouse/schema/006_ledger.sql), the run's Prefect artifacts and test kill points.

Everything written here is counts, hashes, rule names and versions: never a
value from an extract. The nightly flow calls these helpers; they keep its
body short.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from flows.config import Settings
from warehouse.run import Warehouse

KILL_ENV = "INCIDENTS_TEST_KILL_AT"
PAUSE_ENV = "INCIDENTS_TEST_PAUSE_AT"
PAUSE_SECONDS_ENV = "INCIDENTS_TEST_PAUSE_SECONDS"
PAUSE_UNTIL_ENV = "INCIDENTS_TEST_PAUSE_UNTIL_FILE"
# The named points of a nightly run where the crash-safety tests kill the process.
KILL_POINTS = ("after-lock", "after-prepare", "mid-load", "before-commit", "after-commit", "after-publish")


def maybe_die(step: str) -> None:
    """Tests only: SIGKILL this process at `step` when `$INCIDENTS_TEST_KILL_AT` names it
    (or sleep there when `$INCIDENTS_TEST_PAUSE_AT` does). A no-op in production."""
    if os.environ.get(PAUSE_ENV) == step:
        # hold for the given seconds, or until the file named by PAUSE_UNTIL_ENV appears
        deadline = time.monotonic() + float(os.environ.get(PAUSE_SECONDS_ENV, "30"))
        release = os.environ.get(PAUSE_UNTIL_ENV)
        while time.monotonic() < deadline and not (release and os.path.exists(release)):
            time.sleep(0.2)
    if os.environ.get(KILL_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def config_hash(settings: Settings) -> str:
    """sha256 of the effective configuration (file + environment), paths included."""
    data = settings.model_dump(mode="json", exclude={"base_dir"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@contextmanager
def failure_recorded(warehouse: Warehouse, run_id: str, stage: str, code_version: str = "unknown",
                     settings_hash: str | None = None) -> Iterator[None]:
    """Record a failed run in the ledger (after the transaction rolled back), then re-raise.

    `stage="load"`: nothing of the run was committed; a `failed` row is written.
    `stage="publish"`: the warehouse committed; the row is marked `publish_failed`.
    Only the exception's class is stored (its message may quote data).
    """
    try:
        yield
    except Exception as error:
        try:
            if stage == "publish":
                warehouse.execute(
                    "update runs set status = 'publish_failed', error = ? where run_id = ?",
                    [f"publish: {type(error).__name__}", run_id],
                )
            else:
                warehouse.execute(
                    "insert or replace into runs (run_id, started_at, finished_at, status, code_version, "
                    "config_hash, error) values (?, ?, ?, 'failed', ?, ?, ?)",
                    [run_id, datetime.now(), datetime.now(), code_version, settings_hash,
                     f"{stage}: {type(error).__name__}"],
                )
        except Exception:  # the ledger must never hide the original error
            pass
        raise


def _table_exists(warehouse: Warehouse, name: str) -> bool:
    return bool(warehouse.scalar(
        "select count(*) from duckdb_tables() where table_name = ? and schema_name = 'main' "
        "and database_name = current_database()", [name],
    ))


def close_run(warehouse: Warehouse, run_id: str, summary: Any) -> None:
    """Inside the run's transaction: validations failed, link counts, file counts."""
    warehouse.execute(
        "insert or replace into run_validations "
        "select run_id, source_id, file_hash, rule, "
        "case when source_row is null then 'file' else 'row' end as scope, count(*) as failures "
        "from quarantine where run_id = ? group by all",
        [run_id],
    )
    matched = review = None
    mode = None
    if _table_exists(warehouse, "link_pairs"):
        matched = warehouse.scalar("select count(*) from link_pairs where status = 'matched'")
        review = warehouse.scalar("select count(*) from link_pairs where status = 'review'")
    if _table_exists(warehouse, "link_runs"):
        mode = warehouse.scalar("select mode from link_runs where run_id = ?", [run_id])
    warehouse.execute(
        "update runs set files_seen = ?, files_resent = ?, files_quarantined = ?, "
        "validations_failed = (select count(*) from run_validations where run_id = ?), "
        "pairs_matched = ?, pairs_review = ?, link_mode = ? where run_id = ?",
        [summary.files_seen, summary.files_resent, summary.files_quarantined, run_id,
         matched, review, mode, run_id],
    )


def record_publication(warehouse: Warehouse, run_id: str, result: Any) -> None:
    """After publishing: when, and how many incidents (the checksum is set by publishing)."""
    if result is None:
        return
    incidents = (getattr(result, "tables", None) or {}).get("incidents")
    warehouse.execute(
        "update runs set published_at = ?, incidents_published = ?, "
        "published_checksum = coalesce(published_checksum, ?) where run_id = ?",
        [datetime.now(), incidents, getattr(result, "sha256", None), run_id],
    )


def run_row(warehouse: Warehouse, run_id: str) -> dict[str, Any]:
    rows = warehouse.query("select * from runs where run_id = ?", [run_id]).to_dicts()
    return rows[0] if rows else {}


ARTIFACT_FIELDS = [
    ("files_seen", "files seen"),
    ("files_ingested", "files ingested (new)"),
    ("files_resent", "files already held (resends)"),
    ("files_quarantined", "files quarantined whole"),
    ("rows_loaded", "rows loaded"),
    ("rows_quarantined", "rows quarantined"),
    ("validations_failed", "validations failed (file x rule)"),
    ("pairs_matched", "pairs matched (held)"),
    ("pairs_review", "pairs awaiting review"),
    ("records_purged", "records purged (retention)"),
    ("incidents_published", "incidents published"),
]


def artifact_rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Counts only: the table artifact of a run."""
    return [{"measure": label, "count": row.get(name)} for name, label in ARTIFACT_FIELDS]


def create_run_artifacts(row: dict[str, Any]) -> None:
    """A Prefect table artifact of the run's counts (key `nightly-counts`)."""
    from prefect.artifacts import create_table_artifact

    create_table_artifact(
        table=artifact_rows(row),
        key="nightly-counts",
        description=(
            f"Run {row.get('run_id')}: code {row.get('code_version')}, "
            f"config {str(row.get('config_hash') or '')[:12]}, "
            f"published sha256 {str(row.get('published_checksum') or '-')[:12]}"
        ),
    )
