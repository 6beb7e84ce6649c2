"""Suites as files: built-in ones in sync with the builder, defaults for new forces, overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from expectations.suites import (
    SUITES_DIR,
    SuiteError,
    default_raw_suite,
    raw_suite,
    staging_suite,
    write_builtin_suites,
)
from transforms.mapping import BUILTIN_MAPPINGS_DIR, SourceMapping, load_mapping

BUILTIN = sorted(p.stem for p in BUILTIN_MAPPINGS_DIR.glob("*.yml"))


def new_force() -> SourceMapping:
    return SourceMapping.model_validate(
        {
            "id": "nyp",
            "kind": "police",
            "format": "csv",
            "csv": {"delimiter": ";", "encoding": "cp1252"},
            "columns": {
                "ref": "Crime No",
                "offence_code": "HO Code",
                "occurred_from": "From",
                "occurred_to": "To",
                "status": "State",
                "postcode": "PC",
            },
            "date_formats": {"occurred_from": ["%d.%m.%Y %H:%M"], "occurred_to": ["%d.%m.%Y %H:%M"]},
            "cancelled_values": ["VOID"],
            "identifier_columns": ["Victim"],
            "free_text_columns": {"summary": "Notes"},
        }
    )


def test_every_builtin_source_has_a_suite_file_and_both_staging_tables_do():
    names = {p.stem for p in SUITES_DIR.glob("*.json")}
    assert {f"raw__{source}" for source in BUILTIN} | {"stg__cst_reports", "stg__police_crimes"} <= names


def test_builtin_suite_files_are_what_the_builder_writes(tmp_path: Path):
    for written in write_builtin_suites(tmp_path):
        shipped = SUITES_DIR / written.name
        assert json.loads(shipped.read_text()) == json.loads(written.read_text()), (
            f"{shipped} is stale: run `python -m expectations.suites`"
        )


@pytest.mark.parametrize("name", [*(f"raw__{s}" for s in BUILTIN), "stg__cst_reports", "stg__police_crimes"])
def test_suite_files_round_trip_through_gx_and_say_rule_level_and_reason(name: str):
    import great_expectations as gx

    data = json.loads((SUITES_DIR / f"{name}.json").read_text())
    suite = gx.ExpectationSuite(**data)
    again = suite.to_json_dict()
    assert [e["type"] for e in again["expectations"]] == [e["type"] for e in data["expectations"]]
    for expectation in data["expectations"]:
        meta = expectation["meta"]
        assert meta["level"] in {"file", "row"} and meta["rule"] and meta["reason"]


def test_builtin_suites_check_what_the_issue_asks():
    rules = {
        source: {e["meta"]["rule"] for e in raw_suite(load_mapping(f"builtin:{source}"))["expectations"]}
        for source in BUILTIN
    }
    for source, found in rules.items():
        assert {"required_columns_present", "ref_present", "ref_well_formed", "postcode_well_formed",
                "free_text_length", "field_length"} <= found, source
    assert {"incident_date_parseable", "incident_date_in_range", "reported_not_before_incident",
            "category_known", "last_updated_present"} <= rules["cst"]
    for force in ("gmp", "mps", "wyp"):
        assert {"ref_unique_in_file", "occurred_from_parseable", "occurred_range_ordered",
                "offence_code_known", "status_known"} <= rules[force]
    assert "ref_unique_in_file" not in rules["cst"]


def test_a_new_force_gets_a_default_suite_from_its_mapping(monkeypatch, tmp_path):
    monkeypatch.setenv("INCIDENTS_SUITES_DIR", str(tmp_path))
    suite = raw_suite(new_force())
    assert suite == default_raw_suite(new_force())
    assert suite["name"] == "raw__nyp"
    by_rule = {e["meta"]["rule"]: e for e in suite["expectations"]}
    assert by_rule["required_columns_present"]["kwargs"]["column_set"] == ["Crime No", "HO Code", "From", "State"]
    # a mapping names only its cancelled values: the full set of statuses needs a suite file
    assert "status_known" not in by_rule and "status_present" in by_rule
    assert "Notes" in by_rule["free_text_length"]["kwargs"]["column"]
    assert "Victim" in by_rule["field_length"]["kwargs"]["column"]


def test_a_suite_file_overrides_the_default(monkeypatch, tmp_path):
    suite = default_raw_suite(new_force(), ref_pattern=r"^NYP-[0-9]+$", status_values=["open", "void"])
    (tmp_path / "raw__nyp.json").write_text(json.dumps(suite))
    monkeypatch.setenv("INCIDENTS_SUITES_DIR", str(tmp_path))
    loaded = raw_suite(new_force())
    by_rule = {e["meta"]["rule"]: e for e in loaded["expectations"]}
    assert by_rule["ref_well_formed"]["kwargs"]["regex"] == r"^NYP-[0-9]+$"
    assert by_rule["status_known"]["kwargs"]["value_set"] == ["open", "void"]
    (tmp_path / "stg__police_crimes.json").write_text(json.dumps(staging_suite("police") | {"meta": {"x": 1}}))
    assert staging_suite("police")["meta"] == {"x": 1}


def test_an_invalid_suite_file_is_a_configuration_error(monkeypatch, tmp_path):
    monkeypatch.setenv("INCIDENTS_SUITES_DIR", str(tmp_path))
    (tmp_path / "raw__nyp.json").write_text("{not json")
    with pytest.raises(SuiteError, match="cannot be read"):
        raw_suite(new_force())
    no_level = {"name": "raw__nyp", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}, "meta": {"rule": "x"}}
    ]}
    (tmp_path / "raw__nyp.json").write_text(json.dumps(no_level))
    with pytest.raises(SuiteError, match="meta.rule and meta.level"):
        raw_suite(new_force())
    unknown = {"name": "raw__nyp", "expectations": [
        {"type": "expect_the_moon", "kwargs": {}, "meta": {"rule": "x", "level": "row"}}
    ]}
    (tmp_path / "raw__nyp.json").write_text(json.dumps(unknown))
    with pytest.raises(SuiteError, match="not a valid GX suite"):
        raw_suite(new_force())
