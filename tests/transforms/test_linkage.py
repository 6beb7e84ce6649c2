"""Linkage on tiny literal frames: blocking, comparisons, cardinality, review precedence, groups."""

from __future__ import annotations

from datetime import date, datetime, time

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from transforms import linkage_blocking
from transforms.blocks import call
from transforms.linkage import (
    CST_BLOCKING_COLUMNS,
    POLICE_BLOCKING_COLUMNS,
    candidates_for,
    comparison_vectors_chunked,
    comparison_vectors_for,
    fitted_model,
    linkage_settings,
    linked_pairs,
    narrative_model,
    police_incident_groups,
    vectors_for,
)
from transforms.linkage_compare import gamma
from transforms.linkage_model import FittedModel, prior_model, score
from transforms.linkage_resolve import DECISION_SCHEMA, resolved_pairs

CST_DEFAULTS = {
    "incident_time": None, "reported_date": None, "category": "Abusive Behaviour", "method": "verbal",
    "location_type": "street", "victim_type": "individual", "street": None, "town": None,
    "postcode_unit_key": None, "postcode_sector": None, "postcode_district": None, "postcode_area": None,
    "force_id": "gmp", "reported_to_police": "yes", "cited_crime_ref_tokens": None,
    "identity_tokens": None, "description_redacted": None, "offender_description_redacted": None,
}
POLICE_DEFAULTS = {
    "force_id": "gmp", "crime_ref_tokens": ["x:0000000"], "offence_code": "9B",
    "offence_category": "Abusive Behaviour", "occurred_to": None, "reported_date": None, "street": None,
    "town": None, "postcode_unit_key": None, "postcode_sector": None, "postcode_district": None,
    "postcode_area": None, "status": "confirmed", "summary_redacted": None, "victim_count": 1,
    "identity_tokens": None,
}
CST_SCHEMA = {
    "report_key": pl.String, "incident_date": pl.Date, "incident_time": pl.Time, "reported_date": pl.Date,
    "category": pl.String, "method": pl.String, "location_type": pl.String, "victim_type": pl.String,
    "street": pl.String, "town": pl.String, "postcode_unit_key": pl.String, "postcode_sector": pl.String,
    "postcode_district": pl.String, "postcode_area": pl.String, "force_id": pl.String,
    "reported_to_police": pl.String, "cited_crime_ref_tokens": pl.List(pl.String),
    "identity_tokens": pl.List(pl.String), "description_redacted": pl.String, "offender_description_redacted": pl.String,
}
POLICE_SCHEMA = {
    "crime_key": pl.String, "force_id": pl.String, "crime_ref_tokens": pl.List(pl.String),
    "offence_code": pl.String, "offence_category": pl.String, "occurred_from": pl.Datetime("us"),
    "occurred_to": pl.Datetime("us"), "reported_date": pl.Date, "street": pl.String, "town": pl.String,
    "postcode_unit_key": pl.String, "postcode_sector": pl.String, "postcode_district": pl.String,
    "postcode_area": pl.String, "status": pl.String, "summary_redacted": pl.String, "victim_count": pl.Int32,
    "identity_tokens": pl.List(pl.String),
}


def cst(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame([{**CST_DEFAULTS, **row} for row in rows], schema=CST_SCHEMA)


def police(*rows: dict) -> pl.DataFrame:
    full = []
    for row in rows:
        row = {**POLICE_DEFAULTS, **row}
        row["occurred_to"] = row["occurred_to"] or row["occurred_from"]
        full.append(row)
    return pl.DataFrame(full, schema=POLICE_SCHEMA)


def place(unit: str, street: str) -> dict:
    district = unit.split(" ")[0]
    return {"postcode_unit_key": f"k:{unit}", "postcode_sector": unit[:-2], "postcode_district": district,
            "postcode_area": district.rstrip("0123456789"), "street": street}


def no_decisions() -> pl.DataFrame:
    return pl.DataFrame(schema=DECISION_SCHEMA)


@pytest.fixture(scope="module")
def settings() -> dict:
    return linkage_settings()


@pytest.fixture(scope="module")
def with_identity_rule(settings: dict) -> dict:
    """The settings with their optional `identity` blocking rule switched on."""
    return {**settings, "blocking_rules": [*settings["blocking_rules"], *settings["optional_blocking_rules"]]}


def vectors(c: pl.DataFrame, p: pl.DataFrame, settings: dict) -> pl.DataFrame:
    return comparison_vectors_for(c, p, settings, narrative_model(c, p, settings))


def pairs_of(frame: pl.DataFrame) -> set[tuple[str, str]]:
    return set(frame.select("report_key", "crime_key").iter_rows())


# --------------------------------------------------------------------------- blocking


def place_and_online(cited: list[str] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """R1/P1 at one place a night apart, R2/P2 online a day apart, R3 two months later, P3 in
    another force (`cited`: a crime number R1 cites and P1 holds)."""
    c = cst(
        {"report_key": "R1", "incident_date": date(2026, 3, 1), **place("M7 4AB", "Bury New Road"),
         **({"cited_crime_ref_tokens": cited} if cited else {})},
        {"report_key": "R2", "incident_date": date(2026, 3, 1), "method": "online", "location_type": "online",
         "description_redacted": "targeted on Instagram: an anonymous account sent him antisemitic direct messages"},
        {"report_key": "R3", "incident_date": date(2026, 5, 1), **place("M7 4AB", "Bury New Road")},
    )
    p = police(
        {"crime_key": "P1", "occurred_from": datetime(2026, 2, 28, 22), "occurred_to": datetime(2026, 3, 1, 6),
         **place("M7 4AB", "Bury New Road"), **({"crime_ref_tokens": cited} if cited else {})},
        {"crime_key": "P2", "occurred_from": datetime(2026, 3, 2, 12),
         "summary_redacted": "IP VIA SOCIAL MEDIA (INSTAGRAM). SUSP SENT ABUSIVE DIRECT MESSAGES TO IP."},
        {"crime_key": "P3", "occurred_from": datetime(2026, 3, 1, 12), "force_id": "wyp",
         **place("LS17 6AB", "Street Lane")},
    )
    return c, p


def test_blocking_date_window_place_and_online(settings):
    c, p = place_and_online()
    found = pairs_of(vectors(c, p, settings))
    assert ("R1", "P1") in found  # same unit, CST date inside the police range
    assert ("R2", "P2") in found  # online: no place on either side, same force, a day apart
    assert ("R3", "P1") not in found  # two months apart
    assert ("R1", "P3") not in found and ("R2", "P3") not in found  # another force, another place


def test_candidates_need_only_the_blocking_columns_and_vectors_only_the_paired_records(settings):
    # what a night reads: the blocking columns of every record in reach, whole rows of the paired
    # ones (R3 and P3 pair with nothing: their narratives are never needed)
    c, p = place_and_online(cited=["x:0101234"])
    texts = narrative_model(c, p, settings)
    whole = comparison_vectors_for(c, p, settings, texts)
    candidates = candidates_for(c.select(CST_BLOCKING_COLUMNS), p.select(POLICE_BLOCKING_COLUMNS), settings, texts)
    assert set(candidates.report_keys) == {"R1", "R2"} and set(candidates.crime_keys) == {"P1", "P2"}
    paired = vectors_for(candidates, c.filter(pl.col("report_key") != "R3"), p.filter(pl.col("crime_key") != "P3"),
                         settings, texts)
    assert_frame_equal(paired, whole)


def test_blocking_on_a_cited_crime_number_and_cancelled_crimes_left_out(settings):
    c = cst({"report_key": "R1", "incident_date": date(2026, 3, 20), "cited_crime_ref_tokens": ["x:0101234"]})
    p = police(
        {"crime_key": "P1", "occurred_from": datetime(2026, 3, 1, 12), "crime_ref_tokens": ["x:0101234"],
         **place("M8 5PY", "Waterpark Road")},
        {"crime_key": "P2", "occurred_from": datetime(2026, 3, 20, 12), "status": "cancelled",
         **place("M8 5PY", "Waterpark Road")},
    )
    v = vectors(c, p, settings)
    assert pairs_of(v) == {("R1", "P1")}
    assert v[gamma("crime_ref")].to_list() == [0]


def identity_blocking_case() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Online reports made a week after their crimes: no place, dates beyond every dated rule's window."""
    online = {"incident_date": date(2026, 3, 9), "method": "online", "location_type": "online"}
    rebecca_cohen = ["n:cohen", "n:rebecca", "w:cohen rebecca"]
    david_cohen = ["n:cohen", "n:david", "w:cohen david"]
    c = cst(
        {"report_key": "R1", **online, "identity_tokens": rebecca_cohen},
        {"report_key": "R2", **online, "identity_tokens": ["n:levy", "n:rebecca", "w:levy rebecca"]},
        {"report_key": "R3", **online, "identity_tokens": ["h:troll99"]},
        {"report_key": "R4", **online, "identity_tokens": david_cohen},
        {"report_key": "R5", **online, "incident_date": date(2026, 5, 1), "identity_tokens": ["h:troll99"]},
    )
    crimes = [
        {"crime_key": "P1", "occurred_from": datetime(2026, 3, 1, 12), "identity_tokens": rebecca_cohen},
        {"crime_key": "P2", "occurred_from": datetime(2026, 3, 1, 12), "identity_tokens": ["h:troll99", "n:ali"]},
    ]
    # 21 crimes against men called David Cohen: a name held by more than 20 crimes pairs nothing by itself
    crimes += [{"crime_key": f"D{i:02d}", "occurred_from": datetime(2026, 1, 1 + i, 12), "identity_tokens": david_cohen}
               for i in range(21)]
    return c, police(*crimes)


def test_identity_blocking_on_a_rare_contact_or_a_rare_whole_name_within_its_window(settings, with_identity_rule):
    c, p = identity_blocking_case()
    assert not pairs_of(vectors(c, p, settings))  # off by default: no other rule reaches these
    found = {pair for pair in pairs_of(vectors(c, p, with_identity_rule)) if pair[1] in ("P1", "P2") or pair[0] == "R4"}
    assert ("R1", "P1") in found  # the whole name, 8 days apart
    assert ("R3", "P2") in found  # a shared handle
    assert ("R2", "P1") not in found  # a forename alone
    assert ("R5", "P2") not in found  # two months apart
    assert not {pair for pair in found if pair[0] == "R4"}  # a common name


def test_identity_blocking_taken_a_date_chunk_at_a_time_finds_the_same_pairs(with_identity_rule):
    c, p = identity_blocking_case()
    chunked, _ = comparison_vectors_chunked(c, p, with_identity_rule, chunk_days=1)
    assert pairs_of(chunked) == pairs_of(vectors(c, p, with_identity_rule))


class OutOfOrder:
    """A runner as a task runner behaves: blocks run in any order (here the last first), results
    handed back in block order; `seen` records the blocks' sizes."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.seen: list[object] = []

    def map(self, function, blocks, shared=None):
        self.seen.append(len(blocks))
        results = {i: call(function, blocks[i], shared) for i in reversed(range(len(blocks)))}
        return [results[i] for i in range(len(blocks))]


def online_month(force_ids: tuple[str, ...] = ("gmp", "mps", "wyp")) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Online reports and crimes over ten days in three forces, in varied words: many (force, day)
    similarity groups, each with more neighbours than the rule's top k."""
    words = ["instagram", "twitter", "email", "whatsapp", "facebook", "tiktok", "abuse", "threat", "swastika",
             "messages", "posted", "comments", "group", "school", "synagogue", "rabbi"]
    online = {"method": "online", "location_type": "online"}
    reports, crimes = [], []
    for f, force in enumerate(force_ids):
        for i in range(40):
            text = " ".join(words[(i * 7 + f + j * 3) % len(words)] for j in range(5))
            reports.append({"report_key": f"R{f}{i:02d}", "incident_date": date(2026, 3, 1 + i % 10),
                            "force_id": force, "description_redacted": f"targeted online: {text}", **online})
            crimes.append({"crime_key": f"P{f}{i:02d}", "occurred_from": datetime(2026, 3, 1 + (i * 3) % 10, 12),
                           "force_id": force, "summary_redacted": f"IP TARGETED ONLINE. {text.upper()}"})
    return cst(*reports), police(*crimes)


def test_similarity_blocks_run_apart_give_the_pairs_of_one_run(settings, monkeypatch):
    # the no-place rule's (force, day) groups cut into blocks and run in another order: the same
    # pairs, floors and cosines as in turn, on a full link and on a night of changed records
    monkeypatch.setattr(linkage_blocking, "MIN_BLOCK_CELLS", 1)  # blocks of these few cells
    c, p = online_month()
    texts = narrative_model(c, p, settings)
    blocking = c.select(CST_BLOCKING_COLUMNS), p.select(POLICE_BLOCKING_COLUMNS)
    changed = {"changed_reports": pl.Series(["R000", "R105", "R217"]), "changed_crimes": pl.Series(["P011", "P230"])}
    for extra in ({}, changed):
        in_turn = candidates_for(*blocking, settings, texts, **extra)
        apart = OutOfOrder(width=4)
        spread = candidates_for(*blocking, settings, texts, **extra, blocks=apart)
        assert max(apart.seen) > 1  # the work really was cut into several blocks
        assert in_turn.pairs.filter(pl.col("rule") == "no_place").height > 0
        # (pairs come out of a hash-based unique: compared in key order)
        assert_frame_equal(*(candidates.pairs.with_columns(candidates.cosines).sort("report_key", "crime_key")
                             for candidates in (spread, in_turn)))


def test_small_similarity_work_is_one_block(settings):
    c, p = online_month()
    texts = narrative_model(c, p, settings)
    apart = OutOfOrder(width=4)
    candidates_for(c.select(CST_BLOCKING_COLUMNS), p.select(POLICE_BLOCKING_COLUMNS), settings, texts, blocks=apart)
    assert apart.seen and set(apart.seen) == {1}  # a few hundred cells: no task is worth it


def test_date_chunks_of_a_full_link_run_apart_give_the_vectors_of_one_run(settings):
    c, p = online_month()
    in_turn, idf = comparison_vectors_chunked(c, p, settings, chunk_days=2)
    apart = OutOfOrder(width=3)
    spread, spread_idf = comparison_vectors_chunked(c, p, settings, chunk_days=2, blocks=apart)
    assert apart.seen == [5]  # ten days of reports in chunks of two
    assert_frame_equal(spread.sort("report_key", "crime_key"), in_turn.sort("report_key", "crime_key"))
    assert_frame_equal(spread_idf, idf)


# --------------------------------------------------------------------------- comparisons


def test_missing_is_missing_not_disagreement(settings):
    c = cst({"report_key": "R1", "incident_date": date(2026, 3, 1), "street": "Bury New Road",
             "description_redacted": "a man spat at him on Bury New Road"})
    p = police({"crime_key": "P1", "occurred_from": datetime(2026, 3, 1, 9), **place("M7 4AB", "Bury New Road"),
                "summary_redacted": "IP ON BURY NEW ROAD. SUSP SPAT AT IP."})
    row = vectors(c, p, settings).row(0, named=True)
    assert row[gamma("postcode")] == -1  # CST has no postcode
    assert row[gamma("time")] == -1  # CST has no time
    assert row[gamma("crime_ref")] == -1  # CST cited no number
    assert row[gamma("street")] == 0
    assert row[gamma("date")] == 0
    assert row[gamma("category")] == 0


def test_identity_levels_shared_contact_names_body_and_nothing_shared(settings):
    at = {"incident_date": date(2026, 3, 1), **place("M7 4AB", "Bury New Road")}
    c = cst(
        {"report_key": "R1", **at, "identity_tokens": ["n:cohen", "n:rebecca", "p:077"]},
        {"report_key": "R2", **at, "identity_tokens": ["p:099"]},
        {"report_key": "R3", **at},
        {"report_key": "R4", **at, "identity_tokens": ["o:heaton park synagogue"]},
    )
    crime = {"occurred_from": datetime(2026, 3, 1, 12), **place("M7 4AB", "Bury New Road")}
    p = police(
        {"crime_key": "P1", **crime, "identity_tokens": ["n:cohen", "n:rebecca"]},
        {"crime_key": "P2", **crime, "identity_tokens": ["n:levy", "n:rebecca"]},
        {"crime_key": "P3", **crime, "identity_tokens": ["n:smith", "p:077"]},
        {"crime_key": "P4", **crime, "identity_tokens": ["n:smith"]},
        {"crime_key": "P5", **crime, "identity_tokens": ["o:heaton park synagogue"]},
        {"crime_key": "P6", **crime, "identity_tokens": ["w:cohen rebecca"]},
    )
    levels = {(r["report_key"], r["crime_key"]): r[gamma("identity")] for r in vectors(c, p, settings).iter_rows(named=True)}
    assert levels[("R1", "P3")] == 0  # a shared phone
    assert levels[("R1", "P1")] == 1  # two parts of the name
    assert levels[("R4", "P5")] == 2  # the same synagogue
    assert levels[("R1", "P2")] == 3  # a forename only
    assert levels[("R1", "P4")] == 4  # both name a person: another one
    assert levels[("R2", "P3")] == 4  # two phones, different
    assert levels[("R2", "P1")] == -1  # a phone against a name: nothing to compare
    assert levels[("R3", "P1")] == -1  # CST names nobody
    assert levels[("R1", "P6")] == -1  # a whole name against its parts: tags differ (staging gives both)


def test_category_compatibility_and_time_of_day(settings):
    c = cst({"report_key": "R1", "incident_date": date(2026, 3, 1), "incident_time": time(21, 30),
             "category": "Threats", **place("M7 4AB", "Bury New Road")})
    p = police(
        {"crime_key": "P1", "occurred_from": datetime(2026, 3, 1, 21, 40), "offence_category": "Abusive Behaviour",
         **place("M7 4AB", "Bury New Road")},
        {"crime_key": "P2", "occurred_from": datetime(2026, 3, 1, 9, 0), "offence_category": "Literature",
         **place("M7 4AB", "Bury New Road")},
    )
    v = {r["crime_key"]: r for r in vectors(c, p, settings).iter_rows(named=True)}
    assert v["P1"][gamma("category")] == 1 and v["P1"][gamma("time")] == 0
    assert v["P2"][gamma("category")] == 2 and v["P2"][gamma("time")] == 3


# --------------------------------------------------------------------------- incident groups


def test_crimes_of_one_incident_group_together_and_a_spree_does_not(settings):
    text = "IP ON BURY NEW ROAD. SUSP DESCRIBED AS UNKNOWN. SUSP SWASTIKA SPRAYED ON TELEPHONE KIOSK."
    p = police(
        {"crime_key": "A", "occurred_from": datetime(2026, 3, 1, 22), "summary_redacted": text,
         **place("M7 4AB", "Bury New Road")},
        {"crime_key": "B", "occurred_from": datetime(2026, 3, 1, 22), "summary_redacted": text, "offence_code": "58A",
         "street": "Bury New Road", "postcode_unit_key": None},  # a second offence, postcode not repeated
        {"crime_key": "C", "occurred_from": datetime(2026, 3, 2, 22), "summary_redacted": text,
         **place("M7 4AB", "Bury New Road")},  # the next night: another incident
        {"crime_key": "D", "occurred_from": datetime(2026, 3, 1, 22), "summary_redacted": text,
         **place("M8 5PY", "Waterpark Road")},  # same time, another place
    )
    groups = dict(police_incident_groups(p, settings).iter_rows())
    assert groups["A"] == groups["B"]
    assert len({groups["A"], groups["C"], groups["D"]}) == 3


def test_crimes_told_in_other_words_group_when_they_name_the_same_person(settings):
    at = {"occurred_from": datetime(2026, 3, 1, 22), **place("M7 4AB", "Bury New Road")}
    p = police(
        {"crime_key": "A", **at, "summary_redacted": "IP PUNCHED IN THE FACE BY SUSP.",
         "identity_tokens": ["n:cohen", "n:rebecca"]},
        {"crime_key": "B", **at, "summary_redacted": "WINDOW OF VEHICLE SMASHED WITH A BRICK.",
         "identity_tokens": ["n:cohen", "n:rebecca", "n:smith"]},  # + the suspect
        {"crime_key": "C", **at, "summary_redacted": "GRAFFITI DAUBED ON SHOP SHUTTER.",
         "identity_tokens": ["n:levy", "n:rebecca"]},  # another Rebecca
    )
    groups = dict(police_incident_groups(p, settings).iter_rows())
    assert groups["A"] == groups["B"] != groups["C"]


# --------------------------------------------------------------------------- cardinality and review


def scored(*rows: tuple[str, str, float]) -> pl.DataFrame:
    import math

    return pl.DataFrame(
        [(r, c, p, math.log2(p / (1 - p))) for r, c, p in rows],
        schema={"report_key": pl.String, "crime_key": pl.String, "match_probability": pl.Float64,
                "match_weight": pl.Float64},
        orient="row",
    )


def groups_frame(mapping: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame({"crime_key": list(mapping), "police_incident_id": list(mapping.values())})


def status_frame(crimes: list[str], cancelled: tuple[str, ...] = ()) -> pl.DataFrame:
    return pl.DataFrame({"crime_key": crimes, "force_id": "gmp",
                         "status": ["cancelled" if c in cancelled else "confirmed" for c in crimes]})


THRESHOLDS = {"match": 0.5, "review": 0.3, "keep": 0.01}


def statuses(resolved: pl.DataFrame) -> dict[tuple[str, str], str]:
    return {(r, c): s for r, c, s in resolved.select("report_key", "crime_key", "status").iter_rows()}


def test_a_crime_belongs_to_at_most_one_report():
    s = scored(("R1", "P1", 0.95), ("R2", "P1", 0.97))
    out = statuses(resolved_pairs(s, groups_frame({"P1": "G1"}), status_frame(["P1"]), no_decisions(), THRESHOLDS))
    assert out == {("R1", "P1"): "rejected", ("R2", "P1"): "matched"}


def test_a_report_matches_every_crime_of_one_incident_group():
    s = scored(("R1", "P1", 0.95), ("R1", "P2", 0.4))
    out = statuses(
        resolved_pairs(s, groups_frame({"P1": "G1", "P2": "G1"}), status_frame(["P1", "P2"]), no_decisions(), THRESHOLDS)
    )
    assert out == {("R1", "P1"): "matched", ("R1", "P2"): "matched"}


def test_a_spree_on_consecutive_nights_is_not_merged():
    # two look-alike reports, two look-alike crimes a night apart: one each, never both to one report
    s = scored(("R1", "P1", 0.99), ("R1", "P2", 0.9), ("R2", "P1", 0.9), ("R2", "P2", 0.98))
    out = statuses(
        resolved_pairs(s, groups_frame({"P1": "G1", "P2": "G2"}), status_frame(["P1", "P2"]), no_decisions(), THRESHOLDS)
    )
    assert out[("R1", "P1")] == "matched" and out[("R2", "P2")] == "matched"
    assert out[("R1", "P2")] == "rejected" and out[("R2", "P1")] == "rejected"
    # and a lone report takes one night only, however alike the other
    lone = scored(("R1", "P1", 0.99), ("R1", "P2", 0.95))
    out = statuses(
        resolved_pairs(lone, groups_frame({"P1": "G1", "P2": "G2"}), status_frame(["P1", "P2"]), no_decisions(), THRESHOLDS)
    )
    assert sorted(out.values()) == ["matched", "rejected"]


def test_assignment_maximises_the_summed_evidence():
    # greedy would take R1-P1 (0.99) and leave R2 with P2 at 0.6; the two 0.98 pairs are stronger together
    s = scored(("R1", "P1", 0.99), ("R1", "P2", 0.98), ("R2", "P1", 0.98), ("R2", "P2", 0.6))
    out = statuses(
        resolved_pairs(s, groups_frame({"P1": "G1", "P2": "G2"}), status_frame(["P1", "P2"]), no_decisions(), THRESHOLDS)
    )
    assert out[("R1", "P2")] == "matched" and out[("R2", "P1")] == "matched"


def test_thresholds_give_three_outcomes():
    s = scored(("R1", "P1", 0.8), ("R2", "P2", 0.4), ("R3", "P3", 0.1))
    out = statuses(
        resolved_pairs(s, groups_frame({"P1": "G1", "P2": "G2", "P3": "G3"}), status_frame(["P1", "P2", "P3"]),
                       no_decisions(), THRESHOLDS)
    )
    assert out == {("R1", "P1"): "matched", ("R2", "P2"): "review", ("R3", "P3"): "rejected"}


def decisions(*rows: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [(r, c, d, datetime(2026, 3, 1, 12, i)) for i, (r, c, d) in enumerate(rows)], schema=DECISION_SCHEMA, orient="row"
    )


def test_review_decisions_always_win():
    s = scored(("R1", "P1", 0.99), ("R2", "P1", 0.2), ("R3", "P3", 0.95))
    resolved = resolved_pairs(
        s, groups_frame({"P1": "G1", "P3": "G3"}), status_frame(["P1", "P3"]),
        decisions(("R2", "P1", "accept"), ("R3", "P3", "reject")), THRESHOLDS,
    )
    out = statuses(resolved)
    assert out[("R2", "P1")] == "matched"  # accepted although the model said 0.2
    assert out[("R1", "P1")] == "rejected"  # the crime is taken
    assert out[("R3", "P3")] == "rejected"  # rejected although the model said 0.95
    by = {(r, c): d for r, c, d in resolved.select("report_key", "crime_key", "decided_by").iter_rows()}
    assert by[("R2", "P1")] == "review" and by[("R3", "P3")] == "review" and by[("R1", "P1")] == "model"


def test_a_decided_pair_is_held_even_when_blocking_no_longer_finds_it():
    resolved = resolved_pairs(
        scored(("R1", "P1", 0.9)), groups_frame({"P1": "G1", "P9": "G9"}), status_frame(["P1", "P9"]),
        decisions(("R5", "P9", "accept")), THRESHOLDS,
    )
    assert statuses(resolved)[("R5", "P9")] == "matched"


def resolved_with_p1_cancelled(
    groups: dict[str, str], *pairs: tuple[str, str, float], decided: tuple = ()
) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(status, reason) per pair, crime P1 cancelled and P2 confirmed."""
    resolved = resolved_pairs(
        scored(*pairs), groups_frame(groups), status_frame(["P1", "P2"], cancelled=("P1",)), decisions(*decided), THRESHOLDS
    )
    return {(r, c): (s, why) for r, c, s, why in resolved.select("report_key", "crime_key", "status", "reason").iter_rows()}


@pytest.mark.parametrize("decided", [(), (("R1", "P1", "accept"),)], ids=["model", "accepted"])
def test_a_cancelled_crimes_pairs_are_void_and_its_report_takes_no_look_alike(decided):
    # P1 was recorded for R1's incident and cancelled; P2 is a look-alike on the next night
    rows = resolved_with_p1_cancelled(
        {"P1": "G1", "P2": "G2"}, ("R1", "P1", 0.99), ("R1", "P2", 0.7), ("R2", "P2", 0.6), decided=decided
    )
    assert rows[("R1", "P1")] == ("rejected", "cancelled")
    assert rows[("R1", "P2")] == ("rejected", "cardinality")  # R1's incident is P1's
    assert rows[("R2", "P2")][0] == "matched"  # so the look-alike stays free for its own report


def test_a_cancelled_crime_lends_its_evidence_to_the_live_crimes_of_its_group():
    # two crimes of one police incident (one per victim), one cancelled: the report matches the other
    rows = resolved_with_p1_cancelled({"P1": "G1", "P2": "G1"}, ("R1", "P1", 0.99), ("R1", "P2", 0.4))
    assert rows[("R1", "P1")] == ("rejected", "cancelled")
    assert rows[("R1", "P2")] == ("matched", "group")


def test_an_unassigned_cancelled_pair_is_void_without_holding_its_report():
    rows = resolved_with_p1_cancelled({"P1": "G1", "P2": "G2"}, ("R1", "P1", 0.4), ("R1", "P2", 0.95))
    assert rows[("R1", "P1")] == ("rejected", "cardinality")
    assert rows[("R1", "P2")] == ("matched", None)


# --------------------------------------------------------------------------- end to end on literal frames


def two_incidents() -> tuple[pl.DataFrame, pl.DataFrame]:
    c = cst(
        {"report_key": "R1", "incident_date": date(2026, 3, 1), "incident_time": time(21, 30),
         **place("M7 4AB", "Bury New Road"),
         "description_redacted": "[NAME] was walking home on Bury New Road when a man with a shaved head spat at him.",
         "offender_description_redacted": "a man with a shaved head"},
        {"report_key": "R2", "incident_date": date(2026, 3, 2), **place("M7 4AB", "Bury New Road"),
         "category": "Damage & Desecration", "victim_type": "synagogue",
         "description_redacted": "Staff found that unknown offenders had painted swastikas on the wall.",
         "offender_description_redacted": "unknown offenders"},
    )
    p = police(
        {"crime_key": "P1", "occurred_from": datetime(2026, 3, 1, 21, 30), **place("M7 4AB", "Bury New Road"),
         "offence_code": "105B", "offence_category": "Assault",
         "summary_redacted": "IP [NAME] ON BURY NEW ROAD. SUSP DESCRIBED AS A MAN WITH A SHAVED HEAD. SUSP SPAT AT IP."},
        {"crime_key": "P2", "occurred_from": datetime(2026, 3, 1, 22), "occurred_to": datetime(2026, 3, 2, 7),
         **place("M7 4AB", "Bury New Road"), "offence_code": "58F", "offence_category": "Damage & Desecration",
         "summary_redacted": "PREMISES ON BURY NEW ROAD. SUSP DESCRIBED AS UNKNOWN. SUSP SWASTIKAS PAINTED ON WALL."},
    )
    return c, p


def test_pipeline_links_the_same_incident_across_styles(settings):
    c, p = two_incidents()
    v = vectors(c, p, settings)
    model = prior_model(settings)
    resolved = linked_pairs(v, model, police_incident_groups(p, settings), p, no_decisions(), settings)
    out = statuses(resolved)
    assert out[("R1", "P1")] == "matched" and out[("R2", "P2")] == "matched"
    assert out.get(("R1", "P2"), "rejected") == "rejected" and out.get(("R2", "P1"), "rejected") == "rejected"
    weights = score(v, model).sort("match_weight", descending=True)
    assert set(weights.head(2).select("report_key", "crime_key").iter_rows()) == {("R1", "P1"), ("R2", "P2")}


def test_known_terms_stand_in_for_parsing_their_records(settings):
    # a night reads the stored terms of the records it does not change: the model must be the one
    # parsing would give; the known records' text is blanked to show it is not parsed again
    c, p = two_incidents()
    parsed = narrative_model(c, p, settings)
    known = parsed.term_rows().filter(pl.col("record_key").is_in(["R1", "P2"]))
    assert known["source"].sort().to_list() == ["cst", "police"]
    assert known.select(pl.col("narrative_terms", "offender_terms").list.len().min()).row(0) > (0, 0)
    blanked_c = c.with_columns(
        pl.when(pl.col("report_key") == "R1").then(None).otherwise(pl.col(name)).alias(name)
        for name in ("description_redacted", "offender_description_redacted")
    )
    blanked_p = p.with_columns(
        pl.when(pl.col("crime_key") == "P2").then(None).otherwise(pl.col("summary_redacted")).alias("summary_redacted")
    )
    read = narrative_model(blanked_c, blanked_p, settings, idf=parsed.idf, known_terms=known)
    for name in ("cst_terms", "police_terms", "cst_offender_terms", "police_offender_terms"):
        assert_frame_equal(getattr(read, name), getattr(parsed, name), check_row_order=False)
    assert_frame_equal(read.term_rows(), parsed.term_rows(), check_row_order=False)


def test_a_chunk_of_a_corpus_wide_narrative_model_is_the_model_of_that_chunk(settings):
    c, p = two_incidents()
    everything = narrative_model(c, p, settings)
    chunk = everything.subset(pl.Series("report_key", ["R2"]), pl.Series("crime_key", ["P2", "P1"]))
    alone = narrative_model(c.filter(pl.col("report_key") == "R2"), p.reverse(), settings)
    for name in ("cst_terms", "police_terms", "cst_offender_terms", "police_offender_terms"):
        assert_frame_equal(getattr(chunk, name), getattr(alone, name), check_row_order=False)
    assert chunk.idf.equals(everything.idf)


def test_vectors_taken_a_date_chunk_at_a_time_are_those_of_everything(settings):
    c, p = two_incidents()
    keys = ["report_key", "crime_key"]
    chunked, _ = comparison_vectors_chunked(c, p, settings, chunk_days=1)
    whole = vectors(c, p, settings)
    assert_frame_equal(chunked.sort(keys), whole.sort(keys), check_column_order=False)


def test_a_comparison_null_on_every_pair_keeps_its_prior_weights(settings):
    c, p = two_incidents()  # no identity tokens on either side: every pair's identity level is null
    v = vectors(c, p, settings)
    assert set(v[gamma("identity")]) == {-1}
    model, _ = fitted_model(v, settings, groups=police_incident_groups(p, settings))
    prior = prior_model(settings)
    assert model.comparisons["identity"] == prior.comparisons["identity"]
    assert "identity" in model.trained_on["priors_for_unobserved"]
    assert "date" not in model.trained_on["priors_for_unobserved"]


def test_fitted_model_round_trips_through_json(settings):
    model = prior_model(settings)
    again = FittedModel.from_dict(model.to_dict())
    assert again.to_dict() == model.to_dict()


def test_channel_is_named_as_a_word_and_a_contact_address_is_not_one(settings):
    from transforms.linkage_compare import named_channel

    texts = pl.DataFrame({"t": ["targeted on Twitter/X. Contact email [EMAIL].", "IP VIA SOCIAL MEDIA. IP EMAIL [EMAIL].",
                                "targeted by email: a man", "she emailed him"]})
    found = texts.select(named_channel(pl.col("t"), settings["channels"]).alias("channel"))["channel"].to_list()
    assert found == ["twitter", None, "email", None]


def test_a_report_without_a_force_is_its_own_level(settings):
    online = {"incident_date": date(2026, 3, 1), "method": "online", "location_type": "online",
              "description_redacted": "targeted on Instagram: an anonymous account sent antisemitic direct messages"}
    c = cst({"report_key": "R1", **online}, {"report_key": "R2", **online, "force_id": "unknown"})
    p = police({"crime_key": "P1", "occurred_from": datetime(2026, 3, 1, 12),
                "summary_redacted": "IP VIA SOCIAL MEDIA (INSTAGRAM). SUSP SENT ABUSIVE DIRECT MESSAGES TO IP."})
    v = {r["report_key"]: r for r in vectors(c, p, settings).iter_rows(named=True)}
    assert v["R1"][gamma("force")] == 0 and v["R2"][gamma("force")] == 1
    assert v["R1"][gamma("channel")] == 0


def test_offender_and_channel_words_count_once_not_in_the_narrative_too(settings):
    c = cst({"report_key": "R1", "incident_date": date(2026, 3, 1), "offender_description_redacted": "a former colleague",
             "description_redacted": "targeted on WhatsApp: a former colleague posted antisemitic comments"})
    p = police({"crime_key": "P1", "occurred_from": datetime(2026, 3, 1, 12),
                "summary_redacted": "IP VIA SOCIAL MEDIA (WHATSAPP). SUSP DESCRIBED AS FORMER COLLEAGUE OF IP. "
                                    "SUSP POSTED OFFENSIVE COMMENTS ONLINE."})
    texts = narrative_model(c, p, settings)
    words = set(texts.cst_terms["term"]) | set(texts.police_terms["term"])
    assert not words & {"whatsapp", "former", "colleague"}
    assert {"comment", "post"} <= set(texts.cst_terms["term"])
    assert set(texts.cst_offender_terms["term"]) == {"former", "colleague"}


def test_the_channel_first_in_the_settings_wins_whatever_the_text_names_first(settings):
    from transforms.linkage_compare import named_channel

    texts = pl.DataFrame({"t": ["abuse on tik tok, then on Twitter", "a WhatsApp group, then e-mail", "no platform here"]})
    found = texts.select(named_channel(pl.col("t"), settings["channels"]).alias("channel"))["channel"].to_list()
    order = list(settings["channels"])
    assert order.index("twitter") < order.index("tiktok") and order.index("whatsapp") < order.index("email")
    assert found == ["twitter", "whatsapp", None]


def online_corpus(settings: dict) -> tuple[dict, pl.DataFrame, pl.DataFrame]:
    """Settings with only the no_place rule (k = 1 both ways); two online reports, two crimes told alike."""
    rule = {"name": "no_place", "kind": "no_place", "keys": ["force_id"], "window": [-3, 3],
            "narrative_top_k": 1, "narrative_top_k_crime": 1, "min_cosine": 0.0}
    online = {"incident_date": date(2026, 3, 1), "method": "online", "location_type": "online"}
    c = cst(
        {"report_key": "R1", **online, "description_redacted": "antisemitic messages on instagram about the synagogue"},
        {"report_key": "R2", **online, "description_redacted": "a threatening phone call to the school office"},
    )
    p = police(
        {"crime_key": "P1", "occurred_from": datetime(2026, 3, 1, 9),
         "summary_redacted": "ANTISEMITIC MESSAGES ON INSTAGRAM ABOUT THE SYNAGOGUE"},
        {"crime_key": "P2", "occurred_from": datetime(2026, 3, 1, 10),
         "summary_redacted": "THREATENING PHONE CALL TO SCHOOL OFFICE"},
    )
    return {**settings, "blocking_rules": [rule]}, c, p


def cosines(frame: pl.DataFrame) -> dict[tuple[str, str], float]:
    """(report_key, crime_key) -> the pair's narrative cosine."""
    return dict(zip(zip(frame["report_key"], frame["crime_key"], strict=True), frame["narrative_cosine"], strict=True))


def test_online_top_k_keeps_each_reports_and_each_crimes_nearest(settings):
    # k = 1 both ways: R1's nearest is P1, R2's is P2; P3 is nearest to R1 but not R1's nearest,
    # so only the crime-side top-k brings (R1, P3) in
    only_online, c, p = online_corpus(settings)
    p = pl.concat([p, police({"crime_key": "P3", "occurred_from": datetime(2026, 3, 2, 10),
                              "summary_redacted": "MESSAGES ABOUT SYNAGOGUE"})])
    assert pairs_of(vectors(c, p, only_online)) == {("R1", "P1"), ("R2", "P2"), ("R1", "P3")}


def test_a_crimes_nearest_reports_are_taken_over_every_day_it_covers_each_report_once(settings):
    # P0 covers 1-3 March; R1 (1 March), R2 (2 March, force unknown: it meets every force's crimes)
    # and R3 (3 March) each have a twin crime, their own nearest. With k_crime = 2, P0 takes its two
    # nearest reports over its three days, R1 and R2, whatever day and force group each sits in
    rule = {"name": "no_place", "kind": "no_place", "keys": ["force_id"], "window": [0, 0],
            "narrative_top_k": 1, "narrative_top_k_crime": 2, "min_cosine": 0.0}
    online = {"method": "online", "location_type": "online"}
    told = {"R1": "antisemitic messages on instagram about the synagogue rabbi",
            "R2": "antisemitic messages on instagram about the synagogue choir",
            "R3": "antisemitic messages on instagram about a bakery"}
    c = cst(*({"report_key": key, "incident_date": date(2026, 3, day), **online, "description_redacted": text,
               **({"force_id": "unknown"} if key == "R2" else {})}
              for day, (key, text) in enumerate(told.items(), start=1)))
    p = police(
        {"crime_key": "P0", "occurred_from": datetime(2026, 3, 1, 9), "occurred_to": datetime(2026, 3, 3, 9),
         "summary_redacted": "ANTISEMITIC MESSAGES ON INSTAGRAM ABOUT THE SYNAGOGUE"},
        *({"crime_key": "P" + key[1:], "occurred_from": datetime(2026, 3, day, 10), "summary_redacted": text.upper()}
          for day, (key, text) in enumerate(told.items(), start=1)),
    )
    found = pairs_of(vectors(c, p, {**settings, "blocking_rules": [rule]}))
    assert found == {("R1", "P1"), ("R2", "P2"), ("R3", "P3"), ("R1", "P0"), ("R2", "P0")}


def k1_floors(full: pl.DataFrame, key: str, column: str, keys: list[str]) -> pl.DataFrame:
    """The floors (`key`, `column`) a full link of the online corpus gives, checked: with k = 1,
    R1's and P1's are their cosine with each other, R2's and P2's likewise."""
    floors = full.select(key, column).unique().sort(key)
    cosine = cosines(full)
    assert floors[key].to_list() == keys
    assert floors[column].to_list() == pytest.approx([cosine[("R1", "P1")], cosine[("R2", "P2")]])
    return floors


def test_a_reports_floor_keeps_a_night_of_crimes_from_pairing_it_with_their_best(settings):
    # k = 1: R1's floor is its cosine with P1, R2's with P2. A night brings P4 alone, a phone call:
    # its nearest report R2 takes it (the crime's own top-k); R1's best of that night is P4 too, but
    # far below R1's floor, so the floor keeps (R1, P4) out
    only_online, c, p = online_corpus(settings)
    floors = k1_floors(vectors(c, p, only_online), "report_key", "report_floor", ["R1", "R2"])
    night_crimes = pl.concat([p, police({"crime_key": "P4", "occurred_from": datetime(2026, 3, 1, 12),
                                         "summary_redacted": "PHONE CALL THREATENING THE SYNAGOGUE"})])
    texts = narrative_model(c, night_crimes, only_online)
    tonight = pl.Series(["P4"])
    unbounded = comparison_vectors_for(c, night_crimes, only_online, texts, changed_crimes=tonight)
    bounded = comparison_vectors_for(c, night_crimes, only_online, texts, changed_crimes=tonight, report_floors=floors)
    assert pairs_of(unbounded) == {("R1", "P4"), ("R2", "P4")}
    assert pairs_of(bounded) == {("R2", "P4")}
    assert bounded["report_floor"].is_null().all()  # unchanged reports met tonight's crimes only: no new floor


def test_a_crimes_floor_keeps_a_night_of_reports_from_pairing_it_with_their_best(settings):
    # the same from the crimes' side: P1's floor is its cosine with R1. A night brings R4 alone, a
    # phone call: its own nearest crime P2 takes it; P1's best of that night is R4 too (the only
    # report), far below P1's floor, so the floor keeps (R4, P1) out
    only_online, c, p = online_corpus(settings)
    p = p.with_columns(pl.lit("M8").alias("postcode_district"))  # placed crimes: one contest, the online reports
    floors = k1_floors(vectors(c, p, only_online), "crime_key", "crime_floor", ["P1", "P2"])
    night_reports = pl.concat([c, cst({"report_key": "R4", "incident_date": date(2026, 3, 1), "method": "online",
                                       "location_type": "online",
                                       "description_redacted": "a threatening phone call about the synagogue"})])
    texts = narrative_model(night_reports, p, only_online)
    tonight = pl.Series(["R4"])
    unbounded = comparison_vectors_for(night_reports, p, only_online, texts, changed_reports=tonight)
    bounded = comparison_vectors_for(night_reports, p, only_online, texts, changed_reports=tonight, crime_floors=floors)
    assert pairs_of(unbounded) == {("R4", "P1"), ("R4", "P2")}
    assert pairs_of(bounded) == {("R4", "P2")}
    assert bounded["crime_floor"].is_null().all()  # unchanged crimes met tonight's reports only: no new floor
    assert bounded["report_floor"].to_list() == pytest.approx([cosines(bounded)[("R4", "P2")]])


def test_a_floor_bounded_top_k_keeps_what_the_top_k_keeps_at_or_above_the_floor():
    # the floors are applied inside the top-k (a row with at most k cells above its floor keeps
    # them without a partition): the same cells as the whole top k filtered by the floor after
    import numpy as np

    from transforms.linkage_blocking import FLOOR_SLACK, _best

    rng = np.random.default_rng(5)
    for shape, k in (((40, 30), 3), ((25, 4), 10), ((60, 200), 10)):
        block = np.round(rng.random(shape), 2)  # rounded: ties at the floors and among the cells
        rows, cols = np.arange(shape[0]) * 7, np.arange(shape[1]) * 3
        floors = np.where(rng.random(shape[0]) < 0.2, -np.inf, np.round(rng.random(shape[0]), 2))
        whole = _best(block, rows, cols, k, 0.1)
        bound = dict(zip(rows, np.maximum(floors - FLOOR_SLACK, 0.1), strict=True))
        expected = {(r, c, s) for r, c, s in zip(*whole, strict=True) if s >= bound[r]}
        got = list(zip(*_best(block, rows, cols, k, 0.1, floors), strict=True))
        assert len(got) == len(set(got)) and set(got) == expected
        assert any(len([1 for r, *_ in got if r == row]) == min(k, shape[1]) for row in rows)  # some kept k


def test_a_crime_without_a_place_holds_the_lower_floor_of_its_two_contests():
    # a crime without a place takes its k best among the online reports and, apart, among the
    # placed ones: one stored floor bounds both only as the lower of the two, and only when it
    # reached k in both; a placed crime meets the online reports alone
    from transforms.linkage_blocking import _crime_floors

    contests = pl.DataFrame(
        {"col": [0, 0, 1, 2], "crime_floor": [0.5, 0.3, 0.4, 0.6], "contest": [0, 1, 0, 0]},
        schema={"col": pl.UInt32, "crime_floor": pl.Float64, "contest": pl.Int32},
    )
    crimes = pl.DataFrame(
        {"col": [0, 1, 2], "crime_key": ["online", "online_once", "placed"], "no_place": [True, True, False]},
        schema={"col": pl.UInt32, "crime_key": pl.String, "no_place": pl.Boolean},
    )
    found = _crime_floors(contests, crimes).sort("crime_key")
    assert found.rows() == [("online", 0.3), ("placed", 0.6)]


def test_a_pairs_narrative_cosine_is_that_of_its_two_narratives(settings):
    from transforms.linkage_text import pair_cosines

    c, p = two_incidents()
    texts = narrative_model(c, p, settings)
    v = comparison_vectors_for(c, p, settings, texts)
    indexed = v.select("report_key", "crime_key").join(texts.doc_ids("cst"), on="report_key", how="left").join(
        texts.doc_ids("police"), on="crime_key", how="left"
    )
    expected = pair_cosines(texts.cst_terms, texts.police_terms, indexed, texts.idf, "cst_doc", "police_doc")
    got = v.select("report_key", "crime_key", "narrative_cosine").join(
        indexed.with_columns(expected.alias("expected")), on=["report_key", "crime_key"]
    )
    assert got.height == v.height >= 3
    assert (got["narrative_cosine"] - got["expected"]).abs().max() < 1e-12
