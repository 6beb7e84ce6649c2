"""Staging: raw sender rows -> canonical rows, on tiny literal frames."""

from __future__ import annotations

import polars as pl
import pytest

from transforms.mapping import load_mapping
from transforms.pseudonyms import keyed_hashes, keyed_token_lists
from transforms.reference_data import ReferenceData
from transforms.staging import (
    CST_COLUMNS,
    POLICE_COLUMNS,
    staged_cst_reports,
    staged_police_crimes,
    street_name,
)

KEY = b"k" * 32

REFERENCE = ReferenceData(
    force_areas=pl.DataFrame({"postcode_prefix": ["M", "M7", "LS"], "force_id": ["gmp", "gmp", "wyp"]}),
    forces=pl.DataFrame({
        "force_id": ["gmp", "wyp", "mps"],
        "name": ["Greater Manchester Police", "West Yorkshire Police", "Metropolitan Police Service"],
        "aliases": ["GMP", "WYP", "Met|MPS"],
    }),
    towns=pl.DataFrame({"town": ["Salford", "Leeds"], "force_id": ["gmp", "wyp"]}),
    categories=pl.DataFrame({"variant": ["abusive behaviour", "damage & desecration"],
                             "category": ["Abusive Behaviour", "Damage & Desecration"]}),
    offence_categories=pl.DataFrame({"offence_code": ["8M", "58J"], "category": ["Abusive Behaviour", "Damage & Desecration"]}),
)


@pytest.mark.parametrize(
    ("address", "street"),
    [
        ("Flat 2, 12 Bury New Rd", "Bury New Rd"),
        ("12a Leicester Road", "Leicester Road"),
        ("No. 5 High Street", "High Street"),
        ("Northumberland Street", "Northumberland Street"),  # `No` only as a word of its own
        ("Number 7 Unity Way", "Unity Way"),
        ("10-12 Station Approach", "Station Approach"),
        ("", None),
        (None, None),
    ],
)
def test_street_name_drops_house_and_flat_numbers(address: str | None, street: str | None) -> None:
    frame = pl.DataFrame({"address": [address]}, schema={"address": pl.String})
    assert frame.select(street_name(pl.col("address")))["address"][0] == street


def cst_raw(**overrides: str | None) -> pl.DataFrame:
    row = {
        "Incident Ref": "CST/26/00001", "Date of Incident": "03/02/2026", "Time of Incident": "14:30",
        "Date Reported": "2026-02-04", "Category": "ABUSIVE BEHAVIOUR", "Method": "Verbal",
        "Location Type": "Street", "Address": "12 Bury New Road", "Town": "salford",
        "Postcode": "m7 4ab", "Police Force Area": "", "Victim Type": "Individual",
        "Reported to Police": "Y", "Police Reference": "GMP-26-0001234", "Last Updated": "2026-02-05T09:00:00",
        "Description": "Man shouted at him outside the shop", "Offender Description": "Tall man",
        "Victim Name": "Jane Doe",
    } | overrides
    return pl.DataFrame([row]).with_columns(pl.lit(1, dtype=pl.Int64).alias("_row"))


def test_a_cst_row_becomes_one_canonical_row_without_identifiers() -> None:
    staged = staged_cst_reports(cst_raw(), load_mapping("builtin:cst"), REFERENCE, KEY)
    assert staged.columns == CST_COLUMNS
    row = staged.row(0, named=True)
    assert row["report_key"] == keyed_hashes(pl.Series(["CST/26/00001"]), KEY, "cst:")[0]
    assert str(row["incident_date"]) == "2026-02-03"
    assert str(row["incident_time"]) == "14:30:00"
    assert str(row["reported_date"]) == "2026-02-04"
    assert row["category"] == "Abusive Behaviour"
    assert (row["postcode_sector"], row["postcode_district"], row["postcode_area"]) == ("M7 4", "M7", "M")
    assert row["postcode_quality"] == "unit"
    assert row["postcode_unit_key"] == keyed_hashes(pl.Series(["M7 4AB"]), KEY, "postcode:")[0]
    assert (row["street"], row["town"]) == ("Bury New Road", "Salford")
    assert (row["force_id"], row["force_id_basis"]) == ("gmp", "postcode")
    assert row["reported_to_police"] == "yes"
    assert len(row["cited_crime_ref_tokens"]) > 0
    # the victim's name only as keyed tokens, tag in clear
    plain = pl.Series([["n:doe", "n:jane", "w:doe jane"]], dtype=pl.List(pl.String))
    assert row["identity_tokens"] == keyed_token_lists(plain, KEY, "identity:")[0].to_list()
    assert all(len(t) == 34 for t in row["identity_tokens"])
    assert "Jane" not in str(staged.to_dicts()) and "jane" not in str(staged.to_dicts())
    assert "CST/26" not in str(staged.to_dicts())


@pytest.mark.parametrize(
    ("overrides", "force_id", "basis"),
    [
        ({"Police Force Area": "West Yorkshire Police"}, "wyp", "force_area"),  # named area beats postcode
        ({"Police Force Area": "met"}, "mps", "force_area"),  # aliases, any case
        ({"Postcode": "", "Town": "LEEDS"}, "wyp", "town"),
        ({"Postcode": "ZZ1 1ZZ", "Town": "Nowhere"}, "unknown", "unknown"),
    ],
)
def test_force_comes_from_area_then_postcode_then_town(overrides: dict[str, str], force_id: str, basis: str) -> None:
    row = staged_cst_reports(cst_raw(**overrides), load_mapping("builtin:cst"), REFERENCE, KEY).row(0, named=True)
    assert (row["force_id"], row["force_id_basis"]) == (force_id, basis)


def test_a_cst_row_without_a_time_has_a_null_time() -> None:
    row = staged_cst_reports(cst_raw(**{"Time of Incident": ""}), load_mapping("builtin:cst"), REFERENCE, KEY).row(0, named=True)
    assert row["incident_time"] is None


def gmp_raw(**overrides: str | None) -> pl.DataFrame:
    row = {
        "CRIME_REF": "GMP-26-0001234", "OFFENCE_CODE": "8m", "OFFENCE_DESC": "Racially aggravated harassment",
        "COMMITTED_FROM": "2026-02-03 14:00:00", "COMMITTED_TO": "", "REPORTED_DATE": "2026-02-03",
        "LOCATION": "12 Bury New Road", "POSTCODE": "M7 4AB", "HATE_FLAGS": "ANTISEMITIC|RACE",
        "RECORD_STATUS": "CONFIRMED", "MO_TEXT": "IP verbally abused by suspect", "VICTIM_NAME": "Jane Doe",
        "VICTIM_DOB": "1980-01-01", "SUSPECT_NAME": "John Smith",
    } | overrides
    return pl.DataFrame([row]).with_columns(pl.lit(1, dtype=pl.Int64).alias("_row"))


def test_a_police_row_becomes_one_canonical_row() -> None:
    staged = staged_police_crimes(gmp_raw(), load_mapping("builtin:gmp"), REFERENCE, KEY)
    assert staged.columns == POLICE_COLUMNS
    row = staged.row(0, named=True)
    assert row["crime_key"] == keyed_hashes(pl.Series(["GMP-26-0001234"]), KEY, "gmp:")[0]
    assert (row["force_id"], row["offence_code"], row["offence_category"]) == ("gmp", "8M", "Abusive Behaviour")
    # an open-ended crime ends when it began
    assert row["occurred_to"] == row["occurred_from"]
    assert row["status"] == "confirmed"
    assert row["victim_count"] == 1
    assert "Jane" not in str(staged.to_dicts()) and "Smith" not in str(staged.to_dicts())


def test_a_cancelled_police_row_is_marked_cancelled() -> None:
    row = staged_police_crimes(gmp_raw(RECORD_STATUS="cancelled"), load_mapping("builtin:gmp"), REFERENCE, KEY).row(0, named=True)
    assert row["status"] == "cancelled"
