"""Exchange packs as pure transforms: who gets which records, in the agreed shape."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from transforms.exchange import (
    PACK_COLUMNS,
    missing_references,
    pack_for_cst,
    pack_for_force,
    period_between,
    period_from_label,
)

H2 = period_from_label("2026-H2")


def cst_frame(rows: list[dict]) -> pl.DataFrame:
    base = {
        "report_key": None, "incident_date": date(2026, 8, 1), "force_id": "gmp", "street": "Bury New Road",
        "town": "Salford", "postcode_sector": "M7 4", "postcode_district": "M7", "category": "Assault",
        "description_redacted": "[NAME] was pushed on Bury New Road.",
    }
    return pl.DataFrame([{**base, **row} for row in rows])


def police_frame(rows: list[dict]) -> pl.DataFrame:
    base = {
        "crime_key": None, "force_id": "gmp", "status": "confirmed",
        "occurred_from": datetime(2026, 8, 1, 12, 0), "occurred_to": datetime(2026, 8, 2, 12, 0),
        "street": "Leicester Road", "town": "Salford", "postcode_sector": None, "postcode_district": "M7",
        "offence_code": "8M", "offence_desc": "Racially or religiously aggravated harassment",
        "offence_category": "Abusive Behaviour", "summary_redacted": "IP [NAME] ABUSED.",
    }
    return pl.DataFrame([{**base, **row} for row in rows])


def pairs_frame(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"report_key": pl.String, "crime_key": pl.String, "status": pl.String}, orient="row")


def refs_frame(mapping: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"pseudonym": list(mapping), "source": ["x"] * len(mapping), "ref": list(mapping.values())},
        schema={"pseudonym": pl.String, "source": pl.String, "ref": pl.String},
    )


@pytest.mark.parametrize(
    ("label", "start", "end", "normalised"),
    [
        ("2026-H1", date(2026, 1, 1), date(2026, 6, 30), "2026-H1"),
        ("2026-h2", date(2026, 7, 1), date(2026, 12, 31), "2026-H2"),
        ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31), "2026-Q1"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "2024-02"),
        ("2026-12", date(2026, 12, 1), date(2026, 12, 31), "2026-12"),
        ("2025", date(2025, 1, 1), date(2025, 12, 31), "2025"),
    ],
)
def test_periods_from_labels(label, start, end, normalised):
    period = period_from_label(label)
    assert (period.start, period.end, period.label) == (start, end, normalised)


@pytest.mark.parametrize("label", ["2026-H3", "H1-2026", "2026-13", "last year", ""])
def test_unknown_period_labels_are_refused(label):
    with pytest.raises(ValueError):
        period_from_label(label)


def test_explicit_range_is_labelled_by_its_dates_and_must_be_ordered():
    assert period_between(date(2026, 1, 1), date(2026, 3, 31)).label == "2026-01-01_2026-03-31"
    with pytest.raises(ValueError):
        period_between(date(2026, 3, 1), date(2026, 1, 1))


def test_pack_for_a_force_lists_cst_reports_in_its_area_it_has_no_matched_crime_for():
    cst = cst_frame([
        {"report_key": "r_unmatched"},
        {"report_key": "r_matched"},
        {"report_key": "r_review_only"},
        {"report_key": "r_matched_other_force"},
        {"report_key": "r_other_area", "force_id": "mps"},
        {"report_key": "r_before_period", "incident_date": date(2026, 6, 30)},
        {"report_key": "r_after_period", "incident_date": date(2027, 1, 1)},
        {"report_key": "r_before_joining", "incident_date": date(2026, 7, 2)},
    ])
    police = police_frame([{"crime_key": "c_gmp"}, {"crime_key": "c_mps", "force_id": "mps"}])
    pairs = pairs_frame([
        ("r_matched", "c_gmp", "matched"),
        ("r_review_only", "c_gmp", "review"),
        ("r_unmatched", "c_gmp", "rejected"),
        ("r_matched_other_force", "c_mps", "matched"),
    ])
    refs = refs_frame({k: k.upper() for k in cst["report_key"]})
    pack = pack_for_force(cst, police, pairs, refs, "gmp", H2, participating_from=date(2026, 7, 5))
    assert pack.columns == PACK_COLUMNS
    assert sorted(pack["reference"]) == ["R_MATCHED_OTHER_FORCE", "R_REVIEW_ONLY", "R_UNMATCHED"]
    assert set(pack["source"]) == {"cst"}
    row = pack.row(0, named=True)
    assert row["date"] == row["date_to"] == date(2026, 8, 1)
    assert (row["street"], row["postcode_sector"], row["category"], row["offence"]) == (
        "Bury New Road", "M7 4", "Assault", None,
    )
    assert row["summary"] == "[NAME] was pushed on Bury New Road."


def test_pack_for_cst_leaves_out_matched_grouped_and_cancelled_crimes():
    police = police_frame([
        {"crime_key": "c_unmatched"},
        {"crime_key": "c_matched"},
        {"crime_key": "c_same_incident_as_matched"},  # another victim of the matched incident
        {"crime_key": "c_cancelled", "status": "cancelled"},
        {"crime_key": "c_review", "force_id": "mps"},
        {"crime_key": "c_wyp", "force_id": "wyp"},
        {"crime_key": "c_old", "occurred_from": datetime(2026, 5, 1)},
    ])
    pairs = pairs_frame([("r1", "c_matched", "matched"), ("r2", "c_review", "review")])
    groups = pl.DataFrame({
        "crime_key": ["c_matched", "c_same_incident_as_matched", "c_unmatched"],
        "police_incident_id": ["g1", "g1", "g2"],
    })
    refs = refs_frame({k: k.upper() for k in police["crime_key"]})
    forces = {"gmp": date(2025, 1, 1), "mps": None, "wyp": date(2027, 1, 1)}
    pack = pack_for_cst(police, pairs, groups, refs, forces, H2)
    assert sorted(pack["reference"]) == ["C_REVIEW", "C_UNMATCHED"]
    by_ref = {r["reference"]: r for r in pack.iter_rows(named=True)}
    gmp = by_ref["C_UNMATCHED"]
    assert gmp["source"] == "gmp"
    assert (gmp["date"], gmp["date_to"]) == (date(2026, 8, 1), date(2026, 8, 2))
    assert gmp["offence"] == "8M Racially or religiously aggravated harassment"
    assert gmp["category"] == "Abusive Behaviour"
    assert gmp["postcode_sector"] == "M7"  # district when the sector is unknown
    only_mps = pack_for_cst(police, pairs, groups, refs, {"mps": None}, H2)
    assert only_mps["reference"].to_list() == ["C_REVIEW"]


def test_pack_for_cst_without_groups_still_works():
    police = police_frame([{"crime_key": "a"}, {"crime_key": "b"}])
    pack = pack_for_cst(police, pairs_frame([("r", "a", "matched")]), None, refs_frame({"a": "A", "b": "B"}),
                        {"gmp": None}, H2)
    assert pack["reference"].to_list() == ["B"]


def test_records_without_a_stored_reference_are_counted():
    cst = cst_frame([{"report_key": "known"}, {"report_key": "lost"}])
    pack = pack_for_force(cst, police_frame([{"crime_key": "c"}]), pairs_frame([]), refs_frame({"known": "K"}), "gmp", H2)
    assert missing_references(pack) == 1


def test_pack_carries_no_pseudonym_and_no_full_postcode():
    cst = cst_frame([{"report_key": "a" * 64, "postcode_sector": "M7 4"}])
    pack = pack_for_force(cst, police_frame([{"crime_key": "c"}]), pairs_frame([]), refs_frame({"a" * 64: "CST/26/1"}), "gmp", H2)
    text = " ".join(str(v) for v in pack.row(0))
    assert "a" * 64 not in text
    assert not pack["postcode_sector"].str.contains(r"\d[A-Z]{2}$").any()
