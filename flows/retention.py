"""Retention: purge records past their retention period and everything derived from them.

A record is a CST report or a police crime (every version of it). Records go
a whole incident at a time: every member of an incident that happened before
the cutoff (`warehouse/retention/02_scope_by_incident.sql`; before the first
linkage, each record by its own date). With them go their link pairs, review
decisions, police incident groups, linkage state, incident numbers and
quarantine entries (`03_delete.sql`), any other warehouse table holding one of
their keys, and their pseudonyms in the re-identification store. The marts
are rebuilt and the published database is re-published without them. What was
removed is recorded as counts per table (`purges`, `purge_counts`), never as
content.

The file manifest is kept: it holds hashes, names and counts, and it is what
stops a purged record coming back from an old extract still in the landing
area (a file already held is not loaded again).

Two ways in:
- `incidents purge --before DATE` (`purge_now`): takes the run lock, one
  transaction, then re-publishes;
- `[retention] years/months` in incidents.toml: the nightly flow calls
  `apply_retention` inside its own transaction, after the marts are built,
  and publishes as usual after the commit.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from flows.config import Settings
from flows.secrets import STORE_FILE
from warehouse.run import MARTS_DIR, SQL_DIR, Warehouse

RETENTION_DIR = SQL_DIR / "retention"
# Columns that name a record: rows of any table holding a purged key in one of them go.
KEY_COLUMNS = ("report_key", "crime_key", "record_key")
# Tables never swept: the audit trail of purges and runs, and the file manifest (see above).
NOT_SWEPT = {"purges", "purge_counts", "runs", "manifest", "manifest_sightings", "run_validations",
             "landing_issues", "schema_migrations"}


@dataclass
class PurgeResult:
    purge_id: str
    cutoff: date
    records_purged: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    published_checksum: str | None = None
    dry_run: bool = False


def months_before(day: date, years: int = 0, months: int = 0) -> date:
    """`day` moved back by whole years and months (the day clamped to the month's length)."""
    total = day.year * 12 + (day.month - 1) - (years * 12 + months)
    year, month = divmod(total, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def retention_cutoff(settings: Settings, today: date | None = None) -> date | None:
    """The configured cutoff (records of incidents before it are purged), or None."""
    years, months = settings.retention.years, settings.retention.months
    if not years and not months:
        return None
    return months_before(today or date.today(), years or 0, months or 0)


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "select count(*) from duckdb_tables() where table_name = ? and schema_name = 'main' "
        "and database_name = current_database() and not temporary",
        [name],
    ).fetchone()
    return bool(row and row[0])


def _statements(path: Path) -> list[tuple[str, str]]:
    """(table, sql) for each `-- table: <name>` section of a retention SQL file."""
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"^-- table: (\w+)\s*$", text, flags=re.MULTILINE)
    return [(parts[i], parts[i + 1].strip()) for i in range(1, len(parts), 2)]


def _affected(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> int:
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    row = con.execute(sql, used).fetchone()
    return int(row[0]) if row else 0


def _swept_tables(con: duckdb.DuckDBPyConnection, explicit: set[str]) -> dict[str, list[str]]:
    """Other base tables with a key column (not the marts, which are rebuilt)."""
    models = {p.stem for p in MARTS_DIR.glob("*.sql")}
    rows = con.execute(
        "select table_name, column_name from duckdb_columns() where schema_name = 'main' "
        "and database_name = current_database() and not internal "
        "and table_name in (select table_name from duckdb_tables() where schema_name = 'main' "
        "and database_name = current_database() and not temporary)"
    ).fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        if column in KEY_COLUMNS and table not in explicit | models | NOT_SWEPT:
            found.setdefault(table, []).append(column)
    return found


def scope(warehouse: Warehouse, cutoff: date) -> int:
    """Fill the temp table `purge_records` (source, record_key); returns how many."""
    con = warehouse.con
    params = {"cutoff": cutoff}
    con.execute((RETENTION_DIR / "01_record_dates.sql").read_text(encoding="utf-8"))
    by_incident = _table_exists(con, "incident_members") and _table_exists(con, "incidents")
    sql = (RETENTION_DIR / ("02_scope_by_incident.sql" if by_incident else "02_scope_by_record.sql")).read_text(
        encoding="utf-8"
    )
    con.execute(sql, params)
    return int(warehouse.scalar("select count(*) from purge_records"))


def purge_before(
    warehouse: Warehouse,
    settings: Settings,
    cutoff: date,
    requested_by: str,
    run_id: str | None = None,
    record_empty: bool = True,
    rebuild_first: bool = True,
    forget_pseudonyms: bool = True,
) -> PurgeResult:
    """Inside the caller's transaction: delete, count, rebuild the marts, record the purge."""
    from flows.publishing import build_marts_now, linkage_ready

    result = PurgeResult(purge_id=f"{datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}", cutoff=cutoff)
    started = datetime.now()
    con = warehouse.con
    if rebuild_first and linkage_ready(warehouse):
        build_marts_now(warehouse, settings)  # membership as of the data now held
    records = scope(warehouse, cutoff)
    result.counts["cst_reports"] = int(warehouse.scalar("select count(*) from purge_records where source = 'cst'"))
    result.counts["police_crimes"] = int(
        warehouse.scalar("select count(*) from purge_records where source = 'police'")
    )
    result.records_purged = records
    if records == 0 and not record_empty:
        return result
    params = {"cutoff": cutoff}
    explicit: set[str] = set()
    for table, sql in _statements(RETENTION_DIR / "03_delete.sql"):
        explicit.add(table)
        if _table_exists(con, table):
            result.counts[table] = _affected(con, sql, params)
    for table, columns in _swept_tables(con, explicit).items():
        where = " or ".join(f'"{c}" in (select record_key from purge_records)' for c in columns)
        result.counts[table] = _affected(con, f'delete from "{table}" where {where}', {})
    if records:
        build_marts_now(warehouse, settings)
    if forget_pseudonyms and records:
        result.counts["reidentification_store"] = _forget_pseudonyms(warehouse, settings)
    warehouse.execute(
        "insert into purges values (?, ?, ?, ?, ?, ?, ?, null)",
        [result.purge_id, requested_by, run_id, cutoff, started, datetime.now(), records],
    )
    for table, removed in sorted(result.counts.items()):
        warehouse.execute("insert into purge_counts values (?, ?, ?)", [result.purge_id, table, removed])
    if run_id is not None:
        warehouse.execute("update runs set records_purged = ? where run_id = ?", [records, run_id])
    return result


def _forget_pseudonyms(warehouse: Warehouse, settings: Settings) -> int:
    """Remove the purged records' pseudonym -> reference rows from the re-identification store.

    Done before the warehouse commits: should the commit then fail, those
    records are still past retention and go on the next purge; their
    references are simply no longer recoverable, which is what retention asks.
    """
    path = settings.secrets_dir / STORE_FILE
    if not path.exists():
        return 0
    keys = warehouse.con.execute("select record_key from purge_records").to_arrow_table()
    store = duckdb.connect(str(path))
    try:
        store.register("purged_keys", keys)
        row = store.execute(
            "delete from reference_pseudonyms where pseudonym in (select record_key from purged_keys)"
        ).fetchone()
        return int(row[0]) if row else 0
    finally:
        store.close()


def apply_retention(warehouse: Warehouse, settings: Settings, run_id: str) -> PurgeResult | None:
    """The nightly step (inside the run's transaction, after the marts are built)."""
    cutoff = retention_cutoff(settings)
    if cutoff is None:
        return None
    result = purge_before(
        warehouse, settings, cutoff, "nightly", run_id=run_id, record_empty=False, rebuild_first=False
    )
    if result.records_purged == 0:
        warehouse.execute("update runs set records_purged = 0 where run_id = ?", [run_id])
    return result


class _DryRun(Exception):
    pass


def purge_now(settings: Settings, cutoff: date, dry_run: bool = False, upload: bool = True) -> PurgeResult:
    """`incidents purge`: under the run lock, one transaction, then re-publish (and upload)."""
    from flows.locking import run_lock
    from flows.publishing import publish_locally, table_exists, upload_release_now

    with run_lock(settings.home), Warehouse(settings.warehouse_path) as warehouse:
        warehouse.migrate()
        result: PurgeResult | None = None
        try:
            with warehouse.transaction():
                result = purge_before(warehouse, settings, cutoff, "cli", forget_pseudonyms=not dry_run)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            assert result is not None
            result.dry_run = True
            return result
        assert result is not None
        run_id = warehouse.scalar(
            "select run_id from runs where status in ('succeeded', 'publish_failed') "
            "order by finished_at desc nulls last limit 1"
        )
        if result.records_purged and run_id and table_exists(warehouse.con, "incidents"):
            published = publish_locally(warehouse, settings, run_id)
            result.published_checksum = published.sha256
            warehouse.execute(
                "update purges set published_checksum = ? where purge_id = ?", [published.sha256, result.purge_id]
            )
            if settings.publish.s3_prefix and upload:
                from flows.landing import s3_client

                # keep=1: the older releases still hold the incidents just purged
                upload_release_now(
                    published.path.parent, settings.publish.s3_prefix,
                    s3_client(settings.s3.endpoint_url, settings.s3.region), keep=1,
                )
        return result
