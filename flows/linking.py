"""The linkage step of the nightly run: staging views in, link tables out.

An adapter: it reads the warehouse (named SQL pieces in `warehouse/linkage/`),
calls the pure functions of `transforms/linkage*.py`, and writes
`link_pairs`, `police_incident_groups`, `link_model_runs`, `link_record_state`
and `link_runs`, all inside the run's transaction.

Two modes:

- **full**: every record is (re)linked and the model is (re)trained - the first
  run, a changed `linkage_settings.json`, `--relink`, or enough new review
  decisions since the last training (`training.retrain_after_new_reviews`):
  ECM first, then logistic regression once enough pairs are reviewed;
- **incremental** (a normal night): only records whose latest version
  (file_hash, source_row) differs from the one last linked are compared,
  against every record they can pair with, and scored with the stored model.
  Then only the connected components of the (report, incident group) graph
  that a changed record, a changed group or a new review decision touches are
  re-resolved: every other pair keeps its decision. A correction re-opens
  exactly its own pairs and their competitors; a cancellation voids its
  crime's pairs (rejected, reason `cancelled`).
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from transforms.linkage import (
    comparison_vectors_chunked,
    comparison_vectors_for,
    fitted_model,
    linkage_settings,
    narrative_model,
    police_incident_groups,
    settings_digest,
)
from transforms.linkage_compare import gamma
from transforms.linkage_model import FittedModel, score
from transforms.linkage_resolve import RESOLVED_COLUMNS, components, resolved_pairs
from warehouse.run import Warehouse, sql_file

EXTRA_COLUMNS = ["rule", "levels", "date_gap_days", "time_gap_minutes", "narrative_cosine", "offender_jaccard"]
PAIR_KEYS = ["report_key", "crime_key"]
# How far a record's date can be from a partner's (blocking windows, late reports, long ranges).
SCOPE_DAYS_BEFORE = 70
SCOPE_DAYS_AFTER = 10


@dataclass
class LinkSummary:
    run_id: str
    mode: str
    model_run_id: str | None = None
    changed_reports: int = 0
    changed_crimes: int = 0
    new_decisions: int = 0
    pairs_scored: int = 0
    pairs_written: int = 0
    matched: int = 0
    review: int = 0
    seconds: float = 0.0


def _query(warehouse: Warehouse, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    """`Warehouse.query`, tolerating DuckDB 2.0.1, whose connections lost `.pl()`."""
    try:
        return warehouse.query(sql, params)
    except AttributeError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            table = warehouse.con.execute(sql, params or []).to_arrow_table()
        return pl.from_arrow(table)  # type: ignore[return-value]


def _sql(name: str) -> str:
    return sql_file(f"linkage/{name}.sql")


def _empty_decisions() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"report_key": pl.String, "crime_key": pl.String, "decision": pl.String, "decided_at": pl.Datetime("us")}
    )


def _decisions(warehouse: Warehouse) -> pl.DataFrame:
    frame = _query(warehouse, _sql("latest_decisions"))
    if frame.is_empty():
        return _empty_decisions()
    return frame.with_columns(pl.col("decided_at").cast(pl.Datetime("us")))


def _set_scope(warehouse: Warehouse, keys: dict[str, pl.Series], tokens: pl.Series | None = None) -> None:
    warehouse.execute(_sql("scope_tables"))
    for source, series in keys.items():
        if len(series):
            warehouse.insert(
                "link_scope_keys",
                pl.DataFrame({"source": source, "record_key": series.cast(pl.String).unique()}),
            )
    if tokens is not None and len(tokens):
        warehouse.insert("link_scope_tokens", pl.DataFrame({"token": tokens.cast(pl.String).unique()}))


def _levels_column(settings: dict) -> pl.Expr:
    return pl.concat_list([pl.col(gamma(c["name"])).cast(pl.Int8) for c in settings["comparisons"]]).alias("levels")


def _with_extras(vectors: pl.DataFrame, settings: dict) -> pl.DataFrame:
    """Scored vectors -> the columns link_pairs keeps about each pair."""
    return vectors.select(
        *PAIR_KEYS,
        pl.col("match_probability"),
        pl.col("match_weight"),
        pl.col("rule"),
        _levels_column(settings),
        pl.col("date_gap_days").cast(pl.Int32),
        pl.col("time_gap_minutes").cast(pl.Int32),
        pl.col("narrative_cosine"),
        pl.col("offender_jaccard"),
    )


def _store_model(warehouse: Warehouse, run_id: str, settings: dict, model: FittedModel, idf: pl.DataFrame,
                 reviewed: int, now: datetime) -> None:
    warehouse.execute(
        "insert or replace into link_model_runs values (?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, json.dumps(settings), settings_digest(settings), json.dumps(model.to_dict()),
         json.dumps(model.trained_on), model.method, reviewed, now],
    )
    warehouse.execute("delete from link_model_idf where model_run_id = ?", [run_id])
    warehouse.insert("link_model_idf", idf.select(pl.lit(run_id).alias("model_run_id"), "term", "idf"))


def _write_pairs(
    warehouse: Warehouse, resolved: pl.DataFrame, extras: pl.DataFrame, model_run_id: str, now: datetime
) -> int:
    rows = resolved.join(extras, on=PAIR_KEYS, how="left").with_columns(
        pl.lit(model_run_id).alias("model_run_id"), pl.lit(now).alias("updated_at")
    )
    return warehouse.insert("link_pairs", rows.select(*RESOLVED_COLUMNS, "model_run_id", *EXTRA_COLUMNS, "updated_at"))


def _write_groups(warehouse: Warehouse, groups: pl.DataFrame, now: datetime, replace_all: bool) -> pl.Series:
    """Store the groups; returns the crimes whose group changed."""
    if replace_all:
        stored = _query(warehouse, "select crime_key, police_incident_id from police_incident_groups")
    else:
        _set_scope(warehouse, {"police": groups["crime_key"]})
        stored = _query(warehouse, _sql("groups_of_crimes"))
    changed = groups.join(stored, on=["crime_key", "police_incident_id"], how="anti")
    if replace_all:
        warehouse.execute("delete from police_incident_groups")
        warehouse.insert("police_incident_groups", groups.with_columns(pl.lit(now).alias("updated_at")))
    elif changed.height:
        warehouse.execute("create temp table if not exists link_changed_groups (crime_key varchar)")
        warehouse.execute("delete from link_changed_groups")
        warehouse.insert("link_changed_groups", changed.select("crime_key"))
        warehouse.execute(
            "delete from police_incident_groups where crime_key in (select crime_key from link_changed_groups)"
        )
        warehouse.insert("police_incident_groups", changed.with_columns(pl.lit(now).alias("updated_at")))
    return changed["crime_key"]


def _cancelled_held(warehouse: Warehouse) -> pl.DataFrame:
    """Held pairs of crimes now cancelled: carried into resolution so they come out void."""
    return _query(warehouse, 
        "select l.report_key, l.crime_key, l.pair_probability as match_probability, l.match_weight, l.rule, "
        "l.levels, l.date_gap_days, l.time_gap_minutes, l.narrative_cosine, l.offender_jaccard "
        "from link_pairs l join stg_police_crimes p using (crime_key) where p.status = 'cancelled'"
    )


def _record_state(warehouse: Warehouse, run_id: str, reports: pl.Series | None, crimes: pl.Series | None) -> None:
    if reports is None and crimes is None:
        warehouse.execute("delete from link_record_state")
        warehouse.execute(
            "insert into link_record_state select 'cst', report_key, file_hash, source_row, ? from stg_cst_reports",
            [run_id],
        )
        warehouse.execute(
            "insert into link_record_state select 'police', crime_key, file_hash, source_row, ? from stg_police_crimes",
            [run_id],
        )
        return
    _set_scope(
        warehouse,
        {"cst_changed": reports if reports is not None else pl.Series([], dtype=pl.String),
         "police_changed": crimes if crimes is not None else pl.Series([], dtype=pl.String)},
    )
    warehouse.execute(_sql("record_state_upsert"), [run_id, run_id])


def _log(warehouse: Warehouse, summary: LinkSummary, now: datetime) -> None:
    row = asdict(summary)
    warehouse.execute(
        "insert or replace into link_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [row["run_id"], row["mode"], row["model_run_id"], row["changed_reports"], row["changed_crimes"],
         row["new_decisions"], row["pairs_scored"], row["pairs_written"], row["matched"], row["review"],
         row["seconds"], now],
    )


def _full(warehouse: Warehouse, run_id: str, settings: dict, summary: LinkSummary, now: datetime) -> None:
    _set_scope(warehouse, {"cst": pl.Series(["*"]), "police": pl.Series(["*"])})
    cst = _query(warehouse, _sql("cst_in_scope"))
    police = _query(warehouse, _sql("police_in_scope"))
    decisions = _decisions(warehouse)
    groups = police_incident_groups(police, settings)
    vectors, idf = comparison_vectors_chunked(cst, police, settings)
    reviewed = decisions.select(*PAIR_KEYS, (pl.col("decision") == "accept").cast(pl.Int64).alias("label"))
    model, _ = fitted_model(vectors, settings, reviewed, groups)
    _store_model(warehouse, run_id, settings, model, idf, decisions.height, now)
    scored = _with_extras(score(vectors, model), settings)
    cancelled = _cancelled_held(warehouse)
    candidates = pl.concat([scored, cancelled.select(scored.columns)], how="vertical_relaxed").unique(
        PAIR_KEYS, keep="first"
    )
    resolved = resolved_pairs(
        candidates, groups, police.select("crime_key", "force_id", "status"), decisions, settings["thresholds"]
    )
    warehouse.execute("delete from link_pairs")
    summary.pairs_written = _write_pairs(warehouse, resolved, candidates.drop("match_probability", "match_weight"), run_id, now)
    _write_groups(warehouse, groups, now, replace_all=True)
    warehouse.execute(_sql("token_index_rebuild"))
    _record_state(warehouse, run_id, None, None)
    summary.model_run_id = run_id
    summary.changed_reports, summary.changed_crimes = cst.height, police.height
    summary.pairs_scored = vectors.height


def _days_around(dates: pl.DataFrame, start: str, end: str, before: int, after: int) -> pl.DataFrame:
    return (
        dates.select(pl.date_ranges(pl.col(start) - pl.duration(days=before), pl.col(end) + pl.duration(days=after)).alias("day"))
        .explode("day")
        .drop_nulls()
        .unique()
    )


def _incremental(
    warehouse: Warehouse,
    run_id: str,
    settings: dict,
    model_row: dict[str, Any],
    changed_reports: pl.Series,
    changed_crimes: pl.Series,
    decisions: pl.DataFrame,
    new_decisions: pl.DataFrame,
    summary: LinkSummary,
    now: datetime,
) -> None:
    model = FittedModel.from_dict(json.loads(model_row["parameters_json"]))
    model_run_id = model_row["run_id"]
    idf = _query(warehouse, "select term, idf from link_model_idf where model_run_id = ? order by term", [model_run_id])
    # 1. the records a night's changes can pair with: dates within reach, or a shared crime-number token
    cst_dates = _query(warehouse, _sql("cst_dates"))
    police_dates = _query(warehouse, _sql("police_dates"))
    changed_cst_dates = cst_dates.filter(pl.col("report_key").is_in(changed_reports.implode()))
    changed_police_dates = police_dates.filter(pl.col("crime_key").is_in(changed_crimes.implode()))
    near_reports = _days_around(changed_cst_dates, "incident_date", "incident_date", SCOPE_DAYS_BEFORE, SCOPE_DAYS_AFTER)
    near_crimes = _days_around(changed_police_dates, "f", "t", SCOPE_DAYS_AFTER, SCOPE_DAYS_BEFORE)
    police_days = police_dates.select(
        "crime_key", pl.date_ranges("f", pl.min_horizontal("t", pl.col("f") + pl.duration(days=31))).alias("day")
    ).explode("day")
    police_scope = police_days.join(near_reports, on="day", how="semi")["crime_key"].unique()
    cst_scope = cst_dates.join(near_crimes, left_on="incident_date", right_on="day", how="semi")["report_key"]
    _set_scope(warehouse, {"cst": changed_reports, "police": changed_crimes})
    changed_cst_rows = _query(warehouse, _sql("cst_in_scope"))
    changed_police_rows = _query(warehouse, _sql("police_in_scope"))
    # keep the token indexes current: a changed record's old tokens out, its latest version's in
    _set_scope(warehouse, {"cst_changed": changed_reports, "police_changed": changed_crimes})
    warehouse.execute(_sql("token_index_forget"))
    warehouse.insert(
        "link_crime_tokens",
        changed_police_rows.filter(pl.col("status") != "cancelled")
        .select(pl.col("crime_ref_tokens").alias("token"), "crime_key").explode("token").drop_nulls("token"),
    )
    warehouse.insert(
        "link_cited_tokens",
        changed_cst_rows.select(pl.col("cited_crime_ref_tokens").alias("token"), "report_key")
        .explode("token").drop_nulls("token"),
    )
    cited = changed_cst_rows.select(pl.col("cited_crime_ref_tokens").explode().drop_nulls())["cited_crime_ref_tokens"]
    held_tokens = changed_police_rows.select(pl.col("crime_ref_tokens").explode().drop_nulls())["crime_ref_tokens"]
    _set_scope(warehouse, {}, cited)
    police_scope = pl.concat([police_scope, _query(warehouse, _sql("crimes_sharing_tokens"))["crime_key"], changed_crimes])
    _set_scope(warehouse, {}, held_tokens)
    cst_scope = pl.concat([cst_scope, _query(warehouse, _sql("reports_sharing_tokens"))["report_key"], changed_reports])
    decided = new_decisions
    cst_scope = pl.concat([cst_scope, decided["report_key"]]).unique()
    police_scope = pl.concat([police_scope, decided["crime_key"]]).unique()
    _set_scope(warehouse, {"cst": cst_scope, "police": police_scope})
    cst = _query(warehouse, _sql("cst_in_scope"))
    police = _query(warehouse, _sql("police_in_scope"))
    tokens = pl.concat(
        [
            cst.select(pl.col("cited_crime_ref_tokens").explode().alias("t"))["t"],
            police.select(pl.col("crime_ref_tokens").explode().alias("t"))["t"],
        ]
    ).drop_nulls()
    _set_scope(warehouse, {}, tokens)
    token_frequency = _query(warehouse, _sql("scope_token_frequency")).with_columns(pl.col("frequency").cast(pl.Int64))
    # 2. candidate pairs touching a changed record, scored with the stored model
    texts = narrative_model(cst, police, settings, idf=idf)
    vectors = comparison_vectors_for(
        cst, police, settings, texts, changed_reports, changed_crimes, token_frequency
    )
    summary.pairs_scored = vectors.height
    new_pairs = _with_extras(score(vectors, model), settings)
    # 3. incident groups: only the blocks (force, time range, report date) of a changed crime can change
    _set_scope(warehouse, {"police_changed": changed_crimes})
    block_police = _query(warehouse, _sql("police_in_changed_blocks"))
    regrouped = (
        _write_groups(warehouse, police_incident_groups(block_police, settings), now, replace_all=False)
        if block_police.height
        else pl.Series("crime_key", [], dtype=pl.String)
    )
    # 4. held pairs within two hops; a changed record's old pairs give way to its new ones
    #    (a cancelled crime's stay, to be voided)
    _set_scope(
        warehouse,
        {
            "cst": pl.concat([changed_reports, new_pairs["report_key"], decided["report_key"]]),
            "police": pl.concat([changed_crimes, new_pairs["crime_key"], decided["crime_key"], regrouped]),
        },
    )
    held = _query(warehouse, _sql("held_pairs_near")).rename({"pair_probability": "match_probability"})
    cancelled = changed_police_rows.filter(pl.col("status") == "cancelled")["crime_key"]
    replaced = held.filter(
        pl.col("report_key").is_in(changed_reports.implode())
        | (pl.col("crime_key").is_in(changed_crimes.implode()) & ~pl.col("crime_key").is_in(cancelled.implode()))
    )
    kept = held.join(replaced.select(PAIR_KEYS), on=PAIR_KEYS, how="anti")
    candidates = pl.concat([new_pairs, kept.select(new_pairs.columns)], how="vertical_relaxed").unique(
        PAIR_KEYS, keep="first"
    )
    involved = pl.concat([candidates["crime_key"], decisions["crime_key"], regrouped]).unique()
    _set_scope(warehouse, {"police": involved})
    groups = _query(warehouse, _sql("groups_of_crimes"))
    status = _query(warehouse, _sql("police_status_of_pairs"))
    candidates = candidates.join(groups, on="crime_key", how="left").with_columns(
        pl.coalesce("police_incident_id", pl.lit("pig_") + pl.col("crime_key")).alias("police_incident_id")
    )
    # 5. the components touched: changed records, regrouped crimes, new decisions
    review_t = float(settings["thresholds"]["review"])
    decided_keys = decisions.select(PAIR_KEYS).with_columns(pl.lit(None, dtype=pl.Float64).alias("match_probability"))
    graph = pl.concat(
        [
            candidates.select(*PAIR_KEYS, "match_probability"),
            decided_keys.join(candidates.select(PAIR_KEYS), on=PAIR_KEYS, how="anti"),
        ]
    ).join(groups, on="crime_key", how="left").with_columns(
        pl.coalesce("police_incident_id", pl.lit("pig_") + pl.col("crime_key")).alias("police_incident_id")
    )
    labels = components(graph, review_t)
    touched_groups = graph.filter(
        pl.col("crime_key").is_in(pl.concat([changed_crimes, regrouped, decided["crime_key"]]).implode())
    )["police_incident_id"]
    touched_nodes = pl.concat(
        [changed_reports, decided["report_key"], new_pairs["report_key"], touched_groups,
         graph.filter(pl.col("crime_key").is_in(new_pairs["crime_key"].implode()))["police_incident_id"]]
    ).unique()
    touched_components = labels.filter(pl.col("node").is_in(touched_nodes.implode()))["component"].unique()
    in_touched = labels.filter(pl.col("component").is_in(touched_components.implode()))["node"]
    subset = candidates.filter(
        pl.col("report_key").is_in(in_touched.implode())
        | pl.col("police_incident_id").is_in(in_touched.implode())
        | pl.col("report_key").is_in(changed_reports.implode())
        | pl.col("crime_key").is_in(pl.concat([changed_crimes, regrouped]).implode())
    )
    subset_decisions = decisions.join(
        graph.filter(
            pl.col("report_key").is_in(in_touched.implode()) | pl.col("police_incident_id").is_in(in_touched.implode())
        ).select(PAIR_KEYS),
        on=PAIR_KEYS,
        how="semi",
    )
    resolved = resolved_pairs(
        subset.drop("police_incident_id"), groups, status, subset_decisions, settings["thresholds"]
    )
    # 6. replace exactly the re-resolved pairs (and a changed record's vanished ones)
    gone = pl.concat([subset.select(PAIR_KEYS), replaced.select(PAIR_KEYS), subset_decisions.select(PAIR_KEYS)]).unique()
    warehouse.execute("create temp table if not exists link_scope_pairs (report_key varchar, crime_key varchar)")
    warehouse.execute("delete from link_scope_pairs")
    warehouse.insert("link_scope_pairs", gone)
    warehouse.execute(
        "delete from link_pairs using link_scope_pairs s "
        "where link_pairs.report_key = s.report_key and link_pairs.crime_key = s.crime_key"
    )
    extras = subset.drop("match_probability", "match_weight", "police_incident_id")
    summary.pairs_written = _write_pairs(warehouse, resolved, extras, model_run_id, now)
    _record_state(warehouse, run_id, changed_reports, changed_crimes)
    summary.model_run_id = model_run_id


def link_warehouse(
    warehouse: Warehouse,
    run_id: str,
    full: bool = False,
    settings: dict | None = None,
    now: datetime | None = None,
) -> LinkSummary:
    """Link new and changed records (or everything); call inside the run's transaction."""
    started = time.perf_counter()
    settings = settings or linkage_settings()
    now = now or datetime.now()
    summary = LinkSummary(run_id, "full" if full else "incremental")
    latest = _query(warehouse, _sql("latest_model_run"))
    model_row = latest.row(0, named=True) if latest.height else None
    decisions = _decisions(warehouse)
    retrain_after = int(settings.get("training", {}).get("retrain_after_new_reviews", 25))
    if (
        full
        or model_row is None
        or model_row["settings_digest"] != settings_digest(settings)
        or decisions.height - int(model_row["reviewed_pairs"]) >= retrain_after
    ):
        summary.mode = "full"
        _full(warehouse, run_id, settings, summary, now)
    else:
        changed_reports = _query(warehouse, _sql("changed_reports"))["report_key"]
        changed_crimes = _query(warehouse, _sql("changed_crimes"))["crime_key"]
        last = warehouse.scalar("select max(finished_at) from link_runs")
        new_decisions = decisions.filter(pl.col("decided_at") > (last or datetime.min)) if last else decisions
        summary.changed_reports, summary.changed_crimes = len(changed_reports), len(changed_crimes)
        summary.new_decisions = new_decisions.height
        if not len(changed_reports) and not len(changed_crimes) and new_decisions.is_empty():
            summary.mode = "unchanged"
            summary.model_run_id = model_row["run_id"]
        else:
            _incremental(
                warehouse, run_id, settings, model_row, changed_reports, changed_crimes,
                decisions, new_decisions, summary, now,
            )
    counts = dict(_query(warehouse, "select status, count(*) as n from link_pairs group by status").iter_rows())
    summary.matched, summary.review = int(counts.get("matched", 0)), int(counts.get("review", 0))
    summary.seconds = time.perf_counter() - started
    _log(warehouse, summary, now + timedelta(microseconds=1))
    return summary


@task(cache_policy=NO_CACHE)
def link_records(warehouse: Warehouse, settings: object, run_id: str, full: bool = False) -> LinkSummary:
    """The nightly linkage step (Prefect task): new and changed records, or all when retraining."""
    del settings  # the linkage model lives in transforms/linkage_settings.json, not incidents.toml
    return link_warehouse(warehouse, run_id, full=full)
