"""`incidents anonymise`: the same rules as staging, the sender's own layout out, still ingestible."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from flows.cli import main
from flows.commands.anonymise import anonymise_file
from flows.config import Settings
from flows.readers import read_extract
from transforms.anonymise import (
    CHECKED,
    DATE,
    DISTRICT,
    EMPTY,
    KEEP,
    NAMES,
    REDACT,
    STREET,
    anonymised_extract,
    column_actions,
)
from transforms.mapping import load_mapping
from transforms.staging import staged_cst_reports, staged_police_crimes

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
FILES = {
    "cst": SAMPLES / "cst" / "cst_incidents_20261104.csv",
    "gmp": SAMPLES / "police" / "gmp" / "gmp_antisemitic_crimes_20261019.csv",
    "mps": SAMPLES / "police" / "mps" / "MPS_Antisemitic_2026_10.xlsx",
    "wyp": SAMPLES / "police" / "wyp" / "wyp-hate-2026-10-01.jsonl",
}
KEY = b"k" * 32


def raw(source: str) -> pl.DataFrame:
    return read_extract(FILES[source].read_bytes(), load_mapping(f"builtin:{source}")).frame


def own_values(frame: pl.DataFrame, columns: list[str]) -> set[str]:
    values: set[str] = set()
    for column in columns:
        if column in frame.columns:
            for value in frame[column].drop_nulls().to_list():
                values.update(v.strip() for v in value.split("|") if len(v.strip()) > 3)
    return values


def test_column_actions_follow_the_mapping():
    mapping = load_mapping("builtin:gmp")
    actions = column_actions(["CRIME_REF", "LOCATION", "POSTCODE", "VICTIM_NAME", "MO_TEXT", "BEAT", "OFFENCE_CODE"], mapping)
    assert actions == {
        "CRIME_REF": KEEP, "LOCATION": STREET, "POSTCODE": DISTRICT, "VICTIM_NAME": EMPTY,
        "MO_TEXT": REDACT, "BEAT": EMPTY, "OFFENCE_CODE": CHECKED,
    }
    assert column_actions(["COMMITTED_FROM"], mapping) == {"COMMITTED_FROM": DATE}
    assert column_actions(["persons.victim.name", "persons.witness.name"], load_mapping("builtin:wyp")) == {
        "persons.victim.name": NAMES, "persons.witness.name": EMPTY,
    }


@pytest.mark.parametrize("source", sorted(FILES))
def test_anonymised_frame_keeps_layout_and_refs_and_drops_personal_values(source):
    mapping = load_mapping(f"builtin:{source}")
    frame = raw(source)
    result = anonymised_extract(frame, mapping)
    out = result.frame
    assert out.columns == frame.columns and out.height == frame.height
    assert out["_row"].to_list() == frame["_row"].to_list()
    ref = mapping.columns["ref"]
    assert out[ref].to_list() == frame[ref].to_list()
    for column in result.columns_with(EMPTY):
        assert out[column].null_count() == out.height, column
    postcode = out[mapping.columns["postcode"]].drop_nulls()
    assert postcode.str.contains(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$").all()
    address = out[mapping.columns["address"]].drop_nulls()
    assert not address.str.contains(r"\d").any()
    # no value of the record's own identifier fields survives anywhere in the output
    personal = own_values(frame, mapping.identifier_columns) - set(frame[mapping.columns["address"]].drop_nulls().to_list())
    text = "\n".join(" ".join("" if v is None else str(v) for v in row) for row in out.drop("_row").iter_rows())
    organisations = tuple(mapping.organisation_markers)
    leaked = [
        v for v in personal
        if v in text and not v.startswith("[") and not any(m in v.lower() for m in organisations)
    ]
    assert leaked == []


@pytest.mark.parametrize("source", sorted(FILES))
def test_anonymised_file_is_an_ingestible_extract_of_the_same_source(source, tmp_path):
    mapping = load_mapping(f"builtin:{source}")
    target = tmp_path / f"out{FILES[source].suffix}"
    written, left_out, _ = anonymise_file(FILES[source], target, mapping)
    again = read_extract(target.read_bytes(), mapping)
    original = raw(source)
    assert written == original.height and left_out == 0 and not again.bad_rows
    assert again.frame.height == original.height
    assert set(original.columns) <= set(again.frame.columns) | {c for c in original.columns if c.startswith("persons.")}
    reference = Settings().reference_data
    stage = staged_cst_reports if mapping.kind == "cst" else staged_police_crimes
    before = stage(original, mapping, reference, KEY)
    after = stage(again.frame, mapping, reference, KEY)
    key = "report_key" if mapping.kind == "cst" else "crime_key"
    same = [key, "street", "postcode_district", "town"] + (
        ["incident_date", "category", "force_id"] if mapping.kind == "cst" else
        ["occurred_from", "occurred_to", "offence_code", "status", "victim_count", "hate_flags"]
    )
    assert after.select(same).equals(before.select(same))
    assert after["postcode_unit_key"].null_count() == after.height  # full postcodes are gone


def test_jsonl_keeps_nesting_and_the_number_of_victims(tmp_path):
    target = tmp_path / "wyp.jsonl"
    anonymise_file(FILES["wyp"], target, load_mapping("builtin:wyp"))
    source_lines = [json.loads(line) for line in FILES["wyp"].read_text().splitlines() if line.strip()]
    out_lines = [json.loads(line) for line in target.read_text().splitlines() if line.strip()]
    assert len(out_lines) == len(source_lines)
    for before, after in zip(source_lines, out_lines, strict=True):
        assert list(after) == list(before)
        assert after["reference"] == before["reference"]
        assert after["occurred"] == before["occurred"]
        assert [p["role"] for p in after["persons"]] == [p["role"] for p in before["persons"]]
        for person in after["persons"]:
            assert person.get("name") in (None, "[NAME]")
            assert person.get("dob") is None


def test_command_writes_output_and_refuses_bad_input(tmp_path, capsys):
    out = tmp_path / "gmp.csv"
    assert main(["anonymise", str(FILES["gmp"]), str(out), "--source", "gmp"]) == 0
    assert out.exists()
    printed = capsys.readouterr().out
    assert "VICTIM_NAME" in printed  # names the columns emptied, never values
    not_gmp = tmp_path / "x.csv"
    not_gmp.write_text("a,b\n1,2\n")
    assert main(["anonymise", str(not_gmp), str(tmp_path / "y.csv"), "--source", "gmp"]) == 1
    assert main(["anonymise", str(FILES["gmp"]), str(FILES["gmp"]), "--source", "gmp"]) == 2


def test_kept_columns_lose_a_personal_value_typed_into_them():
    mapping = load_mapping("builtin:gmp")
    frame = raw("gmp").with_columns(
        pl.when(pl.col("_row") == 1).then(pl.lit("Zqxaaa Wvpaaa")).otherwise(pl.col("COMMITTED_FROM")).alias("COMMITTED_FROM"),
        pl.when(pl.col("_row") == 2).then(pl.lit("Jane Wvpaab")).otherwise(pl.col("RECORD_STATUS")).alias("RECORD_STATUS"),
        pl.when(pl.col("_row") == 2).then(pl.lit("Jane Wvpaab")).otherwise(pl.col("VICTIM_NAME")).alias("VICTIM_NAME"),
    )
    result = anonymised_extract(frame, mapping)
    out = result.frame
    assert out["COMMITTED_FROM"][0] is None
    assert out["COMMITTED_FROM"][1:].to_list() == frame["COMMITTED_FROM"][1:].to_list()
    assert "Wvpaab" not in str(out["RECORD_STATUS"][1])
    assert out["RECORD_STATUS"][2:].to_list() == frame["RECORD_STATUS"][2:].to_list()
    assert result.changed_cells == 2
