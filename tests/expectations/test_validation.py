"""GX validation of raw extracts and staged frames: the right rows and rules, and no values anywhere."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from expectations.validation import (
    validate_extract,
    validate_extracts,
    validate_staged,
    validate_staged_frames,
)
from flows.config import Settings
from flows.readers import read_extract
from transforms.mapping import load_mapping
from transforms.staging import staged_cst_reports, staged_police_crimes

SHARED_SAMPLES = Path("/work/shared/spec/samples")
SAMPLES = SHARED_SAMPLES if SHARED_SAMPLES.exists() else Path(__file__).parents[1] / "data" / "samples"
NOW = datetime(2026, 11, 25, 2, 0)
KEY = bytes(range(32))
PLANTED = ["Quentin Zabriskie", "q.zabriskie@example.org", "07700 900461"]


@pytest.fixture(scope="module")
def reference():
    return Settings().reference_data


def sample(path: str, source: str) -> pl.DataFrame:
    return read_extract((SAMPLES / path).read_bytes(), load_mapping(f"builtin:{source}")).frame


def cst() -> pl.DataFrame:
    return sample("cst/cst_incidents_20261104.csv", "cst")


def gmp() -> pl.DataFrame:
    return sample("police/gmp/gmp_antisemitic_crimes_20261019.csv", "gmp")


def with_values(frame: pl.DataFrame, row: int, **values: str | None) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.col("_row") == row).then(pl.lit(value, dtype=pl.String)).otherwise(pl.col(column)).alias(column)
        for column, value in values.items()
    )


def failures(outcome) -> list[tuple[int, str, str]]:
    return outcome.row_failures.rows()


def test_samples_pass_every_suite(reference):
    for path, source in [
        ("cst/cst_incidents_20261104.csv", "cst"),
        ("police/gmp/gmp_antisemitic_crimes_20261019.csv", "gmp"),
        ("police/mps/MPS_Antisemitic_2026_10.xlsx", "mps"),
        ("police/wyp/wyp-hate-2026-10-01.jsonl", "wyp"),
    ]:
        mapping = load_mapping(f"builtin:{source}")
        raw = sample(path, source)
        outcome = validate_extract(raw, mapping, reference, now=NOW)
        assert outcome.file_failures == [] and outcome.row_failures.is_empty(), source
        stage = staged_cst_reports if mapping.kind == "cst" else staged_police_crimes
        checked = validate_staged(stage(raw, mapping, reference, KEY), mapping, now=NOW)
        assert checked.file_failures == [] and checked.row_failures.is_empty(), source


def test_cst_row_rules(reference):
    raw = cst()
    raw = with_values(raw, 1, **{"Incident Ref": None, "Victim Name": PLANTED[0]})
    raw = with_values(raw, 2, **{"Date of Incident": "31/02/2026", "Victim Email": PLANTED[1]})
    raw = with_values(raw, 3, **{"Date Reported": "03/01/2027", "Category": "Hooliganism"})
    raw = with_values(raw, 4, **{"Postcode": PLANTED[2], "Incident Ref": "CST-26-4"})
    raw = with_values(raw, 5, **{"Date of Incident": "05/10/2026", "Date Reported": "03/10/2026",
                                 "Time of Incident": "25:61", "Last Updated": None})
    outcome = validate_extract(raw, load_mapping("builtin:cst"), reference, now=NOW)
    assert outcome.file_failures == []
    assert failures(outcome) == [
        (1, "ref_present", "column 'Incident Ref' is empty"),
        (2, "incident_date_parseable",
         "column 'Date of Incident' is not a date in the expected format (%d/%m/%Y or %Y-%m-%d)"),
        (3, "reported_date_in_range", "column 'Date Reported' is a date in the future or before 1980-01-01"),
        (3, "category_known", "column 'Category' is not one of CST's six categories"),
        (4, "ref_well_formed", "column 'Incident Ref' is not a well-formed cst reference"),
        (4, "postcode_well_formed", "column 'Postcode' does not have the shape of a UK postcode"),
        (5, "last_updated_present", "column 'Last Updated' is empty"),
        (5, "incident_time_parseable",
         "column 'Time of Incident' is not a time in the expected format (%H:%M or %H:%M:%S)"),
        (5, "reported_not_before_incident",
         "column 'Date Reported' is more than 1 day(s) before column 'Date of Incident'"),
    ]


def test_cst_dates_reported_a_day_early_and_postcode_fillers_pass(reference):
    raw = with_values(cst(), 1, **{"Date of Incident": "09/10/2026", "Date Reported": "08/10/2026",
                                   "Postcode": "N/A"})
    raw = with_values(raw, 2, Postcode="0000")
    raw = with_values(raw, 3, Postcode="M25 5JFL")  # mistyped but postcode-shaped: staged as invalid
    outcome = validate_extract(raw, load_mapping("builtin:cst"), reference, now=NOW)
    assert failures(outcome) == []


def test_police_row_rules(reference):
    raw = gmp()
    raw = with_values(raw, 1, COMMITTED_TO="2026-10-16 14:00:00", OFFENCE_CODE="ZZ9")
    raw = with_values(raw, 2, CRIME_REF="GMP/26/0100007", RECORD_STATUS="MAYBE")
    raw = with_values(raw, 3, COMMITTED_FROM="1066-10-14 09:00:00", MO_TEXT="x" * 1_000_001)
    outcome = validate_extract(raw, load_mapping("builtin:gmp"), reference, now=NOW)
    assert failures(outcome) == [
        (1, "occurred_range_ordered", "column 'COMMITTED_TO' is before column 'COMMITTED_FROM'"),
        (1, "offence_code_known", "column 'OFFENCE_CODE' is not a known Home Office offence code"),
        (2, "ref_unique_in_file", "the reference in column 'CRIME_REF' appears more than once in this file"),
        (2, "status_known", "column 'RECORD_STATUS' is not one of the statuses confirmed, cancelled"),
        (3, "ref_unique_in_file", "the reference in column 'CRIME_REF' appears more than once in this file"),
        (3, "occurred_from_in_range",
         "column 'COMMITTED_FROM' is a date in the future or before 1980-01-01"),
        (3, "free_text_length", "a free-text column (MO_TEXT) is longer than 50,000 characters"),
    ]


def test_missing_required_column_fails_the_file(reference):
    raw = gmp().drop("RECORD_STATUS", "OFFENCE_CODE", "POSTCODE")
    outcome = validate_extract(raw, load_mapping("builtin:gmp"), reference, now=NOW)
    assert outcome.file_failures == [
        ("required_columns_present", "required columns missing: OFFENCE_CODE, RECORD_STATUS")
    ]


def test_staged_suite_catches_a_broken_standardisation(reference):
    mapping = load_mapping("builtin:gmp")
    staged = staged_police_crimes(gmp(), mapping, reference, KEY)
    staged = staged.with_columns(
        pl.when(pl.col("source_row") == 2).then(pl.lit("maybe")).otherwise(pl.col("status")).alias("status"),
        pl.when(pl.col("source_row") == 3).then(pl.lit("not-a-key")).otherwise(pl.col("crime_key")).alias("crime_key"),
    )
    checked = validate_staged(staged, mapping, now=NOW)
    assert failures(checked) == [
        (2, "staged_status_known", "status is not confirmed or cancelled"),
        (3, "staged_crime_key_pseudonymised", "crime_key is not a keyed pseudonym"),
    ]
    checked = validate_staged(staged.drop("offence_code"), mapping, now=NOW)
    assert checked.file_failures == [("staged_columns_present", "standardised columns missing: offence_code")]


def test_a_stack_of_files_gives_each_file_the_outcome_it_has_alone(reference):
    mapping = load_mapping("builtin:gmp")
    duplicated = with_values(gmp(), 1, RECORD_STATUS="MAYBE")
    duplicated = with_values(duplicated, 3, CRIME_REF="GMP/26/0100006")  # twice in this file
    clean_same_refs = gmp()  # the same references as the file above: unique within each file
    no_status = gmp().drop("RECORD_STATUS")
    no_rows = gmp().head(0)
    late = with_values(gmp(), 2, COMMITTED_FROM="2099-01-01 10:00:00", COMMITTED_TO="2099-01-01 10:00:00")
    raws = [duplicated, clean_same_refs, no_status, no_rows, late]
    labels = [f"police/gmp/f{i}.csv" for i in range(len(raws))]
    stacked, entries = validate_extracts(raws, mapping, reference, now=NOW, labels=labels)
    alone = [validate_extract(raw, mapping, reference, now=NOW) for raw in raws]
    for together, single in zip(stacked, alone, strict=True):
        assert together.file_failures == single.file_failures
        assert together.row_failures.rows() == single.row_failures.rows()
    assert failures(stacked[0]) == [
        (1, "status_known", "column 'RECORD_STATUS' is not one of the statuses confirmed, cancelled"),
        (2, "ref_unique_in_file", "the reference in column 'CRIME_REF' appears more than once in this file"),
        (3, "ref_unique_in_file", "the reference in column 'CRIME_REF' appears more than once in this file"),
    ]
    assert failures(stacked[1]) == []
    assert stacked[2].file_failures == [("required_columns_present", "required columns missing: RECORD_STATUS")]
    assert stacked[3].file_failures == [("file_has_rows", "the file has no data rows")]
    assert [r[:2] for r in failures(stacked[4])] == [(2, "occurred_from_in_range"), (2, "occurred_to_in_range")]
    # one GX run for the three complete files, one each for the two others
    assert [entry["label"] for entry in entries] == ["gmp: 3 files", labels[2], labels[3]]
    assert entries[0]["result"]["meta"]["files"] == [labels[0], labels[1], labels[4]]

    staged = [staged_police_crimes(raw, mapping, reference, KEY) for raw in (clean_same_refs, late)]
    staged[1] = staged[1].with_columns(pl.lit("maybe").alias("status"))
    checked, entries = validate_staged_frames(staged, mapping, now=NOW)
    assert failures(checked[0]) == [] and len(entries) == 1
    assert [r[:2] for r in failures(checked[1])] == [(n, "staged_status_known") for n in (1, 2, 3)]


def test_results_for_data_docs_carry_no_values(reference):
    raw = cst()
    raw = with_values(raw, 1, **{"Incident Ref": "CST/26/0000Z", "Postcode": PLANTED[2]})
    raw = with_values(raw, 2, **{"Category": PLANTED[0], "Date of Incident": PLANTED[1],
                                 "Description": PLANTED[0] + " " * 60_000})
    header_junk = raw.rename({"Town": PLANTED[0] + " town"})
    outcome = validate_extract(header_junk, load_mapping("builtin:cst"), reference, now=NOW)
    assert {rule for _, rule, _ in failures(outcome)} >= {"ref_well_formed", "category_known"}
    text = json.dumps([entry["result"] for entry in outcome.results]) + str(failures(outcome))
    for value in [*PLANTED, "CST/26/0000Z", "0000Z"]:
        assert value not in text
    result = outcome.results[0]["result"]
    assert result["suite_name"] == "raw__cst"
    failed = [r for r in result["results"] if not r["success"]]
    assert failed and all(set(r["result"]) <= {
        "element_count", "unexpected_count", "unexpected_percent", "missing_count", "missing_percent",
        "unexpected_percent_total", "unexpected_percent_nonmissing", "observed_value", "details",
    } for r in failed)
