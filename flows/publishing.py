"""Marts, the published database, open data and the S3 release (issue 7).

Inside the nightly transaction (`build_marts`):
    write `participating_forces` from the configuration, build every model in
    `warehouse/marts/` (`Warehouse.build_models`), then give each incident its
    neutral, stable number (`warehouse/publish/_assign_incident_ids.sql`).
    The marts read the linkage outputs `link_pairs` and
    `police_incident_groups`; while the linkage step has not created them
    (an older warehouse, or a deployment without linkage) the marts are not
    built and nothing is published: counting every record as unmatched would
    double-count every incident known to both sides.

After the commit (`publish_incidents`):
    1. run the data tests declared next to the marts (`warehouse/marts/*.yml`);
    2. build the published database in a staging folder beside the target
       (`warehouse/publish/<table>.sql`, one table per file, read from the
       warehouse), comment every table and column from
       `warehouse/publish/comments.yml`, refuse if any lacks one;
    3. export the open-data files (CSV + Parquet) from that database with
       primary and secondary suppression (`transforms.disclosure`);
    4. fsync, then `os.replace` the database into
       `$INCIDENTS_HOME/published/incidents.duckdb` (atomic: an analyst with
       the old file open keeps reading the old one; a crash before this line
       leaves yesterday's), then swap the open-data folder and the manifest;
    5. record the database's sha256 on the run (`runs.published_checksum`);
    6. when `[publish] s3_prefix` is set, upload the release under
       `<prefix>/runs/<run_id>/`, its `manifest.json` (sizes and sha256) after
       the files, and `<prefix>/latest.json` last: a reader that follows
       `latest.json` never sees a partial upload.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import yaml
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.config import Settings
from flows.landing import s3_client
from transforms.disclosure import (
    SUPPRESSED,
    TOTAL,
    complete_grid,
    primary_suppressed,
    secondary_suppressed,
    with_totals,
)
from transforms.spreadsheet_safety import spreadsheet_safe
from warehouse.run import MARTS_DIR, SQL_DIR, Warehouse, declared_models, rendered, sql_file

PUBLISH_DIR = SQL_DIR / "publish"
COMMENTS_FILE = PUBLISH_DIR / "comments.yml"
ASSIGN_IDS_FILE = PUBLISH_DIR / "_assign_incident_ids.sql"
LINKAGE_TABLES = ("link_pairs", "police_incident_groups")
DATABASE_NAME = "incidents.duckdb"
OPEN_DATA_DIR = "open-data"
MANIFEST_NAME = "manifest.json"
PUBLISHED_ALIAS = "published_release"
CATEGORIES = ["Extreme Violence", "Assault", "Damage & Desecration", "Threats", "Abusive Behaviour", "Literature"]
ROUTES = ["cst_only", "police_only", "both"]
SUPPRESSION_MARKER = "[c]"


class PublishError(RuntimeError):
    """The release was not published; the previous one is still in place."""


@dataclass
class PublishResult:
    run_id: str
    path: Path
    sha256: str
    size_bytes: int
    seconds: float
    tables: dict[str, int]
    open_data: list[Path] = field(default_factory=list)
    s3_latest: str | None = None


def _logger():  # noqa: ANN202
    try:
        return get_run_logger()
    except Exception:  # outside a flow or task run
        import logging

        return logging.getLogger("incidents.publishing")


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pl.DataFrame:
    """A query's result as a Polars frame (also after an unfinished `execute` on `con`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
        return pl.from_arrow(con.execute(sql, params or []).to_arrow_table())


def table_exists(con: duckdb.DuckDBPyConnection, name: str, database: str | None = None) -> bool:
    row = con.execute(
        "select count(*) from duckdb_tables() where table_name = ? "
        "and database_name = coalesce(?, current_database()) and schema_name = 'main'",
        [name, database],
    ).fetchone()
    return bool(row and row[0])


def linkage_ready(warehouse: Warehouse) -> bool:
    """True once the linkage step has created its output tables."""
    return all(table_exists(warehouse.con, name) for name in LINKAGE_TABLES)


# --------------------------------------------------------------------------- marts


def write_participating_forces(warehouse: Warehouse, settings: Settings) -> None:
    """The configuration's forces and start dates, as a table the marts can join."""
    warehouse.execute(
        "create or replace table participating_forces (force_id varchar primary key, participating_from date)"
    )
    for force in settings.forces:
        warehouse.execute(
            "insert into participating_forces values (?, ?)", [force.id, force.participating_from]
        )


def assign_incident_ids(warehouse: Warehouse, incremental: bool = False) -> None:
    """Neutral, stable incident numbers (see the SQL file's header)."""
    warehouse.execute(rendered(ASSIGN_IDS_FILE.read_text(encoding="utf-8"), incremental))


def marts_digest(settings: Settings) -> str:
    """What the marts are built from besides the data: the model files (with their incremental
    scope) and the participating forces."""
    digest = hashlib.sha256()
    models = [*sorted(MARTS_DIR.glob("*.sql")), *sorted(MARTS_DIR.glob("*.yml"))]
    for path in [*models, ASSIGN_IDS_FILE, *sorted((SQL_DIR / "incremental").glob("*.sql"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for force in settings.forces:
        digest.update(f"{force.id}:{force.participating_from}\n".encode())
    return digest.hexdigest()[:32]


def _built_digest(warehouse: Warehouse) -> str | None:
    row = warehouse.con.execute(
        "select comment from duckdb_tables() where table_name = 'incident_members' and schema_name = 'main' "
        "and database_name = current_database()"
    ).fetchone()
    return row[0] if row else None


def build_marts_now(
    warehouse: Warehouse, settings: Settings, data_unchanged: bool = False, incremental: bool = False
) -> list[str]:
    """Build the marts and number the incidents; [] when the linkage outputs are absent.

    With `data_unchanged` (a night that loaded nothing and changed no link) the
    marts built last time stand when they were built by the same model files and
    forces: rebuilding them would cost time in proportion to the warehouse for
    the same rows. With `incremental` (a night that added or changed records and
    links, and deleted none) only the incidents its changes touch are rebuilt
    and renumbered (`warehouse/incremental/night_scope.sql`), when the last
    build was made by the same model files and forces; the small marts counted
    from them are rebuilt whole.
    """
    digest = marts_digest(settings)
    same_models = _built_digest(warehouse) == digest
    if data_unchanged and same_models:
        return []
    write_participating_forces(warehouse, settings)
    if not linkage_ready(warehouse):
        _logger().warning(
            "marts not built: the linkage tables (%s) do not exist yet; nothing will be published",
            ", ".join(LINKAGE_TABLES),
        )
        return []
    scoped = incremental and same_models and bool(warehouse.scalar("select count(*) from incident_graph_builds"))
    if scoped:
        warehouse.execute(sql_file("incremental/night_scope.sql"))
    built = warehouse.build_models(MARTS_DIR, incremental=scoped)
    assign_incident_ids(warehouse, incremental=scoped)
    warehouse.execute(sql_file("incremental/remember_build.sql"))
    warehouse.execute(f"comment on table incident_members is '{digest}'")
    return built


@task(cache_policy=NO_CACHE)
def build_marts(
    warehouse: Warehouse, settings: Settings, data_unchanged: bool = False, incremental: bool = False
) -> list[str]:
    """Prefect task (inside the run's transaction): participating forces, marts, incident numbers."""
    return build_marts_now(warehouse, settings, data_unchanged, incremental)


# ------------------------------------------------------------- declared data tests


def _data_test_sql(model: str, column: str | None, name: str, args: Any) -> str:
    """SQL counting the rows that fail one declared test (identifiers come from the repo's yml)."""
    col = f'"{column}"' if column else None
    if name == "not_null":
        return f"select count(*) from {model} where {col} is null"
    if name == "unique":
        return f"select count(*) from (select {col} from {model} where {col} is not null group by 1 having count(*) > 1)"
    if name == "accepted_values":
        values = ", ".join("'" + str(v).replace("'", "''") + "'" for v in args["values"])
        return f"select count(*) from {model} where {col} is not null and {col} not in ({values})"
    if name == "unique_combination_of_columns":
        cols = ", ".join(f'"{c}"' for c in args["combination_of_columns"])
        return f"select count(*) from (select {cols} from {model} group by all having count(*) > 1)"
    if name == "expression_is_true":
        return f"select count(*) from {model} where not coalesce(({args['expression']}), false)"
    raise ValueError(f"unknown data test {name!r} on {model}")


def _declared_tests(folder: Path) -> list[tuple[str, str | None, str, Any]]:
    tests = []
    for model in declared_models(folder):
        entries = [(None, t) for t in model.get("data_tests", [])]
        entries += [(c["name"], t) for c in model.get("columns", []) for t in c.get("data_tests", [])]
        for column, test in entries:
            name, args = (test, None) if isinstance(test, str) else next(iter(test.items()))
            tests.append((model["name"], column, name, args))
    return tests


def data_test_failures(con: duckdb.DuckDBPyConnection, folder: Path = MARTS_DIR) -> list[str]:
    """Every declared test (in `<model>.yml` beside the models) that has failing rows."""
    failures = []
    for model, column, name, args in _declared_tests(folder):
        bad = con.execute(_data_test_sql(model, column, name, args)).fetchone()[0]
        if bad:
            where = f"{model}.{column}" if column else model
            failures.append(f"{where}: {name} {args or ''} failed for {bad} rows".strip())
    return failures


# --------------------------------------------------------------- published database


def published_models() -> dict[str, str]:
    """`warehouse/publish/<table>.sql` (files starting with `_` are not tables)."""
    return {
        p.stem: p.read_text(encoding="utf-8")
        for p in sorted(PUBLISH_DIR.glob("*.sql"))
        if not p.name.startswith("_")
    }


def load_comments() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(COMMENTS_FILE.read_text(encoding="utf-8"))["tables"]


def _quoted(text: str) -> str:
    return "'" + " ".join(text.split()).replace("'", "''") + "'"


def write_published_database(
    con: duckdb.DuckDBPyConnection, target: Path, params: dict[str, Any]
) -> dict[str, int]:
    """Create `target` (a new file) from the warehouse open on `con`; returns rows per table."""
    models = published_models()
    comments = load_comments()
    if set(models) != set(comments):
        raise PublishError(
            f"published tables and comments.yml disagree: {sorted(set(models) ^ set(comments))}"
        )
    con.execute(f"attach {_quoted(str(target))} as {PUBLISHED_ALIAS}")
    try:
        rows = {}
        for name in comments:  # the order of comments.yml
            sql = models[name]
            used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
            con.execute(f"create table {PUBLISHED_ALIAS}.main.{name} as\n{sql}", used)
            con.execute(f"comment on table {PUBLISHED_ALIAS}.main.{name} is {_quoted(comments[name]['comment'])}")
            columns = [r[0] for r in con.execute(
                "select column_name from duckdb_columns() where database_name = ? and table_name = ? order by column_index",
                [PUBLISHED_ALIAS, name],
            ).fetchall()]
            described = comments[name].get("columns", {})
            missing = [c for c in columns if not described.get(c)]
            extra = sorted(set(described) - set(columns))
            if missing or extra:
                raise PublishError(f"comments.yml for {name}: uncommented {missing}, unknown {extra}")
            for column in columns:
                con.execute(
                    f'comment on column {PUBLISHED_ALIAS}.main.{name}."{column}" is {_quoted(described[column])}'
                )
            rows[name] = con.execute(f"select count(*) from {PUBLISHED_ALIAS}.main.{name}").fetchone()[0]
        con.execute(f"checkpoint {PUBLISHED_ALIAS}")
    finally:
        con.execute(f"detach {PUBLISHED_ALIAS}")
    return rows


# ---------------------------------------------------------------------- open data


def open_data_tables(
    by_category: pl.DataFrame, by_location: pl.DataFrame, threshold: int
) -> dict[str, pl.DataFrame]:
    """The half-yearly open-data tables with totals, primary and secondary suppression.

    Both tables share their force x route margins, so they are protected
    together as one union of cubes (see transforms.disclosure).
    """
    by = ["half_year"]
    dims = ["police_force", "category", "location_type", "reporting_route"]
    category_cube = with_totals(
        complete_grid(by_category, ["police_force", "category", "reporting_route"], "incidents", by,
                      {"category": CATEGORIES, "reporting_route": ROUTES}),
        ["police_force", "category", "reporting_route"], "incidents", by,
    ).with_columns(pl.lit(TOTAL).alias("location_type"))
    location_cube = with_totals(
        complete_grid(by_location, ["police_force", "location_type", "reporting_route"], "incidents", by,
                      {"reporting_route": ROUTES}),
        ["police_force", "location_type", "reporting_route"], "incidents", by,
    ).with_columns(pl.lit(TOTAL).alias("category"))
    union = (
        pl.concat([category_cube.select(*by, *dims, "incidents"), location_cube.select(*by, *dims, "incidents")])
        .unique([*by, *dims], keep="first")
        .sort([*by, *dims])
    )
    protected = secondary_suppressed(primary_suppressed(union, "incidents", threshold), dims, "incidents", by)
    released = protected.with_columns(
        pl.when(pl.col(SUPPRESSED)).then(None).otherwise(pl.col("incidents")).alias("incidents")
    )
    return {
        "incidents_by_category": released.filter(pl.col("location_type") == TOTAL)
        .select("half_year", "police_force", "category", "reporting_route", "incidents", SUPPRESSED),
        "incidents_by_location_type": released.filter(pl.col("category") == TOTAL)
        .select("half_year", "police_force", "location_type", "reporting_route", "incidents", SUPPRESSED),
    }


def write_open_data(tables: dict[str, pl.DataFrame], folder: Path) -> list[Path]:
    """CSV (suppressed cells shown as `[c]`) and Parquet (null + `suppressed`) per table."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        parquet = folder / f"{name}.parquet"
        table.write_parquet(parquet)
        csv = folder / f"{name}.csv"
        spreadsheet_safe(
            table.with_columns(pl.col("incidents").cast(pl.String).fill_null(SUPPRESSION_MARKER))
        ).write_csv(csv)
        written += [csv, parquet]
    readme = folder / "README.txt"
    readme.write_text(
        "Antisemitic incidents by half-year, force area, CST category or location type, and\n"
        "reporting route (cst_only, police_only, both), deduplicated across CST and the police.\n"
        "Rows with 'all' are totals. Counts from 1 to the suppression threshold, and further\n"
        f"cells needed to stop them being worked out from totals, are suppressed: shown as\n"
        f"'{SUPPRESSION_MARKER}' in the CSV files and as null in the Parquet files (column 'suppressed').\n"
        "The latest half-year may be incomplete.\n",
        encoding="utf-8",
    )
    return [*written, readme]


# ---------------------------------------------------------------------- files


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_into_place(staged: Path, target: Path) -> None:
    """The atomic step: the new database replaces the old under its name."""
    os.replace(staged, target)
    _fsync(target.parent)


def _swap_folder(staged: Path, target: Path, run_id: str) -> None:
    old = target.parent / f".{target.name}-old-{run_id}"
    if target.exists():
        os.rename(target, old)
    os.rename(staged, target)
    shutil.rmtree(old, ignore_errors=True)


def manifest_for(run_id: str, root: Path, files: list[Path], threshold: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "created_at": datetime.now().isoformat(timespec="seconds"),
        "open_data_suppression_threshold": threshold,
        "files": [
            {"name": p.relative_to(root).as_posix(), "size": p.stat().st_size, "sha256": sha256_file(p)}
            for p in files
        ],
    }


def clean_leftovers(published_dir: Path) -> None:
    """Staging folders a crashed run left behind."""
    if published_dir.exists():
        for leftover in published_dir.glob(".staging-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in published_dir.glob(f".{OPEN_DATA_DIR}-old-*"):
            shutil.rmtree(leftover, ignore_errors=True)


def publish_locally(
    warehouse: Warehouse,
    settings: Settings,
    run_id: str,
    before_swap: Callable[[Path], None] | None = None,
) -> PublishResult:
    """Build and swap in the published database, open data and manifest (steps 1-5 above)."""
    started = time.perf_counter()
    failures = data_test_failures(warehouse.con)
    if failures:
        raise PublishError("data tests failed, not publishing:\n  " + "\n  ".join(failures))
    target = settings.published_path
    published_dir = target.parent
    published_dir.mkdir(parents=True, exist_ok=True)
    clean_leftovers(published_dir)
    staging = published_dir / f".staging-{run_id}"
    staging.mkdir()
    try:
        staged_db = staging / DATABASE_NAME
        threshold = settings.publish.suppression_threshold
        tables = write_published_database(
            warehouse.con, staged_db,
            {"run_id": run_id, "published_at": datetime.now(), "suppression_threshold": threshold},
        )
        with duckdb.connect(str(staged_db), read_only=True) as release:
            open_data = open_data_tables(
                frame(release, "select * from incident_counts_half_year"),
                frame(release, "select * from incident_counts_location"),
                threshold,
            )
        files = write_open_data(open_data, staging / OPEN_DATA_DIR)
        manifest = manifest_for(run_id, staging, [staged_db, *files], threshold)
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        for path in [staged_db, *files, staging / MANIFEST_NAME]:
            _fsync(path)
        if before_swap is not None:
            before_swap(staged_db)
        _swap_into_place(staged_db, target)
        _swap_folder(staging / OPEN_DATA_DIR, published_dir / OPEN_DATA_DIR, run_id)
        os.replace(staging / MANIFEST_NAME, published_dir / MANIFEST_NAME)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    digest = manifest["files"][0]["sha256"]
    warehouse.execute("update runs set published_checksum = ? where run_id = ?", [digest, run_id])
    return PublishResult(
        run_id=run_id,
        path=target,
        sha256=digest,
        size_bytes=target.stat().st_size,
        seconds=time.perf_counter() - started,
        tables=tables,
        open_data=[published_dir / OPEN_DATA_DIR / p.name for p in files],
    )


# --------------------------------------------------------------------------- S3


def split_s3_prefix(prefix: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` (or `bucket/some/prefix`) -> (bucket, `some/prefix`)."""
    rest = prefix.removeprefix("s3://").strip("/")
    bucket, _, key_prefix = rest.partition("/")
    if not bucket:
        raise ValueError(f"not an S3 prefix: {prefix!r}")
    return bucket, key_prefix


def _key(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p)


def upload_release_now(published_dir: Path, prefix: str, client: Any, keep: int | None = None) -> str:
    """Upload the local release under `<prefix>/runs/<run_id>/`, then point `latest.json` at it.

    Every file is uploaded and checked (size and sha256 metadata) before the
    run's manifest; `latest.json` is written last, so a failure at any point
    leaves `latest.json` naming the previous complete release. With `keep`,
    older releases beyond the newest `keep` (this one included) are deleted
    afterwards (`prune_releases`).
    """
    manifest_path = published_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    bucket, key_prefix = split_s3_prefix(prefix)
    run_prefix = _key(key_prefix, "runs", manifest["run_id"])
    for entry in manifest["files"]:
        local = published_dir / entry["name"]
        if sha256_file(local) != entry["sha256"]:
            raise PublishError(f"{local} changed since the manifest was written")
        key = _key(run_prefix, entry["name"])
        client.upload_file(str(local), bucket, key, ExtraArgs={"Metadata": {"sha256": entry["sha256"]}})
        head = client.head_object(Bucket=bucket, Key=key)
        if head["ContentLength"] != entry["size"] or head.get("Metadata", {}).get("sha256") != entry["sha256"]:
            raise PublishError(f"s3://{bucket}/{key} does not match what was uploaded")
    manifest_bytes = manifest_path.read_bytes()
    manifest_key = _key(run_prefix, MANIFEST_NAME)
    client.put_object(Bucket=bucket, Key=manifest_key, Body=manifest_bytes, ContentType="application/json")
    latest = {
        "run_id": manifest["run_id"],
        "manifest": manifest_key,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "files": {e["name"]: _key(run_prefix, e["name"]) for e in manifest["files"]},
    }
    latest_key = _key(key_prefix, "latest.json")
    client.put_object(
        Bucket=bucket, Key=latest_key, Body=json.dumps(latest, indent=2).encode(), ContentType="application/json"
    )
    if keep is not None:
        prune_releases(client, bucket, key_prefix, manifest["run_id"], keep)
    return f"s3://{bucket}/{latest_key}"


def prune_releases(client: Any, bucket: str, key_prefix: str, current_run_id: str, keep: int) -> list[str]:
    """Delete the release folders older than the newest `keep` complete ones (`current_run_id` counts as one).

    Run ids start with their timestamp, so they sort in time. A folder without a
    manifest (an upload cut short) never counts as kept. Folders that sort after
    the current release are left alone. Returns the run ids deleted.
    """
    runs_prefix = _key(key_prefix, "runs") + "/"
    keys_by_run: dict[str, list[str]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=runs_prefix):
        for item in page.get("Contents", []):
            run_id = item["Key"][len(runs_prefix):].split("/", 1)[0]
            keys_by_run.setdefault(run_id, []).append(item["Key"])
    older = sorted((r for r in keys_by_run if r < current_run_id), reverse=True)
    complete = [r for r in older if _key(runs_prefix, r, MANIFEST_NAME) in keys_by_run[r]]
    kept = set(complete[: max(keep - 1, 0)])
    doomed = [r for r in older if r not in kept]
    keys = [k for r in doomed for k in keys_by_run[r]]
    for start in range(0, len(keys), 1000):  # the S3 limit per request
        client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True}
        )
    return doomed


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[10, 60])
def upload_release(
    published_dir: Path, prefix: str, endpoint_url: str | None, region: str | None, keep: int | None = None
) -> str:
    """Prefect task: the S3 upload (retried; re-uploading a run's files is harmless)."""
    return upload_release_now(published_dir, prefix, s3_client(endpoint_url, region), keep)


# ------------------------------------------------------------------------ the step


@task(cache_policy=NO_CACHE)
def publish_incidents(warehouse: Warehouse, settings: Settings, run_id: str) -> PublishResult | None:
    """Prefect task (after the warehouse commit): publish locally, then to S3 when configured."""
    logger = _logger()
    if not table_exists(warehouse.con, "incidents"):
        logger.warning("nothing published: the marts have not been built (no linkage tables yet)")
        return None
    result = publish_locally(warehouse, settings, run_id)
    logger.info(
        "published %s (%.1f MB, %.1f s, sha256 %s)",
        result.path, result.size_bytes / 1e6, result.seconds, result.sha256[:12],
    )
    if settings.publish.s3_prefix:
        result.s3_latest = upload_release(
            result.path.parent, settings.publish.s3_prefix, settings.s3.endpoint_url, settings.s3.region,
            settings.publish.s3_keep_releases,
        )
    return result


# ------------------------------------------------------------------ data dictionary


def data_dictionary_markdown(con: duckdb.DuckDBPyConnection, database: str | None = None) -> str:
    """docs/data-dictionary.md from the comments of a published database open on `con`."""
    database = database or con.execute("select current_database()").fetchone()[0]
    order = list(load_comments())
    tables = {
        name: comment
        for name, comment in con.execute(
            "select table_name, comment from duckdb_tables() where database_name = ? and schema_name = 'main'",
            [database],
        ).fetchall()
    }
    lines = [
        "# Data dictionary: the published database",
        "",
        "`$INCIDENTS_HOME/published/incidents.duckdb`, replaced atomically after each",
        "successful nightly run. No personal data, no reference numbers, no pseudonyms.",
        "Generated from the database's own table and column comments",
        "(`warehouse/publish/comments.yml`) by `incidents data-dictionary`; do not edit by hand.",
        "",
    ]
    for name in sorted(tables, key=lambda t: (order.index(t) if t in order else len(order), t)):
        lines += [f"## `{name}`", "", " ".join((tables[name] or "").split()), "", "| column | type | meaning |", "|---|---|---|"]
        for column, data_type, comment in con.execute(
            "select column_name, data_type, comment from duckdb_columns() "
            "where database_name = ? and table_name = ? order by column_index",
            [database, name],
        ).fetchall():
            lines.append(f"| `{column}` | {data_type} | {' '.join((comment or '').split()).replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)
