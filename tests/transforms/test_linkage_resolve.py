"""Assignment on tiny literal frames: cardinality, sprees, local exchanges, held assignments (`taken`)."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from tests.transforms.test_linkage import (
    scored,  # the scored-pairs frame shared by the linkage tests
)
from transforms.linkage_resolve import DECISION_SCHEMA, resolved_pairs

THRESHOLDS = {"match": 0.5, "review": 0.3, "keep": 0.01}


def resolve(pairs: pl.DataFrame, groups: dict[str, str] | None = None, taken: pl.DataFrame | None = None) -> dict:
    crimes = pairs["crime_key"].unique().to_list()
    groups = groups or {c: f"G{c}" for c in crimes}
    out = resolved_pairs(
        pairs,
        pl.DataFrame({"crime_key": list(groups), "police_incident_id": list(groups.values())}),
        pl.DataFrame({"crime_key": crimes, "force_id": "gmp", "status": "confirmed"}),
        pl.DataFrame(schema=DECISION_SCHEMA),
        THRESHOLDS,
        taken,
    )
    return {(r, c): s for r, c, s in out.select("report_key", "crime_key", "status").iter_rows()}


def matched(statuses: dict) -> set[tuple[str, str]]:
    return {pair for pair, status in statuses.items() if status == "matched"}


def test_each_crime_goes_to_one_report_and_each_report_to_one_incident():
    out = resolve(scored(("R1", "P1", 0.95), ("R2", "P1", 0.9), ("R1", "P2", 0.8)))
    # R1 takes P1 (its strongest); R2's only candidate is then taken; R1 cannot also take P2
    # as P2 is another incident; the exchange R1->P2, R2->P1 is worth more in total
    assert matched(out) == {("R1", "P2"), ("R2", "P1")}
    assert all(sum(1 for (r, _), s in out.items() if r == report and s == "matched") == 1 for report in ("R1", "R2"))


def test_a_report_takes_every_crime_of_its_incident_group():
    out = resolve(scored(("R1", "P1", 0.9), ("R1", "P2", 0.35), ("R2", "P2", 0.6)), {"P1": "G1", "P2": "G1"})
    assert out[("R1", "P1")] == "matched" and out[("R1", "P2")] == "matched"
    assert out[("R2", "P2")] == "rejected"


def test_a_spree_of_lookalikes_on_consecutive_days_stays_separate():
    # four reports, four crimes a day apart in one street, all alike; each report fits its own day best
    rows = []
    for i in range(4):
        for j in range(4):
            rows.append((f"R{i}", f"P{j}", 0.97 if i == j else 0.9 - 0.1 * abs(i - j)))
    out = resolve(scored(*rows))
    assert matched(out) == {(f"R{i}", f"P{i}") for i in range(4)}


def test_an_exchange_beats_the_single_strongest_edge():
    # greedy takes R1-P1 (0.99) and leaves R2 with nothing; the two 0.98 edges together are stronger
    out = resolve(scored(("R1", "P1", 0.99), ("R1", "P2", 0.98), ("R2", "P1", 0.98)))
    assert matched(out) == {("R1", "P2"), ("R2", "P1")}


def test_a_chain_of_weaker_competitors_is_settled_from_the_strong_end():
    # R1-P1 > P1-R2 > R2-P2 > P2-R3 > R3-P3 ... : every other edge
    rows = [(f"R{i}", f"P{i}", 0.99 - 0.04 * i) for i in range(1, 8)]
    rows += [(f"R{i + 1}", f"P{i}", 0.97 - 0.04 * i) for i in range(1, 7)]
    out = resolve(scored(*rows))
    assert matched(out) == {(f"R{i}", f"P{i}") for i in range(1, 8)}


def test_below_the_review_threshold_nothing_is_assigned():
    out = resolve(scored(("R1", "P1", 0.25), ("R2", "P2", 0.4), ("R3", "P3", 0.8)))
    assert out == {("R1", "P1"): "rejected", ("R2", "P2"): "review", ("R3", "P3"): "matched"}


def test_a_held_assignment_outside_the_pairs_given_takes_its_report_and_group():
    pairs = scored(("R1", "P1", 0.95), ("R2", "P1", 0.9), ("R2", "P2", 0.7))
    # R1 is settled elsewhere (an incremental night's boundary): R2 takes P1
    held = pl.DataFrame({"report_key": ["R1"], "police_incident_id": ["G9"]})
    out = resolve(pairs, taken=held)
    assert matched(out) == {("R2", "P1")}
    assert out[("R1", "P1")] == "rejected"
    # the group of P1 settled elsewhere: R2 falls back to P2
    out = resolve(pairs, taken=pl.DataFrame({"report_key": ["R9"], "police_incident_id": ["GP1"]}))
    assert matched(out) == {("R2", "P2")}


def test_decisions_do_not_depend_on_unrelated_pairs():
    # incremental stability: adding a far-away pair changes nothing else
    base = scored(("R1", "P1", 0.95), ("R2", "P1", 0.9), ("R2", "P2", 0.85), ("R3", "P2", 0.6))
    before = resolve(base)
    after = resolve(pl.concat([base, scored(("R8", "P8", 0.9))]))
    assert {k: v for k, v in after.items() if k != ("R8", "P8")} == before
    # and resolving a neighbourhood with the rest held as taken gives the same as resolving everything
    everything = pl.concat([base, scored(("R4", "P3", 0.9), ("R3", "P3", 0.7))])
    full = resolve(everything)
    part = resolve(base, taken=pl.DataFrame({"report_key": ["R4"], "police_incident_id": ["GP3"]}))
    assert {k: v for k, v in full.items() if k in part} == part


def test_the_same_input_in_any_order_gives_the_same_result():
    pairs = scored(("R1", "P1", 0.9), ("R2", "P1", 0.9), ("R1", "P2", 0.9), ("R2", "P2", 0.9))
    first = resolve(pairs)
    assert resolve(pairs.reverse()) == first
    assert len(matched(first)) == 2


def test_pairs_far_below_every_threshold_are_dropped_unless_their_group_or_a_reviewer_holds_them():
    pairs = scored(("R1", "P1", 0.95), ("R1", "P2", 0.001), ("R1", "P3", 0.001), ("R2", "P3", 0.002), ("R2", "P4", 0.02))
    decisions = pl.DataFrame(
        {"report_key": ["R2"], "crime_key": ["P3"], "decision": ["reject"], "decided_at": [datetime(2026, 3, 1)]},
        schema=DECISION_SCHEMA,
    )
    crimes = ["P1", "P2", "P3", "P4"]
    out = resolved_pairs(
        pairs,
        pl.DataFrame({"crime_key": crimes, "police_incident_id": ["G1", "G1", "G3", "G4"]}),
        pl.DataFrame({"crime_key": crimes, "force_id": "gmp", "status": "confirmed"}),
        decisions,
        THRESHOLDS,
    )
    statuses = {(r, c): s for r, c, s in out.select("report_key", "crime_key", "status").iter_rows()}
    # P2 shares R1's matched incident group; R2-P3 was reviewed; R2-P4 is above `keep`; R1-P3 is nothing
    assert statuses == {("R1", "P1"): "matched", ("R1", "P2"): "matched", ("R2", "P3"): "rejected",
                        ("R2", "P4"): "rejected"}
