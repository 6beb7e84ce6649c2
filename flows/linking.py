"""The linkage step of the nightly run: staging views in, link tables out.

An adapter: it reads the warehouse (named SQL pieces in `warehouse/linkage/`),
calls the pure functions of `transforms/linkage*.py`, and writes
`link_pairs`, `police_incident_groups`, `link_model_runs`, `link_record_state`
and `link_runs`, all inside the run's transaction.

Two modes:

- **full**: every record is (re)linked and the model is (re)trained - the first
  run, a changed `linkage_settings.json` (e.g. a new `settings_version`),
  `link_warehouse(full=True)`, or enough new review decisions since the last
  training (`training.retrain_after_new_reviews`):
  ECM first, then logistic regression once enough pairs are reviewed;
- **incremental** (a normal night): only records whose latest version
  (file_hash, source_row) differs from the one last linked are compared,
  against every record they can pair with, and scored with the stored model.
  Then only a neighbourhood is re-resolved: the reports and incident groups
  that a changed record, a changed group or a new review decision touches, with
  all their pairs, plus the direct competitors (every pair of a node those pairs
  can assign); assignments held outside it stay as they are. Every other pair
  keeps its decision. A correction re-opens exactly its own pairs and their
  competitors; a cancellation voids its crime's pairs (rejected; reason
  `cancelled` where its report stays that incident's and takes no other crime).
"""

from __future__ import annotations

import contextvars
import json
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext, TaskRunContext

from flows.config import Settings
from flows.task_runners import link_block_width
from transforms.blocks import IN_TURN, BlockRunner, call
from transforms.linkage import (
    TERM_SCHEMA,
    candidates_for,
    comparison_vectors_chunked,
    fitted_model,
    linkage_settings,
    narrative_model,
    police_incident_groups,
    settings_digest,
    vectors_for,
)
from transforms.linkage_blocking import identity_rule_tokens, long_tokens, uses_identity_blocking
from transforms.linkage_compare import gamma
from transforms.linkage_model import FittedModel, score
from transforms.linkage_resolve import RESOLVED_COLUMNS, resolved_pairs
from warehouse.run import Warehouse, sql_file

if TYPE_CHECKING:
    from distributed import Future

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


def _sql(name: str) -> str:
    return sql_file(f"linkage/{name}.sql")


def _empty_decisions() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"report_key": pl.String, "crime_key": pl.String, "decision": pl.String, "decided_at": pl.Datetime("us")}
    )


def _decisions(warehouse: Warehouse) -> pl.DataFrame:
    frame = warehouse.query(_sql("latest_decisions"))
    if frame.is_empty():
        return _empty_decisions()
    return frame.with_columns(pl.col("decided_at").cast(pl.Datetime("us")))


def _set_scope(warehouse: Warehouse, keys: dict[str, pl.Series], tokens: pl.Series | None = None) -> None:
    warehouse.execute(_sql("scope_tables"))
    _add_to_scope(warehouse, keys, tokens)


def _add_to_scope(warehouse: Warehouse, keys: dict[str, pl.Series], tokens: pl.Series | None = None) -> None:
    """Name more records (and tokens) in the scope tables, keeping what they name."""
    for source, series in keys.items():
        if len(series):
            warehouse.insert(
                "link_scope_keys",
                pl.DataFrame({"source": source, "record_key": series.cast(pl.String).unique()}),
            )
    if tokens is not None and len(tokens):
        warehouse.insert("link_scope_tokens", pl.DataFrame({"token": tokens.cast(pl.String).unique()}))


def _police_named(warehouse: Warehouse, rows_sql: str = "police_named") -> pl.DataFrame:
    """The crimes of link_scope_keys 'police', with the tokens of those also named 'police_tokens'."""
    rows = warehouse.query(_sql(rows_sql))
    tokens = warehouse.query(_sql("police_tokens_named"))
    return rows.join(tokens, on="crime_key", how="left", maintain_order="left")


def _whole_rows(
    warehouse: Warehouse, source: str, keys: pl.Series, held: pl.DataFrame, crime_tokens: bool = True
) -> pl.DataFrame:
    """Whole rows of these records (`cst_named` / `_police_named`): those `held` already has
    (the night's changed records), the rest read; `crime_tokens=False`: crimes read without
    their crime-number tokens (comparisons do not read them)."""
    key = "report_key" if source == "cst" else "crime_key"
    rows = held.join(keys.to_frame(key), on=key, how="semi")
    missing = keys.filter(~keys.is_in(rows[key].implode()))
    if len(missing):
        if source == "cst":
            _set_scope(warehouse, {"cst": missing})
            read = warehouse.query(_sql("cst_named"))
        else:
            _set_scope(warehouse, {"police": missing, "police_tokens": missing if crime_tokens else missing.head(0)})
            read = _police_named(warehouse) if crime_tokens else warehouse.query(_sql("police_named"))
        rows = pl.concat([rows, read], how="diagonal_relaxed")
    return rows


def _whole_where_parsed(
    warehouse: Warehouse, reach: pl.DataFrame, source: str, known_terms: pl.DataFrame, held: pl.DataFrame
) -> pl.DataFrame:
    """The records in reach (blocking columns), whole where tonight parses their narratives: those
    without stored terms (the changed ones, and any other: none once every record's terms are
    stored, see _ensure_stored_terms)."""
    key = "report_key" if source == "cst" else "crime_key"
    parsed = reach.join(known_terms.filter(pl.col("source") == source).select(pl.col("record_key").alias(key)),
                        on=key, how="anti")[key]
    whole = _whole_rows(warehouse, source, parsed, held)
    return pl.concat([reach.join(whole.select(key), on=key, how="anti"), whole], how="diagonal_relaxed").sort(key)


def _levels_column(settings: dict) -> pl.Expr:
    # built as a fixed-size array, then cast: concat_list took 1.1 s on a 100x month-end night's
    # 902k pairs, concat_arr 0.03 s
    gammas = [pl.col(gamma(c["name"])).cast(pl.Int8) for c in settings["comparisons"]]
    return pl.concat_arr(gammas).cast(pl.List(pl.Int8)).alias("levels")


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
        stored = warehouse.query("select crime_key, police_incident_id from police_incident_groups")
    else:
        _set_scope(warehouse, {"police": groups["crime_key"]})
        stored = warehouse.query(_sql("groups_of_crimes"))
    changed = groups.join(stored, on=["crime_key", "police_incident_id"], how="anti")
    if replace_all:
        warehouse.execute("delete from police_incident_groups")
        warehouse.insert("police_incident_groups", groups.with_columns(pl.lit(now).alias("updated_at")))
    elif changed.height:
        warehouse.replace_temp("link_changed_groups", changed.select("crime_key"))
        warehouse.execute(
            "delete from police_incident_groups where crime_key in (select crime_key from link_changed_groups)"
        )
        warehouse.insert("police_incident_groups", changed.with_columns(pl.lit(now).alias("updated_at")))
    return changed["crime_key"]


def _record_state(
    warehouse: Warehouse, run_id: str, reports: pl.Series | None, crimes: pl.Series | None, floors: pl.DataFrame
) -> None:
    """Remember the versions linked (every record, or the changed ones) and their narrative floors."""
    columns = "(source, record_key, file_hash, source_row, linked_run_id)"
    if reports is None and crimes is None:
        warehouse.execute("delete from link_record_state")
        warehouse.execute(
            f"insert into link_record_state {columns} "
            "select 'cst', report_key, file_hash, source_row, ? from stg_cst_reports",
            [run_id],
        )
        warehouse.execute(
            f"insert into link_record_state {columns} "
            "select 'police', crime_key, file_hash, source_row, ? from stg_police_crimes",
            [run_id],
        )
    else:
        _set_scope(
            warehouse,
            {"cst_changed": reports if reports is not None else pl.Series([], dtype=pl.String),
             "police_changed": crimes if crimes is not None else pl.Series([], dtype=pl.String)},
        )
        # a record's narrative floor is written after (narrative_floors_update), null until then
        linked = warehouse.query(_sql("record_versions_changed")).with_columns(
            pl.lit(run_id).alias("linked_run_id"), pl.lit(None, dtype=pl.Float64).alias("no_place_floor")
        )
        warehouse.upsert("link_record_state", linked)
    if floors.height:
        warehouse.replace_temp("link_floors", floors)
        warehouse.execute(_sql("narrative_floors_update"))


def _floors(vectors: pl.DataFrame, report_ids: pl.DataFrame, crime_ids: pl.DataFrame) -> pl.DataFrame:
    """(source, record_key, floor): the narrative floors the pairs of `vectors` carry, real keys."""

    def side(source: str, key: str, column: str, ids: pl.DataFrame) -> pl.DataFrame:
        found = vectors.select(key, column).drop_nulls(column).group_by(key).agg(pl.col(column).max())
        return _rekeyed(found, key, ids, "short", "key").select(
            pl.lit(source).alias("source"), pl.col(key).alias("record_key"), pl.col(column).alias("floor")
        )

    return pl.concat([side("cst", "report_key", "report_floor", report_ids),
                      side("police", "crime_key", "crime_floor", crime_ids)])


def _log(warehouse: Warehouse, summary: LinkSummary, now: datetime) -> None:
    row = asdict(summary)
    warehouse.execute(
        "insert or replace into link_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [row["run_id"], row["mode"], row["model_run_id"], row["changed_reports"], row["changed_crimes"],
         row["new_decisions"], row["pairs_scored"], row["pairs_written"], row["matched"], row["review"],
         row["seconds"], now],
    )


def _short_keys(keys: pl.Series, prefix: str) -> pl.DataFrame:
    """key -> a 12-character stand-in that sorts as the key does.

    Polars keeps strings of up to 12 bytes inside a column's 16-byte views, so a full link
    of a million records carries its 16M scored pairs with 0.5 GB of keys instead of 2 GB.
    """
    return (
        pl.DataFrame({"key": keys.unique().sort()})
        .with_row_index("short")
        .select("key", (pl.lit(prefix) + pl.col("short").cast(pl.String).str.zfill(11)).alias("short"))
    )


def _rekeyed(frame: pl.DataFrame, column: str, mapping: pl.DataFrame, source: str, target: str) -> pl.DataFrame:
    """`column` mapped from `source` to `target` keys; a key the mapping lacks stays as it is."""
    lookup = mapping.select(pl.col(source).alias(column), pl.col(target).alias("_mapped"))
    return (
        frame.join(lookup, on=column, how="left", maintain_order="left")
        .with_columns(pl.coalesce("_mapped", column).alias(column))
        .drop("_mapped")
    )


def _series_rekeyed(keys: pl.Series, mapping: pl.DataFrame, source: str, target: str) -> pl.Series:
    """`_rekeyed` for a series of keys."""
    return _rekeyed(keys.to_frame("key_"), "key_", mapping, source, target)["key_"].alias(keys.name)


def _pair_rekeyed(
    frame: pl.DataFrame, report_ids: pl.DataFrame, crime_ids: pl.DataFrame, source: str, target: str
) -> pl.DataFrame:
    """A frame's report_key and crime_key both mapped from `source` to `target` keys (see `_rekeyed`)."""
    return _rekeyed(_rekeyed(frame, "report_key", report_ids, source, target), "crime_key", crime_ids, source, target)


def _terms_rekeyed(
    terms: pl.DataFrame, report_ids: pl.DataFrame, crime_ids: pl.DataFrame, source: str, target: str
) -> pl.DataFrame:
    """Stored narrative terms (`TERM_SCHEMA`) with each side's record_key mapped (see `_rekeyed`)."""
    return pl.concat([
        _rekeyed(terms.filter(pl.col("source") == "cst"), "record_key", report_ids, source, target),
        _rekeyed(terms.filter(pl.col("source") == "police"), "record_key", crime_ids, source, target),
    ])


def _store_terms(warehouse: Warehouse, terms: pl.DataFrame, model_run_id: str, replace_all: bool) -> None:
    """Store records' narrative terms (real keys); `replace_all`: these are every record's."""
    if replace_all:
        warehouse.execute("delete from link_narrative_terms")
        warehouse.execute("delete from link_narrative_terms_state")
        warehouse.execute("insert into link_narrative_terms_state values (?)", [model_run_id])
        warehouse.insert("link_narrative_terms", terms.select(*TERM_SCHEMA))
    else:  # a changed record's row replaced (every record has one, so none is left from an old version)
        warehouse.upsert("link_narrative_terms", terms.select(*TERM_SCHEMA))


def _ensure_stored_terms(warehouse: Warehouse, settings: dict, model_run_id: str, idf: pl.DataFrame) -> None:
    """Parse and store every record's narrative terms once if the stored ones do not follow this model
    (a warehouse linked before terms were stored): a night then reads them, not the records' text."""
    if warehouse.scalar("select max(model_run_id) from link_narrative_terms_state") == model_run_id:
        return
    _set_scope(warehouse, {"cst": pl.Series(["*"]), "police": pl.Series(["*"])})
    texts = narrative_model(warehouse.query(_sql("cst_in_scope")), warehouse.query(_sql("police_in_scope")),
                            settings, idf=idf)
    _store_terms(warehouse, texts.term_rows(), model_run_id, replace_all=True)


def _full(
    warehouse: Warehouse, run_id: str, settings: dict, summary: LinkSummary, now: datetime, blocks: BlockRunner
) -> None:
    _set_scope(warehouse, {"cst": pl.Series(["*"]), "police": pl.Series(["*"])})
    cst = warehouse.query(_sql("cst_in_scope"))
    police = warehouse.query(_sql("police_in_scope"))
    decisions = _decisions(warehouse)
    stored_groups = police_incident_groups(police, settings)
    # Linked on short stand-ins of the keys (same order, so the same ties broken the same way);
    # the real keys come back for the kept pairs only.
    report_ids, crime_ids = _short_keys(cst["report_key"], "r"), _short_keys(police["crime_key"], "c")
    cst = _rekeyed(cst, "report_key", report_ids, "key", "short")
    police = _rekeyed(police, "crime_key", crime_ids, "key", "short")
    groups = _rekeyed(stored_groups, "crime_key", crime_ids, "key", "short")
    decisions = _pair_rekeyed(decisions, report_ids, crime_ids, "key", "short")
    texts = narrative_model(cst, police, settings)
    _store_terms(warehouse, _terms_rekeyed(texts.term_rows(), report_ids, crime_ids, "short", "key"), run_id,
                 replace_all=True)
    vectors, idf = comparison_vectors_chunked(cst, police, settings, texts=texts, blocks=blocks)
    del texts
    summary.changed_reports, summary.changed_crimes = cst.height, police.height
    police_status = police.select("crime_key", "force_id", "status")
    del cst, police  # a million narratives: not held through scoring and resolution
    reviewed = decisions.select(*PAIR_KEYS, (pl.col("decision") == "accept").cast(pl.Int64).alias("label"))
    model, _ = fitted_model(vectors, settings, reviewed, groups)
    _store_model(warehouse, run_id, settings, model, idf, decisions.height, now)
    summary.pairs_scored = vectors.height
    floors = _floors(vectors, report_ids, crime_ids)
    scored = score(vectors, model)
    del vectors
    resolved = resolved_pairs(
        scored.select(*PAIR_KEYS, "match_probability", "match_weight"), groups, police_status, decisions,
        settings["thresholds"],
    )
    # the stored columns of the kept pairs only (a few percent of those scored at a million
    # records), found by a 64-bit hash of the pair: a semi-join on the two string keys row-encodes
    # every scored pair; a collision only adds a row that the exact join below ignores
    pair = pl.col("report_key").hash() ^ pl.col("crime_key").hash()
    kept = scored.filter(pair.is_in(resolved.select(pair).to_series().implode()))
    del scored
    extras = _with_extras(kept, settings).drop("match_probability", "match_weight")
    resolved, extras = (_pair_rekeyed(frame, report_ids, crime_ids, "short", "key") for frame in (resolved, extras))
    warehouse.execute("delete from link_pairs")
    summary.pairs_written = _write_pairs(warehouse, resolved, extras, run_id, now)
    _write_groups(warehouse, stored_groups, now, replace_all=True)
    warehouse.execute(_sql("token_index_rebuild"))
    if uses_identity_blocking(settings["blocking_rules"]):
        warehouse.execute(_sql("identity_token_index_add"))
    _record_state(warehouse, run_id, None, None, floors)
    summary.model_run_id = run_id


def _near_windows(settings: dict) -> dict[str, int]:
    """Days a pair's dates can be apart under the narrow rules: `near` for the sector and district
    rules, `online` for the no-place rule (the SQL repeats blocking's date arithmetic exactly)."""

    def widest(rules: list[dict]) -> int:
        return max((abs(int(day)) for rule in rules for day in rule.get("window", [0, 0])), default=0)

    rules = settings["blocking_rules"]
    return {
        "near": widest([r for r in rules if r["kind"] == "place_date"
                        and set(r.get("keys", [])) & {"postcode_sector", "postcode_district"}]),
        "online": widest([r for r in rules if r["kind"] == "no_place"]),
    }


def _held_touching(warehouse: Warehouse, reports: pl.Series, crimes: pl.Series, groups: pl.Series) -> pl.DataFrame:
    _set_scope(warehouse, {"cst": reports, "police": crimes, "group": groups})
    return warehouse.query(_sql("held_pairs_touching"))


def _with_group(frame: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    return frame.join(groups, on="crime_key", how="left").with_columns(
        pl.coalesce("police_incident_id", pl.lit("pig_") + pl.col("crime_key")).alias("group_id")
    ).drop("police_incident_id")


def _strong(pairs: pl.DataFrame, review_t: float) -> pl.DataFrame:
    """Pairs that can be assigned (at or above the review threshold)."""
    return pairs.filter(pl.col("match_probability").fill_null(0.0) >= review_t)


def _unseen(series: pl.Series, *seen: pl.Series) -> pl.Series:
    out = series.drop_nulls().unique()
    for other in seen:
        out = out.filter(~out.is_in(other.implode()))
    return out


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
    blocks: BlockRunner,
) -> None:
    model = FittedModel.from_dict(json.loads(model_row["parameters_json"]))
    model_run_id = model_row["run_id"]
    idf = warehouse.query("select term, idf from link_model_idf where model_run_id = ? order by term", [model_run_id])
    review_t = float(settings["thresholds"]["review"])
    _ensure_stored_terms(warehouse, settings, model_run_id, idf)
    # 1. the records a night's changes can pair with: a place in common and dates within reach
    #    (equality joins in DuckDB: the work follows the night, not the warehouse), or a shared
    #    crime-number token
    _set_scope(warehouse, {"cst_changed": changed_reports, "police_changed": changed_crimes})
    near = warehouse.query(
        _sql("records_near_changes"),
        {"before": SCOPE_DAYS_BEFORE, "after": SCOPE_DAYS_AFTER, **_near_windows(settings),
         "max_range": int(settings.get("max_range_days", 31))},
    )
    police_scope = near.filter(pl.col("source") == "police")["record_key"]
    cst_scope = near.filter(pl.col("source") == "cst")["record_key"]
    _set_scope(warehouse, {"cst": changed_reports, "police": changed_crimes, "police_tokens": changed_crimes})
    changed_cst_rows = warehouse.query(_sql("cst_named"))
    changed_police_rows = _police_named(warehouse)
    # keep the token indexes current: a changed record's old tokens out, its latest version's in
    _set_scope(warehouse, {"cst_changed": changed_reports, "police_changed": changed_crimes})
    warehouse.execute(_sql("token_index_forget"))
    crime_refs = long_tokens(changed_police_rows, "crime_key", "crime_ref_tokens")
    cited_refs = long_tokens(changed_cst_rows, "report_key", "cited_crime_ref_tokens")
    cited, held_tokens = cited_refs["token"], crime_refs["token"]
    if not uses_identity_blocking(settings["blocking_rules"]):
        warehouse.insert("link_crime_tokens", crime_refs)
        warehouse.insert("link_cited_tokens", cited_refs)
    else:
        crime_identity = long_tokens(changed_police_rows, "crime_key", "identity_tokens")
        cited_identity = long_tokens(changed_cst_rows, "report_key", "identity_tokens")
        warehouse.insert("link_crime_tokens", pl.concat([crime_refs, crime_identity]))
        warehouse.insert("link_cited_tokens", pl.concat([cited_refs, cited_identity]))
        # a name or contact reaches the records that share it only where it is rare (the identity rule)
        _set_scope(warehouse, {}, pl.concat([crime_identity["token"], cited_identity["token"]]))
        frequency = warehouse.query(_sql("scope_token_frequency")).with_columns(pl.col("frequency").cast(pl.Int64))
        rare = identity_rule_tokens(frequency, settings["blocking_rules"])["token"].implode()
        cited = pl.concat([cited, cited_identity.filter(pl.col("token").is_in(rare))["token"]])
        held_tokens = pl.concat([held_tokens, crime_identity.filter(pl.col("token").is_in(rare))["token"]])
    _set_scope(warehouse, {}, cited)
    # the crimes whose tokens a pair can share: a changed report's cited ones, or a changed crime's own
    token_crimes = pl.concat([warehouse.query(_sql("crimes_sharing_tokens"))["crime_key"], changed_crimes])
    police_scope = pl.concat([police_scope, token_crimes])
    _set_scope(warehouse, {}, held_tokens)
    cst_scope = pl.concat([cst_scope, warehouse.query(_sql("reports_sharing_tokens"))["report_key"], changed_reports])
    decided = new_decisions
    cst_scope = pl.concat([cst_scope, decided["report_key"]]).unique()
    police_scope = pl.concat([police_scope, decided["crime_key"]]).unique()
    _set_scope(warehouse, {"cst": cst_scope, "police": police_scope, "police_tokens": token_crimes,
                           "cst_changed": changed_reports, "police_changed": changed_crimes})
    # blocking reads a few columns of every record in reach (a 100x night: 250k-370k of each
    # side); whole rows only of the records whose narratives tonight parses, and of the paired
    # ones after blocking (an identity blocking rule reads identity tokens: whole rows then)
    reach_only = not uses_identity_blocking(settings["blocking_rules"])
    cst = warehouse.query(_sql("cst_in_reach" if reach_only else "cst_named"))
    police = _police_named(warehouse, "police_in_reach" if reach_only else "police_named")
    known_terms = warehouse.query(_sql("narrative_terms_in_scope"))
    report_floors = warehouse.query(_sql("report_floors")) if len(changed_crimes) else None
    crime_floors = warehouse.query(_sql("crime_floors")) if len(changed_reports) else None
    if reach_only:
        cst = _whole_where_parsed(warehouse, cst, "cst", known_terms, changed_cst_rows)
        police = _whole_where_parsed(warehouse, police, "police", known_terms, changed_police_rows)
    # every pair touches a changed record, so the changed records' tokens are the only ones
    # whose frequency a pair's evidence or the crime-number rule can read
    _set_scope(warehouse, {}, pl.concat([cited, held_tokens]))
    token_frequency = warehouse.query(_sql("scope_token_frequency")).with_columns(pl.col("frequency").cast(pl.Int64))
    # 2. candidate pairs touching a changed record, scored with the stored model; compared on
    #    short stand-ins of the keys, as a full link is (a month-end night scores millions of pairs)
    report_ids, crime_ids = _short_keys(cst["report_key"], "r"), _short_keys(police["crime_key"], "c")
    cst = _rekeyed(cst, "report_key", report_ids, "key", "short")
    police = _rekeyed(police, "crime_key", crime_ids, "key", "short")
    texts = narrative_model(cst, police, settings, idf=idf,
                            known_terms=_terms_rekeyed(known_terms, report_ids, crime_ids, "key", "short"))
    del known_terms
    changed_reports_short = _series_rekeyed(changed_reports, report_ids, "key", "short")
    changed_crimes_short = _series_rekeyed(changed_crimes, crime_ids, "key", "short")
    # the changed records' terms, parsed tonight, stored for the nights that meet them again
    _store_terms(
        warehouse,
        _terms_rekeyed(texts.term_rows(only=pl.concat([changed_reports_short, changed_crimes_short])),
                       report_ids, crime_ids, "short", "key"),
        model_run_id, replace_all=False,
    )
    candidates = candidates_for(
        cst, police, settings, texts, changed_reports_short, changed_crimes_short, token_frequency,
        report_floors=None if report_floors is None else _rekeyed(report_floors, "report_key", report_ids, "key", "short"),
        crime_floors=None if crime_floors is None else _rekeyed(crime_floors, "crime_key", crime_ids, "key", "short"),
        blocks=blocks,
    )
    if reach_only:  # the paired records, whole, for their comparisons (the changed ones are in hand)
        paired_reports = _series_rekeyed(candidates.report_keys, report_ids, "short", "key")
        paired_crimes = _series_rekeyed(candidates.crime_keys, crime_ids, "short", "key")
        cst = _rekeyed(_whole_rows(warehouse, "cst", paired_reports, changed_cst_rows),
                       "report_key", report_ids, "key", "short")
        police = _rekeyed(_whole_rows(warehouse, "police", paired_crimes, changed_police_rows, crime_tokens=False),
                          "crime_key", crime_ids, "key", "short")
    vectors = vectors_for(candidates, cst, police, settings, texts)
    del candidates
    summary.pairs_scored = vectors.height
    floors = _floors(vectors, report_ids, crime_ids)
    new_pairs = _pair_rekeyed(_with_extras(score(vectors, model), settings), report_ids, crime_ids, "short", "key")
    del texts, vectors, cst, police
    # 3. incident groups: only the blocks (force, time range, report date) of a changed crime can change
    _set_scope(warehouse, {"police_changed": changed_crimes})
    _add_to_scope(warehouse, {"police_block": warehouse.query(_sql("crimes_in_changed_blocks"))["crime_key"]})
    block_police = warehouse.query(_sql("police_in_changed_blocks"))
    regrouped = (
        _write_groups(warehouse, police_incident_groups(block_police, settings), now, replace_all=False)
        if block_police.height
        else pl.Series("crime_key", [], dtype=pl.String)
    )
    # 4. the neighbourhood re-decided: the changed records' nodes (reports, and the incident
    #    groups of changed, regrouped or newly decided crimes) with all their pairs, then the
    #    direct competitors: every pair of a node those pairs can assign
    decision_crimes = pl.concat([decisions["crime_key"], decided["crime_key"]]).unique()
    _set_scope(warehouse, {"police": pl.concat([changed_crimes, regrouped, new_pairs["crime_key"], decision_crimes])})
    groups = warehouse.query(_sql("groups_of_crimes"))
    n1_reports = pl.concat([changed_reports, decided["report_key"]]).unique()
    n1_crimes = pl.concat([changed_crimes, regrouped, decided["crime_key"]]).unique()
    n1_groups = _with_group(pl.DataFrame({"crime_key": n1_crimes}), groups)["group_id"]
    held = _held_touching(warehouse, n1_reports, n1_crimes, n1_groups)
    old_groups = _unseen(held.filter(pl.col("crime_key").is_in(n1_crimes.implode()))["police_incident_id"], n1_groups)
    if len(old_groups):  # a regrouped crime's former group lost a member
        n1_groups = pl.concat([n1_groups, old_groups])
        held = pl.concat([held, _held_touching(warehouse, pl.Series([], dtype=pl.String),
                                               pl.Series([], dtype=pl.String), old_groups)]).unique(PAIR_KEYS)
    # a changed record's old pairs give way to its new ones (a cancelled crime's too: it is compared as any other)
    replaced = held.filter(
        pl.col("report_key").is_in(changed_reports.implode()) | pl.col("crime_key").is_in(changed_crimes.implode())
    ).select(PAIR_KEYS)
    fresh = _with_group(new_pairs, groups).rename({"match_probability": "pair_probability"})
    first = pl.concat(
        [fresh, held.join(replaced, on=PAIR_KEYS, how="anti").select(fresh.columns)], how="vertical_relaxed"
    ).unique(PAIR_KEYS, keep="first")
    strong = _strong(first.rename({"pair_probability": "match_probability"}), review_t)
    n2_reports = _unseen(strong["report_key"], n1_reports)
    n2_groups = _unseen(strong["group_id"], n1_groups)
    competitors = _held_touching(warehouse, n2_reports, pl.Series([], dtype=pl.String), n2_groups)
    held = pl.concat([held, competitors]).unique(PAIR_KEYS)
    scope = pl.concat(
        [first, competitors.join(first.select(PAIR_KEYS), on=PAIR_KEYS, how="anti").select(fresh.columns)],
        how="vertical_relaxed",
    )
    inner_reports = pl.concat([n1_reports, n2_reports])
    inner_groups = pl.concat([n1_groups, n2_groups])
    # 5. the boundary: a competitor's report or group assigned outside the neighbourhood stays so
    edges = _strong(scope.rename({"pair_probability": "match_probability"}), review_t)
    outer_reports = _unseen(edges["report_key"], inner_reports)
    outer_groups = _unseen(edges["group_id"], inner_groups)
    taken = (
        _held_touching(warehouse, outer_reports, pl.Series([], dtype=pl.String), outer_groups)
        # an assignment to a cancelled crime holds its report too
        .filter(pl.col("status").is_in(["matched", "review"]) | (pl.col("reason") == "cancelled"))
        .join(scope.select(PAIR_KEYS), on=PAIR_KEYS, how="anti")
        .select("report_key", pl.col("group_id").alias("police_incident_id"))
        .unique()
        if len(outer_reports) or len(outer_groups)
        else None
    )
    # 6. resolve the neighbourhood; decisions on its nodes' pairs count
    decision_groups = _with_group(decisions.select("crime_key").unique(), groups)
    scope_decisions = decisions.join(decision_groups, on="crime_key", how="left").filter(
        pl.col("report_key").is_in(inner_reports.implode()) | pl.col("group_id").is_in(inner_groups.implode())
        | pl.col("crime_key").is_in(scope["crime_key"].implode())
    ).select(decisions.columns)
    crimes = pl.concat([scope["crime_key"], scope_decisions["crime_key"]]).unique()
    _set_scope(warehouse, {"police": crimes})
    status = warehouse.query(_sql("police_status_of_pairs"))
    group_map = pl.concat([
        scope.select("crime_key", pl.col("group_id").alias("police_incident_id")),
        decision_groups.select("crime_key", pl.col("group_id").alias("police_incident_id")),
    ]).unique("crime_key")
    resolved = resolved_pairs(
        scope.select(*PAIR_KEYS, pl.col("pair_probability").alias("match_probability"), "match_weight"),
        group_map, status, scope_decisions, settings["thresholds"], taken,
    )
    # 7. write only what changed: new or re-decided rows, and rows no longer held
    summary.pairs_written = _write_changes(warehouse, resolved, scope, held, replaced, model_run_id, now)
    _record_state(warehouse, run_id, changed_reports, changed_crimes, floors)
    summary.model_run_id = model_run_id


def _write_changes(
    warehouse: Warehouse, resolved: pl.DataFrame, scope: pl.DataFrame, held: pl.DataFrame,
    replaced: pl.DataFrame, model_run_id: str, now: datetime,
) -> int:
    """Replace the rows of `held` (and `replaced`) that resolution changed or dropped; insert new ones."""
    compared = [c for c in RESOLVED_COLUMNS if c not in (*PAIR_KEYS, "force_id")]
    before = held.rename({"held_probability": "match_probability"}).select(*PAIR_KEYS, *compared)
    after = resolved.select(*PAIR_KEYS, *compared)
    same = after.join(before.select(after.columns), on=after.columns, how="semi", nulls_equal=True)
    changed = resolved.join(same.select(PAIR_KEYS), on=PAIR_KEYS, how="anti")
    gone = pl.concat([before.select(PAIR_KEYS), replaced]).unique().join(resolved.select(PAIR_KEYS), on=PAIR_KEYS,
                                                                         how="anti")
    drop = pl.concat([changed.select(PAIR_KEYS), gone])
    if drop.height:
        warehouse.replace_temp("link_scope_pairs", drop.select(PAIR_KEYS))
        warehouse.execute(
            "delete from link_pairs using link_scope_pairs s "
            "where link_pairs.report_key = s.report_key and link_pairs.crime_key = s.crime_key"
        )
    extras = scope.drop("pair_probability", "match_weight", "group_id")
    return _write_pairs(warehouse, changed, extras, model_run_id, now)


def link_warehouse(
    warehouse: Warehouse,
    run_id: str,
    full: bool = False,
    settings: dict | None = None,
    now: datetime | None = None,
    blocks: BlockRunner = IN_TURN,
) -> LinkSummary:
    """Link new and changed records (or everything); call inside the run's transaction.
    `blocks` runs the per-block work (`transforms/blocks.py`; `TaskRunnerBlocks` in a flow)."""
    started = time.perf_counter()
    settings = settings or linkage_settings()
    now = now or datetime.now()
    summary = LinkSummary(run_id, "full" if full else "incremental")
    latest = warehouse.query(_sql("latest_model_run"))
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
        _full(warehouse, run_id, settings, summary, now, blocks)
    else:
        since = {"linked_through": warehouse.scalar(_sql("linked_through"))}
        changed_reports = warehouse.query(_sql("changed_reports"), since)["report_key"]
        changed_crimes = warehouse.query(_sql("changed_crimes"), since)["crime_key"]
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
                decisions, new_decisions, summary, now, blocks,
            )
    counts = dict(warehouse.query("select status, count(*) as n from link_pairs group by status").iter_rows())
    summary.matched, summary.review = int(counts.get("matched", 0)), int(counts.get("review", 0))
    summary.seconds = time.perf_counter() - started
    _log(warehouse, summary, now + timedelta(microseconds=1))
    return summary


class Shared:
    """What every block of one map reads, as its tasks take it: an object Prefect does not look
    inside for futures (it walks the collections and dataclasses among a task's parameters)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


@task(cache_policy=NO_CACHE, task_run_name="link-block-{number}")
def link_block(job: Callable[..., Any], number: int, shared: Shared | None = None) -> Any:
    """One block of the linkage's per-block work (Prefect task; `number`: its place in the run's
    order; `shared`: what every block reads, when the work has such a thing)."""
    del number  # names the task run only
    return job() if shared is None else job(shared=shared.value)


@dataclass(frozen=True)
class TaskRunnerBlocks:
    """A `BlockRunner` that submits each block as a `link_block` task to the flow's task runner
    (threads of this process, or a Dask cluster: `[execution]` in incidents.toml), at most
    `width` in flight: each holds its own intermediates (a full link's date chunks outnumber
    the workers). Outside a flow run, or for a single block, the blocks run in turn here."""

    width: int

    def map(self, function: Callable[..., Any], blocks: Sequence[Any], shared: Any = None) -> list[Any]:
        if len(blocks) <= 1 or FlowRunContext.get() is None:
            return IN_TURN.map(function, blocks, shared)
        # a block travels as one callable: Prefect looks inside collections and dataclasses
        # among a task's parameters for futures, and a block's arrays are neither
        jobs = [partial(call, function, block) for block in blocks]
        return contextvars.copy_context().run(_run_as_the_flows, jobs, max(1, self.width), shared)


def _sent_once(shared: Any) -> Shared | Future | None:
    """`shared` as the blocks' tasks take it. A Dask cluster gets it once, scattered (each worker
    that runs a block fetches it once and keeps it while this map runs; without this, a full
    link's every date chunk carried all the staging rows and narrative terms to its worker);
    threads of this process take the object itself."""
    if shared is None:
        return None
    runner = FlowRunContext.get().task_runner
    # a Dask runner has imported prefect_dask; importing it here would put distributed's import
    # (about a second) on every threaded run
    if "prefect_dask" in sys.modules:
        from prefect_dask import DaskTaskRunner

        if isinstance(runner, DaskTaskRunner):
            return runner.client.scatter(Shared(shared), hash=False)
    return Shared(shared)


def _run_as_the_flows(jobs: list[Callable[..., Any]], in_flight: int, shared: Any = None) -> list[Any]:
    """The results of `jobs`, in order, run as `link_block` tasks, at most `in_flight` at once.

    Submitted with no task run in context (the caller runs this in a copied context): a task
    runner sends the submitting task's context along, parameters included, and link_records'
    warehouse connection cannot travel to a Dask worker.
    """
    TaskRunContext.__var__.set(None)
    sent = _sent_once(shared)  # held until every block is done: a scattered copy lives as long
    results: list[Any] = []
    pending: deque[Any] = deque()
    for number, job in enumerate(jobs):
        if len(pending) == in_flight:
            results.append(pending.popleft().result())
        pending.append(link_block.submit(job, number, sent))
    results.extend(future.result() for future in pending)
    return results


@task(cache_policy=NO_CACHE)
def link_records(warehouse: Warehouse, settings: Settings, run_id: str, full: bool = False) -> LinkSummary:
    """The nightly linkage step (Prefect task): new and changed records, or all when retraining.

    The linkage model lives in transforms/linkage_settings.json, not incidents.toml; from
    `settings` this reads where the per-block work runs (`[execution]`)."""
    return link_warehouse(warehouse, run_id, full=full, blocks=TaskRunnerBlocks(link_block_width(settings)))
