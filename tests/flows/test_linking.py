"""The linkage step against a real DuckDB warehouse: incremental nights, corrections, cancellations, reviews."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import sparse
from scipy.sparse.csgraph import connected_components

import flows.linking as linking
from benchmarks.linkage import prepared_data
from benchmarks.linkage_data import pairwise_quality, truth_pairs
from flows.commands.review import record_decision
from flows.linking import _rekeyed, _short_keys, link_records, link_warehouse
from transforms.linkage import (
    CST_BLOCKING_COLUMNS,
    POLICE_BLOCKING_COLUMNS,
    linkage_settings,
    narrative_model,
)
from warehouse.run import Warehouse

PAIRS = ["report_key", "crime_key"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return prepared_data(tmp_path_factory.mktemp("linking"), incidents=1500, seed=3, density=1.0)


@pytest.fixture(scope="module")
def night(data: Path) -> list[int]:
    files = pl.read_parquet(data / "files.parquet")
    return files.filter(pl.col("day") == files["day"].max())["ingest_seq"].to_list()


def warehouse_with(path: Path, data: Path, exclude: list[int] | None = None, only: list[int] | None = None) -> Warehouse:
    warehouse = Warehouse(path)
    warehouse.migrate()
    for table, name in (("stg_cst_report_versions", "cst_v"), ("stg_police_crime_versions", "police_v")):
        versions = pl.read_parquet(data / f"{name}.parquet")
        if exclude:
            versions = versions.filter(~pl.col("ingest_seq").is_in(exclude))
        if only is not None:
            versions = versions.filter(pl.col("ingest_seq").is_in(only))
        with warehouse.transaction():
            warehouse.insert(table, versions)
    return warehouse


def link(warehouse: Warehouse, run_id: str, full: bool = False, settings: dict | None = None):
    with warehouse.transaction():
        return link_warehouse(warehouse, run_id, full=full, settings=settings)


def pairs(warehouse: Warehouse) -> pl.DataFrame:
    return warehouse.query("select * from link_pairs order by report_key, crime_key")


def changed_rows(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    columns = [*PAIRS, "status", "match_probability"]
    joined = before.select(columns).join(after.select(columns), on=PAIRS, how="full", coalesce=True)
    return joined.filter(
        (pl.col("status") != pl.col("status_right"))
        | pl.col("status").is_null()
        | pl.col("status_right").is_null()
        | ((pl.col("match_probability") - pl.col("match_probability_right")).abs() > 1e-9)
    )


def floors(warehouse: Warehouse, source: str = "cst") -> dict[str, float]:
    """report_key (or crime_key, source 'police') -> narrative floor, as link_record_state holds them."""
    return dict(warehouse.query(
        "select record_key, no_place_floor from link_record_state where source = ? and no_place_floor is not null",
        [source],
    ).iter_rows())


def components(pairs: pl.DataFrame, min_probability: float) -> pl.DataFrame:
    """Connected components of the (report, group) graph over edges at or above `min_probability`
    (or decided): report_key/police_incident_id -> component id, as `node`, `component`.

    The oracle of the locality test below (the incremental night itself re-decides a
    neighbourhood, not whole components)."""
    edges = pairs.filter(pl.col("match_probability").fill_null(1.0) >= min_probability)
    reports = edges.get_column("report_key").unique().sort()
    group_ids = edges.get_column("police_incident_id").unique().sort()
    r_index = pl.DataFrame({"report_key": reports, "r": np.arange(len(reports), dtype=np.int64)})
    g_index = pl.DataFrame({"police_incident_id": group_ids, "g": np.arange(len(group_ids), dtype=np.int64) + len(reports)})
    indexed = edges.join(r_index, on="report_key").join(g_index, on="police_incident_id")
    n = len(reports) + len(group_ids)
    if n == 0:
        return pl.DataFrame(schema={"node": pl.String, "component": pl.Int64})
    graph = sparse.coo_matrix(
        (np.ones(indexed.height), (indexed["r"].to_numpy(), indexed["g"].to_numpy())), shape=(n, n)
    )
    _, labels = connected_components(graph, directed=False)
    nodes = pl.concat([reports, group_ids])
    return pl.DataFrame({"node": nodes, "component": labels.astype(np.int64)})


def assert_only_touched_components_changed(after: pl.DataFrame, changed: pl.DataFrame, touched: set[str]) -> None:
    """Every changed pair lies in a component of the (report, group) graph holding a touched record."""
    graph = after.select(*PAIRS, "police_incident_id", "match_probability")
    labels = dict(components(graph, 0.3).iter_rows())
    touched_groups = set(after.filter(pl.col("crime_key").is_in(list(touched)))["police_incident_id"].to_list())
    touched_components = {labels[n] for n in touched | touched_groups if n in labels}
    groups = dict(after.select("crime_key", "police_incident_id").unique().iter_rows())
    for report, crime in changed.select(PAIRS).iter_rows():
        if report in touched or crime in touched:
            continue
        component = labels.get(report, labels.get(groups.get(crime)))
        assert component in touched_components, (report, crime)


def test_full_link_then_a_night_without_changes_changes_nothing(tmp_path, data):
    with warehouse_with(tmp_path / "w.duckdb", data) as warehouse:
        first = link(warehouse, "r1")
        assert first.mode == "full" and first.matched > 0
        before = pairs(warehouse)
        again = link(warehouse, "r2")
        assert again.mode == "unchanged" and again.pairs_scored == 0
        assert_frame_equal(before, pairs(warehouse))
        runs = warehouse.query("select mode from link_runs order by finished_at")["mode"].to_list()
        assert runs == ["full", "unchanged"]
        model = warehouse.query("select method, settings_json, parameters_json from link_model_runs").row(0, named=True)
        assert model["method"] == "ecm" and "comparisons" in model["parameters_json"]


def test_one_new_day_is_linked_incrementally_and_nothing_else_moves(tmp_path, data, night):
    with warehouse_with(tmp_path / "w.duckdb", data, exclude=night) as warehouse:
        link(warehouse, "before")
        before = pairs(warehouse)
        new_reports = set(pl.read_parquet(data / "cst_v.parquet").filter(pl.col("ingest_seq").is_in(night))["report_key"])
        new_crimes = set(pl.read_parquet(data / "police_v.parquet").filter(pl.col("ingest_seq").is_in(night))["crime_key"])
        for table, name in (("stg_cst_report_versions", "cst_v"), ("stg_police_crime_versions", "police_v")):
            with warehouse.transaction():
                warehouse.insert(table, pl.read_parquet(data / f"{name}.parquet").filter(pl.col("ingest_seq").is_in(night)))
        summary = link(warehouse, "night")
        assert summary.mode == "incremental"
        assert summary.changed_reports + summary.changed_crimes == len(new_reports | new_crimes)
        after = pairs(warehouse)
        assert_only_touched_components_changed(after, changed_rows(before, after), new_reports | new_crimes)
        assert link(warehouse, "again").mode == "unchanged"
    # the same as linking everything at once, with the same model
    with warehouse_with(tmp_path / "all.duckdb", data) as everything:
        link(everything, "all")
        full = pairs(everything).select(*PAIRS, "status")
    agree = full.join(after.select(*PAIRS, "status"), on=PAIRS, how="inner").filter(
        pl.col("status") == pl.col("status_right")
    ).height
    assert agree / full.filter(pl.col("status") != "rejected").height > 0.97


def test_a_nights_records_get_narrative_floors_and_the_others_keep_theirs(tmp_path, data):
    # the night: the newest file of every source, so that both reports and crimes arrive
    files = pl.read_parquet(data / "files.parquet").with_columns(pl.col("key").str.split("/").list.get(-2).alias("sender"))
    night = files.group_by("sender").agg(pl.col("ingest_seq").max())["ingest_seq"].to_list()
    settings = linkage_settings()
    for rule in settings["blocking_rules"]:
        if rule["kind"] == "no_place":
            # small data: few reports meet ten crimes in a day, few crimes ten reports
            rule["narrative_top_k"] = rule["narrative_top_k_crime"] = 2
    with warehouse_with(tmp_path / "w.duckdb", data, exclude=night) as warehouse:
        link(warehouse, "before", settings=settings)
        before = {source: floors(warehouse, source) for source in ("cst", "police")}
        # records that met k of the other side under the no_place rule have a narrative floor
        assert before["cst"] and before["police"]
        new_keys = {
            "cst": set(pl.read_parquet(data / "cst_v.parquet").filter(pl.col("ingest_seq").is_in(night))["report_key"]),
            "police": set(pl.read_parquet(data / "police_v.parquet").filter(pl.col("ingest_seq").is_in(night))["crime_key"]),
        }
        for table, name in (("stg_cst_report_versions", "cst_v"), ("stg_police_crime_versions", "police_v")):
            with warehouse.transaction():
                warehouse.insert(table, pl.read_parquet(data / f"{name}.parquet").filter(pl.col("ingest_seq").is_in(night)))
        assert link(warehouse, "night", settings=settings).mode == "incremental"
        after = {source: floors(warehouse, source) for source in ("cst", "police")}
    for source in ("cst", "police"):
        assert {key for key in after[source] if key in new_keys[source]}, source
        kept = {key: f for key, f in before[source].items() if key not in new_keys[source]}
        assert {key: f for key, f in after[source].items() if key not in new_keys[source]} == kept, source


def test_a_nights_crimes_reach_every_report_a_blocking_rule_can_pair_them_with(tmp_path, data):
    """records_near_changes' reports, against the rules' windows written out pair by pair for
    every version of the changed crimes (the query reads every version: a superset of the latest)."""
    settings = linkage_settings()
    windows = linking._near_windows(settings)
    with warehouse_with(tmp_path / "w.duckdb", data) as warehouse:
        police = warehouse.query(
            "select * from stg_police_crime_versions where occurred_from is not null order by crime_key, ingest_seq"
        )
        changed = police["crime_key"].unique().sort().sample(n=150, seed=7)
        linking._set_scope(warehouse, {"cst_changed": pl.Series([], dtype=pl.String), "police_changed": changed})
        reach = warehouse.query(linking._sql("records_near_changes"), {
            "before": linking.SCOPE_DAYS_BEFORE, "after": linking.SCOPE_DAYS_AFTER, **windows,
            "max_range": int(settings.get("max_range_days", 31)),
        })
        cst = warehouse.query("select * from stg_cst_report_versions where incident_date is not null")
    crimes = police.filter(pl.col("crime_key").is_in(changed.implode())).select(
        pl.col("occurred_from").dt.date().alias("f"),
        pl.min_horizontal(
            pl.coalesce("occurred_to", "occurred_from").dt.date(),
            pl.col("occurred_from").dt.date() + pl.duration(days=int(settings.get("max_range_days", 31))),
        ).alias("t"),
        "postcode_unit_key", "street", "postcode_district", pl.col("force_id").alias("crime_force"),
    )
    every_pair = cst.join(crimes, how="cross")
    d, f, t = pl.col("incident_date"), pl.col("f"), pl.col("t")

    def within(before: int, after: int) -> pl.Expr:
        return (f <= d + pl.duration(days=after)) & (t >= d - pl.duration(days=before))

    no_district = pl.col("postcode_district").is_null() | pl.col("postcode_district_right").is_null()
    same_force = (pl.col("force_id") == pl.col("crime_force")) | pl.col("force_id").fill_null("unknown").eq("unknown")
    expected = every_pair.filter(
        ((pl.col("postcode_unit_key") == pl.col("postcode_unit_key_right"))
         | (pl.col("street") == pl.col("street_right")))
        & within(linking.SCOPE_DAYS_BEFORE, linking.SCOPE_DAYS_AFTER)
        | (pl.col("postcode_district") == pl.col("postcode_district_right")) & within(windows["near"], windows["near"])
        | no_district & same_force & within(windows["online"], windows["online"])
    )["report_key"].unique()
    found = reach.filter(pl.col("source") == "cst")["record_key"]
    assert expected.len() > 100 and cst["force_id"].is_in(["unknown"]).any()
    assert set(found.to_list()) == set(expected.to_list())


def stored_terms(warehouse: Warehouse) -> pl.DataFrame:
    return warehouse.query("select * from link_narrative_terms")


def parsed_terms(warehouse: Warehouse) -> pl.DataFrame:
    """Every record's terms parsed afresh from its latest version (what the store must hold)."""
    cst = warehouse.query("select * from stg_cst_reports order by report_key")
    police = warehouse.query("select * from stg_police_crimes order by crime_key")
    return narrative_model(cst, police, linkage_settings()).term_rows()


def test_stored_narrative_terms_follow_every_night_and_a_night_reads_them(tmp_path, data, night, monkeypatch):
    with warehouse_with(tmp_path / "w.duckdb", data, exclude=night) as warehouse:
        link(warehouse, "before")
        assert_frame_equal(stored_terms(warehouse), parsed_terms(warehouse), check_row_order=False)
        for table, name in (("stg_cst_report_versions", "cst_v"), ("stg_police_crime_versions", "police_v")):
            with warehouse.transaction():
                warehouse.insert(table, pl.read_parquet(data / f"{name}.parquet").filter(pl.col("ingest_seq").is_in(night)))
        # a correction: a crime's summary rewritten (its old terms must go)
        crime = warehouse.query("select crime_key from stg_police_crimes where summary_redacted is not null limit 1")
        corrected = _new_version(data, crime.item(), summary_redacted="ANTISEMITIC GRAFFITI SPRAYED ON THE BUS SHELTER")
        with warehouse.transaction():
            warehouse.insert("stg_police_crime_versions", corrected)
        # a night reads the unchanged records' terms: their text is not parsed again
        parsed_counts: list[tuple[int, int]] = []
        real = linking.narrative_model

        def counting(cst, police, settings, idf=None, known_terms=None):
            known = set() if known_terms is None else set(known_terms["record_key"])
            parsed_counts.append((sum(k not in known for k in cst["report_key"]),
                                  sum(k not in known for k in police["crime_key"])))
            return real(cst, police, settings, idf=idf, known_terms=known_terms)

        monkeypatch.setattr(linking, "narrative_model", counting)
        summary = link(warehouse, "night")
        assert summary.mode == "incremental"
        assert parsed_counts and parsed_counts[-1][0] <= summary.changed_reports
        assert parsed_counts[-1][1] <= summary.changed_crimes
        assert_frame_equal(stored_terms(warehouse), parsed_terms(warehouse), check_row_order=False)


def test_a_night_stores_every_records_terms_when_none_follow_the_model(tmp_path, data, night):
    # a warehouse linked before terms were stored (or under another model): the next night parses
    # every record once, stores the terms, and links as it would have
    with warehouse_with(tmp_path / "a.duckdb", data, exclude=night) as a, \
            warehouse_with(tmp_path / "b.duckdb", data, exclude=night) as b:
        for warehouse in (a, b):
            link(warehouse, "before")
        with b.transaction():
            b.execute("delete from link_narrative_terms")
            b.execute("delete from link_narrative_terms_state")
        for warehouse in (a, b):
            for table, name in (("stg_cst_report_versions", "cst_v"), ("stg_police_crime_versions", "police_v")):
                with warehouse.transaction():
                    warehouse.insert(table, pl.read_parquet(data / f"{name}.parquet").filter(pl.col("ingest_seq").is_in(night)))
            assert link(warehouse, "night").mode == "incremental"
        assert b.scalar("select model_run_id from link_narrative_terms_state") == "before"
        assert_frame_equal(stored_terms(b), parsed_terms(b), check_row_order=False)
        columns = [*PAIRS, "status", "match_probability", "narrative_cosine"]
        assert_frame_equal(pairs(a).select(columns), pairs(b).select(columns))


def test_a_night_reading_only_blocking_columns_in_reach_links_as_one_reading_whole_rows(tmp_path, data, monkeypatch):
    # twin warehouses and nights; one reads every record in reach whole (the in-reach queries
    # swapped for the whole-row ones): the same pairs, probabilities and comparison levels
    whole_rows = {"cst_in_reach": "cst_named", "police_in_reach": "police_named"}
    sql = linking._sql
    files = pl.read_parquet(data / "files.parquet")
    night = files.filter(pl.col("day") > files["day"].max() - timedelta(days=20))["ingest_seq"].to_list()
    twins = {}
    for name in ("in_reach", "whole"):
        with warehouse_with(tmp_path / f"{name}.duckdb", data, exclude=night) as warehouse:
            link(warehouse, "before")
            for table, versions in (("stg_cst_report_versions", "cst_v"), ("stg_police_crime_versions", "police_v")):
                with warehouse.transaction():
                    warehouse.insert(table, pl.read_parquet(data / f"{versions}.parquet").filter(
                        pl.col("ingest_seq").is_in(night)))
            if name == "whole":
                monkeypatch.setattr(linking, "_sql", lambda file: sql(whole_rows.get(file, file)))
            summary = link(warehouse, "night")
            monkeypatch.undo()
            assert summary.mode == "incremental" and summary.pairs_scored > 100
            assert summary.changed_reports > 0 and summary.changed_crimes > 0
            twins[name] = pairs(warehouse).select(
                *PAIRS, "status", "match_probability", "levels", "narrative_cosine", "offender_jaccard")
    assert_frame_equal(twins["in_reach"], twins["whole"])


def test_the_in_reach_queries_read_the_columns_blocking_reads(tmp_path, data):
    with warehouse_with(tmp_path / "w.duckdb", data) as warehouse:
        reports = warehouse.query("select report_key from stg_cst_reports limit 50")["report_key"]
        crimes = warehouse.query("select crime_key from stg_police_crimes limit 50")["crime_key"]
        linking._set_scope(warehouse, {"cst": reports, "police": crimes, "police_tokens": crimes})
        cst = warehouse.query(linking._sql("cst_in_reach"))
        police = linking._police_named(warehouse, "police_in_reach")
    assert cst.height == police.height == 50
    assert tuple(cst.columns) == CST_BLOCKING_COLUMNS and tuple(police.columns) == POLICE_BLOCKING_COLUMNS


def _new_version(data: Path, crime_key: str, **changes) -> pl.DataFrame:
    versions = pl.read_parquet(data / "police_v.parquet")
    latest = versions.filter(pl.col("crime_key") == crime_key).sort("ingest_seq").tail(1)
    return latest.with_columns(
        pl.lit("f" * 64).alias("file_hash"), pl.lit(versions["ingest_seq"].max() + 1).alias("ingest_seq"),
        *[pl.lit(v).alias(k) for k, v in changes.items()],
    )


def test_a_correction_reopens_exactly_the_pairs_it_affects(tmp_path, data):
    with warehouse_with(tmp_path / "w.duckdb", data) as warehouse:
        link(warehouse, "r1")
        before = pairs(warehouse)
        crime = before.filter(pl.col("status") == "matched")["crime_key"][0]
        with warehouse.transaction():
            warehouse.insert("stg_police_crime_versions", _new_version(data, crime, offence_code="58A",
                                                                       offence_category="Damage & Desecration"))
        summary = link(warehouse, "correction")
        assert (summary.mode, summary.changed_crimes, summary.changed_reports) == ("incremental", 1, 0)
        after = pairs(warehouse)
        assert_only_touched_components_changed(after, changed_rows(before, after), {crime})


def test_a_cancellation_voids_the_crimes_pairs(tmp_path, data):
    with warehouse_with(tmp_path / "w.duckdb", data) as warehouse:
        link(warehouse, "r1")
        matched = pairs(warehouse).filter(pl.col("status") == "matched")
        crime = matched["crime_key"][1]
        with warehouse.transaction():
            warehouse.insert("stg_police_crime_versions", _new_version(data, crime, status="cancelled"))
        link(warehouse, "cancel")
        after = pairs(warehouse)
        its = after.filter(pl.col("crime_key") == crime)
        assert its.height >= 1
        assert set(its["status"]) == {"rejected"}
        # its report stays that incident's: the pair is void, and the report takes no other crime
        report = matched["report_key"][1]
        assert its.filter(pl.col("report_key") == report)["reason"].to_list() == ["cancelled"]
        before_crimes = set(matched.filter(pl.col("report_key") == report)["crime_key"]) - {crime}
        now_crimes = set(after.filter((pl.col("report_key") == report) & (pl.col("status") == "matched"))["crime_key"])
        assert now_crimes <= before_crimes


def test_a_night_reaches_an_old_crime_through_a_shared_name_alone(tmp_path, data):
    settings = linkage_settings()
    settings["blocking_rules"] += settings["optional_blocking_rules"]  # the identity rule, off by default
    with warehouse_with(tmp_path / "w.duckdb", data) as warehouse:
        link(warehouse, "r1", settings=settings)
        named = warehouse.query("select p.crime_key, p.occurred_from, l.report_key from link_pairs l join stg_police_crimes p using (crime_key) "
            "where l.status = 'matched' and list_has_any(list_filter(p.identity_tokens, lambda t: t like 'w:%'), "
            "(select identity_tokens from stg_cst_reports c where c.report_key = l.report_key)) "
            "order by p.crime_key limit 1",
        ).row(0, named=True)
        cst = pl.read_parquet(data / "cst_v.parquet")
        # its report told again, online a week later: no place, only the name leads to the crime
        report = cst.filter(pl.col("report_key") == named["report_key"]).tail(1).with_columns(
            pl.lit("new-report").alias("report_key"), pl.lit("e" * 64).alias("file_hash"),
            pl.lit(cst["ingest_seq"].max() + 1).alias("ingest_seq"),
            pl.lit(named["occurred_from"].date() + timedelta(days=8)).alias("incident_date"),
            pl.lit(None, dtype=pl.List(pl.String)).alias("cited_crime_ref_tokens"),
            *[pl.lit(None, dtype=pl.String).alias(c) for c in
              ("street", "postcode_unit_key", "postcode_sector", "postcode_district", "postcode_area")],
        )
        with warehouse.transaction():
            warehouse.insert("stg_cst_report_versions", report)
        assert link(warehouse, "night", settings=settings).mode == "incremental"
        night = pairs(warehouse).filter(pl.col("report_key") == "new-report").select(*PAIRS, "rule")
        assert (named["crime_key"], "identity") in list(night.select("crime_key", "rule").iter_rows())
        link(warehouse, "full", full=True, settings=settings)
        full = pairs(warehouse).filter(pl.col("report_key") == "new-report").select(*PAIRS, "rule")
        assert_frame_equal(night, full)


def test_review_decisions_win_survive_relinking_and_train_the_supervised_model(tmp_path, data):
    truth = truth_pairs(data / "truth", pl.read_parquet(data / "refs.parquet"), pl.read_parquet(data / "police.parquet"))
    with warehouse_with(tmp_path / "w.duckdb", data) as warehouse:
        link(warehouse, "r1")
        held = pairs(warehouse)
        accept = held.filter((pl.col("status") == "rejected") & (pl.col("reason").is_null())).row(0, named=True)
        reject = held.filter(pl.col("status") == "matched").row(0, named=True)
        with warehouse.transaction():
            record_decision(warehouse, accept, "accept", "tester", None, datetime(2030, 1, 1))
            record_decision(warehouse, reject, "reject", "tester", None, datetime(2030, 1, 1))
        link(warehouse, "after-review")

        def status(row: dict) -> tuple[str, str]:
            return pairs(warehouse).filter(
                (pl.col("report_key") == row["report_key"]) & (pl.col("crime_key") == row["crime_key"])
            ).select("status", "decided_by").row(0)

        assert status(accept) == ("matched", "review")
        assert status(reject) == ("rejected", "review")
        # the accepted pair's crime is taken: no other report is matched to it
        others = pairs(warehouse).filter((pl.col("crime_key") == accept["crime_key"]) & (pl.col("status") == "matched"))
        assert others.height == 1
        link(warehouse, "retrain", full=True)
        assert status(accept) == ("matched", "review") and status(reject) == ("rejected", "review")
        # enough reviewed pairs (here: decided from the ground truth) switch training to logistic regression
        labelled = pairs(warehouse).join(truth.with_columns(pl.lit(True).alias("true")), on=PAIRS, how="left")
        picks = pl.concat([
            labelled.filter(pl.col("true").fill_null(False) & (pl.col("status") == "matched")).head(25),
            labelled.filter(pl.col("true").is_null()).head(15),
        ])
        with warehouse.transaction():
            for row in picks.iter_rows(named=True):
                record_decision(warehouse, row, "accept" if row["true"] else "reject", "tester", None, datetime(2030, 1, 2))
        summary = link(warehouse, "supervised")
        assert summary.mode == "full"
        method = warehouse.query("select method from link_model_runs order by created_at desc limit 1").item()
        assert method == "logistic_regression"
        quality = pairwise_quality(pairs(warehouse).filter(pl.col("status") == "matched"), truth)
        assert quality["f1"] > 0.93


def test_blocks_in_flight_never_outnumber_the_width_and_come_back_in_order(monkeypatch):
    # each block in flight holds its own intermediates: a full link's many date chunks wait
    # their turn instead of all being handed to the task runner at once
    in_flight = {"now": 0, "most": 0}

    class Finished:
        def __init__(self, value: int) -> None:
            self.value = value

        def result(self) -> int:
            in_flight["now"] -= 1
            return self.value

    def submit(job, number, shared=None):
        assert shared is None  # nothing shared here: none sent
        in_flight["now"] += 1
        in_flight["most"] = max(in_flight["most"], in_flight["now"])
        return Finished(job())

    monkeypatch.setattr(linking.link_block, "submit", submit)
    results = linking._run_as_the_flows([lambda n=n: n * 10 for n in range(7)], 3)
    assert results == [0, 10, 20, 30, 40, 50, 60]
    assert in_flight == {"now": 0, "most": 3}


def stored_links(warehouse: Warehouse) -> pl.DataFrame:
    return warehouse.query(
        "select report_key, crime_key, status, match_probability, rule from link_pairs order by all"
    )


def test_the_prefect_task_runs_its_blocks_as_tasks_of_the_flow_and_links_as_in_turn(tmp_path, data, night,
                                                                                      monkeypatch):
    # a full link, then a night of new records, in a real flow run: the work cut into blocks
    # submitted as link_block tasks to the flow's thread pool links exactly what the same step
    # does with its blocks in turn outside a flow
    from prefect import flow
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.config import ExecutionConfig, Settings

    submitted: list[int] = []
    shared_with: list[object] = []
    submit = linking.link_block.submit

    def recording_submit(job, number, shared=None):
        submitted.append(number)
        shared_with.append(shared)
        return submit(job, number, shared)

    monkeypatch.setattr(linking.link_block, "submit", recording_submit)
    settings = Settings(execution=ExecutionConfig(link_blocks=3))

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def linking_flow(path: str, run_id: str, full: bool) -> str:
        with Warehouse(Path(path)) as warehouse, warehouse.transaction():
            return link_records(warehouse, settings, run_id, full=full).mode

    def linked(path: Path, in_a_flow: bool) -> pl.DataFrame:
        # the days before the last night, linked whole; then the last night's records
        for delivered, run_id, full in (({"exclude": night}, "first", True), ({"only": night}, "second", False)):
            warehouse_with(path, data, **delivered).close()
            if in_a_flow:
                assert linking_flow(str(path), run_id, full) == ("full" if full else "incremental")
            else:
                with Warehouse(path) as warehouse, warehouse.transaction():
                    link_records.fn(warehouse, settings, run_id, full=full)
        with Warehouse(path) as warehouse:
            return stored_links(warehouse)

    in_turn = linked(tmp_path / "in_turn.duckdb", in_a_flow=False)
    assert not submitted
    spread = linked(tmp_path / "spread.duckdb", in_a_flow=True)
    # the full link's date chunks as several tasks (this night's similarity work is one group: in turn),
    # all handed one object that holds what they all read
    assert submitted[:3] == [0, 1, 2]
    assert isinstance(shared_with[0], linking.Shared) and all(s is shared_with[0] for s in shared_with)
    assert in_turn.height > 0
    assert_frame_equal(spread, in_turn)


@pytest.mark.parametrize("only", ["nothing", "cst", "police"])
def test_a_first_delivery_from_one_side_only_links_nothing_and_does_not_fail(tmp_path, data, only):
    files = pl.read_parquet(data / "files.parquet")
    keep = {"nothing": [], "cst": files.filter(pl.col("key").str.starts_with("cst/"))["ingest_seq"].to_list(),
            "police": files.filter(pl.col("key").str.starts_with("police/"))["ingest_seq"].to_list()}[only]
    with warehouse_with(tmp_path / "w.duckdb", data, only=keep) as warehouse:
        summary = link(warehouse, "first")
        assert summary.mode == "full" and summary.pairs_written == 0
        assert link(warehouse, "second").mode == "unchanged"


def test_the_full_links_short_keys_sort_as_the_keys_do_and_map_back_exactly():
    keys = pl.Series(["f" * 64, "a" * 64, "c" * 64, "a" * 64])
    ids = _short_keys(keys, "r")
    assert ids["short"].to_list() == ["r00000000000", "r00000000001", "r00000000002"]
    assert ids["key"].to_list() == ["a" * 64, "c" * 64, "f" * 64]
    assert ids["short"].str.len_bytes().max() <= 12  # inside Polars' string view, no heap buffer
    frame = pl.DataFrame({"report_key": ["c" * 64, "held" * 16, "a" * 64], "n": [1, 2, 3]})
    short = _rekeyed(frame, "report_key", ids, "key", "short")
    # a key the mapping lacks (a held pair of a record no longer in scope) passes unchanged
    assert short["report_key"].to_list() == ["r00000000001", "held" * 16, "r00000000000"]
    assert_frame_equal(_rekeyed(short, "report_key", ids, "short", "key"), frame)


def _record_files(warehouse: Warehouse) -> None:
    """A manifest row for every file the versions came from and the manifest lacks, as loading writes."""
    with warehouse.transaction():
        warehouse.execute(
            "insert into manifest by name "
            "select file_hash, 'test' as source_id, file_hash as file_key, 0 as size_bytes, ingest_seq, "
            "'test' as run_id, now()::timestamp as first_seen, 'loaded' as status, 0 as rows_read, "
            "0 as rows_loaded, 0 as rows_quarantined "
            "from (select distinct file_hash, ingest_seq from stg_cst_report_versions "
            "      union select distinct file_hash, ingest_seq from stg_police_crime_versions) "
            "where file_hash not in (select file_hash from manifest)"
        )


def _changed(warehouse: Warehouse, linked_through: int) -> set[str]:
    since = {"linked_through": linked_through}
    return (set(warehouse.query(linking._sql("changed_reports"), since)["report_key"])
            | set(warehouse.query(linking._sql("changed_crimes"), since)["crime_key"]))


def test_a_night_looks_for_changed_records_only_among_those_loaded_after_the_last_link(tmp_path, data, night):
    cst_versions = pl.read_parquet(data / "cst_v.parquet")
    police_versions = pl.read_parquet(data / "police_v.parquet")
    with warehouse_with(tmp_path / "w.duckdb", data, exclude=night) as warehouse:
        _record_files(warehouse)
        link(warehouse, "before")
        linked_through = warehouse.scalar(linking._sql("linked_through"))
        assert linked_through == max(set(cst_versions["ingest_seq"]) | set(police_versions["ingest_seq"]) - set(night))
        assert _changed(warehouse, linked_through) == set()
        # tonight's file loaded as a night loads one: after every file there is (`ingest_seq`)
        tonight_seq = max(set(cst_versions["ingest_seq"]) | set(police_versions["ingest_seq"])) + 1
        tonight = {
            table: versions.filter(pl.col("ingest_seq").is_in(night)).with_columns(pl.lit(tonight_seq).alias("ingest_seq"))
            for table, versions in (("stg_cst_report_versions", cst_versions), ("stg_police_crime_versions", police_versions))
        }
        # a CST resend of a report's older version in tonight's newest file: its latest version
        # (the latest `last_updated`) stands, so the report has not changed
        held = cst_versions.filter(~pl.col("ingest_seq").is_in(night) & pl.col("last_updated").is_not_null())
        held = held.filter(~pl.col("report_key").is_in(tonight["stg_cst_report_versions"]["report_key"].implode()))
        resent = held.head(1).with_columns(
            pl.col("last_updated") - timedelta(days=30), pl.lit("resend-file").alias("file_hash"),
            pl.lit(tonight_seq + 1).alias("ingest_seq"),
        )
        expected = set(tonight["stg_cst_report_versions"]["report_key"]) | set(
            tonight["stg_police_crime_versions"]["crime_key"]
        )
        with warehouse.transaction():
            for table, versions in tonight.items():
                warehouse.insert(table, versions)
            warehouse.insert("stg_cst_report_versions", resent)
        _record_files(warehouse)
        assert warehouse.scalar(linking._sql("linked_through")) == linked_through  # tonight's files are not linked
        # the bound leaves out no record a search of every record finds
        assert _changed(warehouse, linked_through) == _changed(warehouse, -1) == expected
        assert resent["report_key"][0] not in expected
        summary = link(warehouse, "night")
        assert summary.changed_reports + summary.changed_crimes == len(expected)
        assert warehouse.scalar(linking._sql("linked_through")) == tonight_seq  # the resend holds no linked version
        assert link(warehouse, "again").mode == "unchanged"
