"""The nightly Prefect flow: landing -> validate -> stage -> warehouse -> link -> publish.

Tasks here are adapters: they read or write, and call pure functions from
`transforms/` and `expectations/` for the work. Sources are prepared
concurrently (read, validate, standardise: CPU work on in-memory frames); the
warehouse is written by one task inside one transaction, so a run killed at
any point leaves the warehouse as it was.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import subprocess
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run as prefect_flow_run
from prefect.utilities.annotations import quote

from expectations import gx_process
from expectations.docs import write_data_docs
from expectations.gx_runner import warm_up
from expectations.suites import SuiteError
from expectations.validation import validate_extracts, validate_staged_frames
from flows.config import Settings, load_settings
from flows.keys import check_key, finish_interrupted_rotation
from flows.landing import LandedFile, Landing, landing_for
from flows.ledger import (
    close_run,
    config_hash,
    create_run_artifacts,
    failure_recorded,
    maybe_die,
    record_publication,
    run_row,
)
from flows.linking import link_records
from flows.locking import run_lock
from flows.publishing import build_marts, publish_incidents
from flows.readers import ExtractReadError, read_extract
from flows.retention import apply_retention
from flows.secrets import ReidentificationStore, load_or_create_key
from transforms.mapping import SourceMapping
from transforms.pseudonyms import keyed_hashes
from transforms.reference_data import ReferenceData
from transforms.staging import reference_pseudonyms, staged_cst_reports, staged_police_crimes
from warehouse.run import Warehouse


@dataclass
class PreparedFile:
    """One new file, read, validated and standardised in memory; nothing written yet."""

    source_id: str
    file: LandedFile
    file_hash: str
    rows_read: int = 0
    staged: pl.DataFrame | None = None
    pseudonyms: pl.DataFrame | None = None
    # quarantine rows: source_row (null = whole file), record_key, rule, reason
    quarantined: list[dict] = field(default_factory=list)
    # value-free GX validation results of this file (for the run's Data Docs)
    validation_results: list[dict] = field(default_factory=list)

    @property
    def file_quarantined(self) -> bool:
        return any(q["source_row"] is None for q in self.quarantined)


@dataclass
class RunSummary:
    run_id: str
    files_seen: int = 0
    files_ingested: int = 0
    files_resent: int = 0
    rows_loaded: dict[str, int] = field(default_factory=dict)
    rows_quarantined: int = 0
    files_quarantined: int = 0
    unconfigured_files: list[str] = field(default_factory=list)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def prepared_file(
    source_id: str,
    file: LandedFile,
    data: bytes,
    mapping: SourceMapping,
    reference: ReferenceData,
    key: bytes,
) -> PreparedFile:
    """Read, validate and standardise one file's bytes (pure apart from the bytes given).

    Nothing in a file makes this raise: a file that cannot be read or fails a
    file-level expectation is quarantined whole, a row failing a row-level
    expectation (raw or staged suite) alone. Quarantine reasons name the rule
    and the column, never a value. Only a configuration error (an invalid suite
    file, `SuiteError`) propagates. See `prepared_files` for several files.
    """
    return prepared_files(source_id, [(file, data)], mapping, reference, key)[0]


def staged_or_none(stage: Callable[..., pl.DataFrame], raw: pl.DataFrame, *args: Any) -> pl.DataFrame | None:
    """`stage(raw, *args)` ahead of validation; None if it fails (the rows validation keeps are
    staged again afterwards, where an error is contained and reported)."""
    try:
        return stage(raw, *args)
    except Exception:
        return None


def prepared_files(
    source_id: str,
    items: list[tuple[LandedFile, bytes]],
    mapping: SourceMapping,
    reference: ReferenceData,
    key: bytes,
) -> list[PreparedFile]:
    """`prepared_file` for the new files of one source at once, with one GX run per suite for all.

    Each file's outcome is the one it would have alone (see expectations/validation.py);
    a file no rule foresaw (an unexpected error) is quarantined alone.
    """
    if not items:  # nothing new: no validation (importing GX alone costs seconds)
        return []
    prepared = [PreparedFile(source_id, file, sha256(data)) for file, data in items]
    namespace = "cst:" if mapping.kind == "cst" else f"{mapping.id}:"
    key_column = "report_key" if mapping.kind == "cst" else "crime_key"
    stage = staged_cst_reports if mapping.kind == "cst" else staged_police_crimes
    raws: dict[int, pl.DataFrame] = {}
    staged: dict[int, pl.DataFrame] = {}
    goods: dict[int, pl.DataFrame] = {}

    def quarantine(i: int, row: int | None, record_key: str | None, rule: str, reason: str) -> None:
        prepared[i].quarantined.append({"source_row": row, "record_key": record_key, "rule": rule, "reason": reason})

    def contained(i: int, error: Exception) -> None:
        """An input no rule foresaw, or a bug: quarantine that file, keep the run going."""
        prepared[i].staged = prepared[i].pseudonyms = None
        prepared[i].quarantined = []
        for stage_of_file in (raws, staged, goods):
            stage_of_file.pop(i, None)
        quarantine(i, None, None, "processing_error",
                   f"the file could not be processed ({type(error).__name__}); it stays in the landing area")

    def validated(check, frames: dict[int, pl.DataFrame]) -> dict[int, object]:  # noqa: ANN001
        """`check` on all frames at once; file by file if that fails, containing the failing file."""
        order = list(frames)
        labels = [items[i][0].key for i in order]
        try:
            outcomes, entries = check([frames[i] for i in order], mapping, labels=labels)
        except SuiteError:
            raise
        except Exception:
            outcomes, entries = [], []
            for i, label in zip(order, labels, strict=True):
                try:
                    one, more = check([frames[i]], mapping, labels=[label])
                    outcomes.append(one[0])
                    entries += more
                except SuiteError:
                    raise
                except Exception as error:
                    contained(i, error)
                    outcomes.append(None)
        if order and entries:
            prepared[order[0]].validation_results += entries
        return {i: o for i, o in zip(order, outcomes, strict=True) if o is not None}

    for i, (_, data) in enumerate(items):
        try:
            raw = read_extract(data, mapping)
        except ExtractReadError as error:
            quarantine(i, None, None, error.rule, error.reason)
            continue
        except Exception as error:
            contained(i, error)
            continue
        prepared[i].rows_read = raw.frame.height + len(raw.bad_rows)
        for row, rule, reason in raw.bad_rows:
            quarantine(i, row, None, rule, reason)
        raws[i] = raw.frame

    def check_raw(frames, mapping, labels):  # noqa: ANN001, ANN202
        return validate_extracts(frames, mapping, reference, labels=labels)

    # Staging does not wait for the raw suites: every file is staged whole while they run (in
    # the GX helper, or a thread here), and that staging stands for a file whose rows all pass.
    # A file with failing rows has its good rows staged again: redaction learns names across a
    # file's rows, so the good rows alone may come out differently.
    with ThreadPoolExecutor(1) as pool:
        raw_checks = pool.submit(validated, check_raw, raws)
        # a snapshot: a file whose suites fail unexpectedly leaves `raws` (see `contained`)
        staged_whole = {i: staged_or_none(stage, raw, mapping, reference, key) for i, raw in list(raws.items())}
        outcomes = raw_checks.result()
    for i, outcome in outcomes.items():
        try:
            for rule, reason in outcome.file_failures:
                quarantine(i, None, None, rule, reason)
            if prepared[i].file_quarantined:
                continue
            raw = raws[i]
            if outcome.row_failures.is_empty():
                goods[i] = raw
                staged[i] = staged_whole[i] if staged_whole[i] is not None else stage(raw, mapping, reference, key)
                continue
            bad = outcome.row_failures.join(
                raw.select("_row", pl.col(mapping.columns["ref"]).alias("__ref")), on="_row", how="left"
            )
            bad = bad.with_columns(keyed_hashes(bad["__ref"], key, namespace).alias("record_key"))
            for row in bad.iter_rows(named=True):
                quarantine(i, row["_row"], row["record_key"], row["rule"], row["reason"])
            goods[i] = raw.join(outcome.row_failures.select("_row").unique(), on="_row", how="anti")
            staged[i] = stage(goods[i], mapping, reference, key)
        except Exception as error:
            contained(i, error)
    del staged_whole

    def check_staged(frames, mapping, labels):  # noqa: ANN001, ANN202
        return validate_staged_frames(frames, mapping, labels=labels)

    for i, checked in validated(check_staged, staged).items():
        try:
            for rule, reason in checked.file_failures:
                quarantine(i, None, None, rule, reason)
            if prepared[i].file_quarantined:
                continue
            failing = checked.row_failures.join(
                staged[i].select(pl.col("source_row").alias("_row"), pl.col(key_column).alias("record_key")),
                on="_row", how="left",
            )
            for row in failing.iter_rows(named=True):
                quarantine(i, row["_row"], row["record_key"], row["rule"], row["reason"])
            failed_rows = failing["_row"].unique().to_list()
            prepared[i].staged = staged[i].filter(~pl.col("source_row").is_in(failed_rows))
            prepared[i].pseudonyms = reference_pseudonyms(
                goods[i].filter(~pl.col("_row").is_in(failed_rows)), mapping, key
            )
        except Exception as error:
            contained(i, error)
    return prepared


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[2, 10, 30])
def list_landing(landing: Landing) -> list[LandedFile]:
    """Every file in the landing area (retried: S3 may be briefly unavailable)."""
    return landing.list_files()


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 20])
def prepare_source(
    source_id: str,
    files: list[LandedFile],
    landing: Landing,
    mapping: SourceMapping,
    reference: ReferenceData,
    key: bytes,
    known_hashes: frozenset[str],
) -> list[PreparedFile]:
    """Read, validate and standardise one source's new files, in landing order."""
    prepared: list[PreparedFile | None] = []
    new: list[tuple[int, LandedFile, bytes]] = []
    seen: set[str] = set()
    for file in files:
        data = landing.read(file.key)
        digest = sha256(data)
        if digest in known_hashes or digest in seen:
            prepared.append(PreparedFile(source_id, file, digest))  # a resend: sighting only
            continue
        seen.add(digest)
        new.append((len(prepared), file, data))
        prepared.append(None)
    # one GX run per suite for all of a source's new files (validation costs ~0.3 s per run)
    batch = prepared_files(source_id, [(f, d) for _, f, d in new], mapping, reference, key)
    for (position, _, _), item in zip(new, batch, strict=True):
        prepared[position] = item
    return prepared


@task(cache_policy=NO_CACHE)
def load_prepared(
    warehouse: Warehouse,
    run_id: str,
    prepared: list[PreparedFile],
    known_hashes: frozenset[str],
    retried: frozenset[str] = frozenset(),
) -> RunSummary:
    """Write every prepared file into the warehouse (inside the run's transaction).

    `retried`: files quarantined by a `processing_error` under other code or
    configuration (`_RETRYABLE`), processed again: their manifest row is
    replaced, and the old entry resolved unless the same error comes back.
    """
    summary = RunSummary(run_id)
    now = datetime.now()
    next_seq = (warehouse.scalar("select coalesce(max(ingest_seq), 0) from manifest") or 0) + 1
    # every name each file's bytes arrived under, in one statement (a landing area holds hundreds)
    warehouse.insert(
        "manifest_sightings",
        pl.DataFrame(
            {"file_hash": [item.file_hash for item in prepared], "file_key": [item.file.key for item in prepared]},
            schema={"file_hash": pl.String, "file_key": pl.String},
        ).unique(keep="first", maintain_order=True).with_columns(
            pl.lit(run_id).alias("run_id"), pl.lit(now).alias("seen_at")
        ),
        on_conflict="ignore",
    )
    for item in prepared:
        summary.files_seen += 1
        if item.file_hash in known_hashes or (item.staged is None and not item.quarantined):
            summary.files_resent += 1
            continue
        known_hashes = known_hashes | {item.file_hash}
        whole_file_quarantined = item.file_quarantined
        if item.file_hash in retried:
            failed_again = any(q["rule"] == "processing_error" for q in item.quarantined)
            if failed_again:  # the open entry stands; record nothing twice
                item.quarantined = [q for q in item.quarantined if q["rule"] != "processing_error"]
            else:
                warehouse.execute(
                    "update quarantine set resolved_at = ?, resolved_by_run = ? "
                    "where file_hash = ? and rule = 'processing_error' and resolved_at is null",
                    [now, run_id, item.file_hash],
                )
            warehouse.execute("delete from manifest where file_hash = ?", [item.file_hash])
        table = "stg_cst_report_versions" if item.source_id == "cst" else "stg_police_crime_versions"
        loaded = 0
        if item.staged is not None:
            loaded = warehouse.insert(
                table,
                item.staged.with_columns(
                    pl.lit(item.file_hash).alias("file_hash"), pl.lit(next_seq).alias("ingest_seq")
                ),
            )
        quarantine = pl.DataFrame(
            item.quarantined,
            schema={"source_row": pl.Int64, "record_key": pl.String, "rule": pl.String, "reason": pl.String},
        ).with_columns(
            pl.format("{}:{}:{}", pl.lit(item.file_hash[:16]), pl.col("source_row").fill_null(0), pl.col("rule")).alias("quarantine_id"),
            pl.lit(run_id).alias("run_id"),
            pl.lit(item.source_id).alias("source_id"),
            pl.lit(item.file.key).alias("file_key"),
            pl.lit(item.file_hash).alias("file_hash"),
            pl.lit(now).alias("first_seen"),
        ).unique("quarantine_id", keep="first")
        warehouse.insert("quarantine", quarantine)
        status = "quarantined" if whole_file_quarantined else "loaded"
        warehouse.execute(
            "insert into manifest values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [item.file_hash, item.source_id, item.file.key, item.file.size, next_seq, run_id, now,
             status, item.rows_read, loaded, quarantine.filter(pl.col("source_row").is_not_null()).height],
        )
        next_seq += 1
        summary.files_ingested += 1
        if summary.files_ingested == 1:
            maybe_die("mid-load")
        summary.rows_loaded[item.source_id] = summary.rows_loaded.get(item.source_id, 0) + loaded
        summary.rows_quarantined += quarantine.filter(pl.col("source_row").is_not_null()).height
        summary.files_quarantined += int(whole_file_quarantined)
    warehouse.execute(_RESOLVE_QUARANTINE, [now, run_id])
    return summary


# A file the code could not process (`processing_error`, a bug or a configuration
# gap rather than bad data) is tried again once the code version or the
# configuration differs from the run that quarantined it.
_RETRYABLE = """
select m.file_hash
from manifest m
join runs r using (run_id)
where m.status = 'quarantined'
  and (r.code_version is distinct from ? or r.config_hash is distinct from ?)
  and exists (
      select 1 from quarantine q
      where q.file_hash = m.file_hash and q.rule = 'processing_error' and q.resolved_at is null
  )
"""

# A quarantined row is resolved once a later file loads a version of the same
# record. A quarantined file, or a row without a usable reference, once the same
# source loads a later file of the same name: the resent file, or its name with a
# resend marker before the extension (`_v2`, `-resend`, `_fixed`, `_corrected`, ` (1)`).
_RESEND_NAME = (
    "regexp_replace(lower({}), "
    "'(?:[ _.-]?(?:v[0-9]+|resend|resent|fixed|corrected|correction|amended|[(][0-9]+[)]))+([.][^./]+)$', '\\1')"
)
_RESOLVE_QUARANTINE = f"""
update quarantine q set resolved_at = ?, resolved_by_run = ?
where q.resolved_at is null and (
    (q.record_key is not null and exists (
        select 1 from manifest m
        join stg_cst_report_versions c on c.file_hash = m.file_hash
        where c.report_key = q.record_key
          and m.ingest_seq > (select ingest_seq from manifest where file_hash = q.file_hash))
     or exists (
        select 1 from manifest m
        join stg_police_crime_versions p on p.file_hash = m.file_hash
        where p.crime_key = q.record_key
          and m.ingest_seq > (select ingest_seq from manifest where file_hash = q.file_hash)))
    or ((q.source_row is null or q.record_key is null) and exists (
        select 1 from manifest m
        where m.source_id = q.source_id and m.status = 'loaded'
          and {_RESEND_NAME.format("m.file_key")} = {_RESEND_NAME.format("q.file_key")}
          and m.ingest_seq > (select ingest_seq from manifest where file_hash = q.file_hash)))
)
"""


@task(cache_policy=NO_CACHE)
def record_landing_issues(warehouse: Warehouse, files: list[LandedFile]) -> None:
    now = datetime.now()
    for file in files:
        warehouse.execute(
            "insert into landing_issues values (?, ?, ?, ?, ?) "
            "on conflict (file_key) do update set last_seen = excluded.last_seen",
            [file.key, file.folder or "(root)", "no source is configured for this folder", now, now],
        )


def any_unseen(warehouse: Warehouse, files: list[LandedFile]) -> bool:
    """Whether a landed file was never sighted under its name and size: a guess, not the test.

    Only the content hash says whether a file is new (`prepare_source`); this guess from
    the listing decides only whether to start loading the validator early.
    """
    seen = warehouse.query(
        "select s.file_key, m.size_bytes from manifest_sightings s join manifest m using (file_hash)"
    )
    sighted = set(zip(seen["file_key"].to_list(), seen["size_bytes"].to_list(), strict=True))
    return any((file.key, file.size) not in sighted for file in files)


def code_version() -> str:
    """The git commit of a checkout, else the installed package's version."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5, check=False,
        )
        if out.stdout.strip():
            return out.stdout.strip()
    except OSError:
        pass
    try:
        return "v" + importlib.metadata.version("incident-exchange")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def summary_markdown(summary: RunSummary) -> str:
    rows = "\n".join(f"| {source} | {count} |" for source, count in sorted(summary.rows_loaded.items()))
    return (
        f"# Nightly run {summary.run_id}\n\n"
        f"- files seen: {summary.files_seen}; new: {summary.files_ingested}; resends: {summary.files_resent}\n"
        f"- files quarantined whole: {summary.files_quarantined}; rows quarantined: {summary.rows_quarantined}\n"
        f"- files in unconfigured folders: {len(summary.unconfigured_files)}\n\n"
        "| source | rows loaded |\n|---|---|\n" + (rows or "| (none) | 0 |")
    )


def mark_flow_run_crashed(flow_run_id: str, logger: logging.Logger | logging.LoggerAdapter) -> None:
    """A run killed while holding the lock stays `Running` in Prefect: say what became of it.

    Its transaction was never committed, so the warehouse is as it was before it started.
    """
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(flow_run_id)).state
            if state is not None and not state.is_final():
                client.set_flow_run_state(
                    flow_run_id,
                    Crashed(message="the process ended without releasing the run lock; nothing it did was committed"),
                    force=True,
                )
                logger.warning("flow run %s had been interrupted: marked Crashed", flow_run_id)
    except Exception as error:  # noqa: BLE001 - bookkeeping only; the night's work goes on
        logger.warning("could not mark interrupted flow run %s as crashed (%s)", flow_run_id, type(error).__name__)


@flow(name="nightly", log_prints=False)
def nightly(config_path: str | None = None) -> RunSummary:
    """Ingest new extracts, validate, standardise and load them; one transaction per run."""
    logger = get_run_logger()
    settings: Settings = load_settings(Path(config_path) if config_path else None)
    run_id = datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    docs: Future | None = None
    warming: threading.Thread | None = None
    with (
        run_lock(settings.home, holder=str(prefect_flow_run.id or "")) as lock,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="data-docs") as reports,
    ):
        if lock.stale_holder:
            mark_flow_run_crashed(lock.stale_holder, logger)
        maybe_die("after-lock")
        finish_interrupted_rotation(settings)  # a key rotation cut short after its commit
        key = load_or_create_key(settings.secrets_dir)
        landing = landing_for(settings.landing, settings.s3.endpoint_url, settings.s3.region)
        files = list_landing(landing)
        mappings = settings.mappings
        by_folder: dict[str, list[LandedFile]] = {}
        for file in files:
            by_folder.setdefault(file.folder, []).append(file)
        unconfigured = [f for folder, fs in by_folder.items() if folder not in mappings for f in fs]
        with Warehouse(settings.warehouse_path) as warehouse:
            warehouse.migrate()
            check_key(warehouse, key)  # refuse a key the warehouse is not keyed with (after a rotation)
            version, settings_hash = code_version(), config_hash(settings)
            retried = frozenset(
                warehouse.query(_RETRYABLE, [version, settings_hash])["file_hash"].to_list()
            )
            known = frozenset(warehouse.query("select file_hash from manifest")["file_hash"].to_list()) - retried
            if retried or any_unseen(warehouse, files):
                # a file will likely be validated: GX's import overlaps with the reading
                warming = warm_up()
            else:
                gx_process.stop()  # nothing to validate: the CLI's GX helper gives its core back
            futures = [
                prepare_source.submit(
                    mapping.id, by_folder.get(folder, []), landing, mapping,
                    settings.reference_data, key, known,
                )
                for folder, mapping in mappings.items()
            ]
            prepared = [item for future in futures for item in future.result()]
            maybe_die("after-prepare")
            # Data Docs report the validation alone: rendered (GX and Jinja, about a second) in a
            # thread of this process while the warehouse work runs, which releases the GIL
            docs = reports.submit(
                write_data_docs, settings.home / "reports" / "validation", run_id,
                [entry for item in prepared for entry in item.validation_results],
            )
            pseudonyms = [item.pseudonyms for item in prepared if item.pseudonyms is not None]
            if pseudonyms:  # one write of the store for all files (each write rewrites its index)
                ReidentificationStore(settings.secrets_dir).remember(
                    pl.concat(pseudonyms, how="vertical_relaxed").unique("pseudonym", keep="last", maintain_order=True)
                )
            with failure_recorded(warehouse, run_id, "load", version, settings_hash), warehouse.transaction():
                warehouse.execute(
                    "insert into runs (run_id, started_at, status, code_version, config_hash) values (?, ?, 'running', ?, ?)",
                    [run_id, datetime.now(), version, settings_hash],
                )
                # quoted: Prefect would walk every prepared file's contents looking for futures, while
                # the Data Docs thread renders the same validation results (a dict changed size under it)
                summary = load_prepared(warehouse, run_id, quote(prepared), known, retried)
                linked = link_records(warehouse, settings, run_id)
                summary.unconfigured_files = [f.key for f in unconfigured]
                record_landing_issues(warehouse, unconfigured)
                # nothing loaded and no link changed: last night's marts stand; after an incremental
                # link only the incidents the night touched are rebuilt (see build_marts_now)
                build_marts(
                    warehouse, settings,
                    data_unchanged=summary.files_ingested == 0 and linked.mode == "unchanged",
                    incremental=linked.mode != "full",
                )
                apply_retention(warehouse, settings, run_id)
                warehouse.execute(
                    "update runs set finished_at = ?, status = 'succeeded', files_ingested = ?, "
                    "rows_loaded = ?, rows_quarantined = ? where run_id = ?",
                    [datetime.now(), summary.files_ingested, sum(summary.rows_loaded.values()),
                     summary.rows_quarantined, run_id],
                )
                close_run(warehouse, run_id, summary)
                maybe_die("before-commit")
            maybe_die("after-commit")
            with failure_recorded(warehouse, run_id, "publish"):
                record_publication(warehouse, run_id, publish_incidents(warehouse, settings, run_id))
            maybe_die("after-publish")
            ledger = run_row(warehouse, run_id)
        try:  # Data Docs are a report: failing to write them must not fail the run
            if docs is not None:
                docs.result()
        except Exception as error:
            logger.warning("validation Data Docs not written (%s)", type(error).__name__)
    for key_name in summary.unconfigured_files:
        logger.warning("file in a folder no source is configured for: %s", key_name)
    create_markdown_artifact(markdown=summary_markdown(summary), key="nightly-summary")
    create_run_artifacts(ledger)
    if warming is not None:
        warming.join()  # a guess that found only renamed resends: let the import end before the process does
    return summary
