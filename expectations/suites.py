"""Expectation suites as files: built from a source mapping, overridable by a JSON file.

Every source mapping gets a raw suite `raw__<source id>` and each canonical
staging table a suite (`stg__cst_reports`, `stg__police_crimes`). A suite is a
Great Expectations 1.x suite serialised with `suite.to_json_dict()`; it is
looked up, first match wins, in

1. the folders listed in `$INCIDENTS_SUITES_DIR` (separated by `os.pathsep`),
2. `expectations/suites/` (the built-in sources' suites),

and when no file exists (a newly onboarded force), built from the mapping by
`default_raw_suite`. So adding a force needs no suite at all, and its suite can
be refined later by dropping `raw__<id>.json` into a suites folder.

Suites run on a *validation frame* (see `expectations/frames.py`) with
`_file` (which file of the batch) and `_row`, and otherwise the sender's own
column names holding values normalised for checking (dates parsed, codes upper-cased, ...), plus helper columns
`<column> (parse)` (`parsed`, `blank` or `unparseable` for a date or time),
`<column> (length)` and `longest of [...]` (characters). Free text and
identifiers reach the validation frame only as lengths.

Each expectation's `meta` says how a failure is handled:
`rule` (the name stored in the quarantine table), `level` (`file`: the whole
file is quarantined; `row`: only the failing rows) and `reason` (the sentence
stored with it: it names columns and rules, never values).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from transforms.categories import CST_CATEGORIES
from transforms.mapping import REQUIRED_FIELDS, SourceMapping

SUITES_DIR = Path(__file__).parent / "suites"
# Every validation frame numbers its file in `_file` (0 for a single file), so that the
# files of one delivery can be validated in one GX run and "unique within a file" holds.
FILE_COLUMN = "_file"
SUITES_ENV = "INCIDENTS_SUITES_DIR"

# Canonical date fields and whether a blank value is allowed.
DATE_FIELDS = ("incident_date", "reported_date", "last_updated", "occurred_from", "occurred_to")
TIME_FIELDS = ("incident_time",)
# Ranges that must be ordered: (later field, earlier field, days of tolerance, rule).
# CST sometimes records the incident a day after the report (dates given loosely).
ORDERED_PAIRS = (
    ("occurred_to", "occurred_from", 0, "occurred_range_ordered"),
    ("reported_date", "incident_date", 1, "reported_not_before_incident"),
)
FREE_TEXT_MAX_CHARS = 50_000
FIELD_MAX_CHARS = 1_000
EARLIEST_DATE = "1980-01-01"
FUTURE_TOLERANCE_DAYS = 1

# A generic, permissive reference: 3-40 characters of letters, digits and
# separators, at least one digit. Built-in suites use each sender's own format.
DEFAULT_REF_PATTERN = r"^(?=.*[0-9])[A-Za-z0-9][A-Za-z0-9/_.: -]{2,39}$"
# The shape of a UK postcode, compacted (upper case, no spaces): area letters,
# a digit, then at most five letters or digits. A mistyped postcode of that
# shape (`M25 5JFL`) loads with postcode_quality `invalid`; a value that is not
# postcode-shaped at all (a phone number, words) is quarantined. Fillers
# (`N/A`, `TBC`, `unknown`, `0000`) count as blank, see expectations/frames.py.
POSTCODE_PATTERN = r"^[A-Z]{1,2}[0-9][A-Z0-9]{0,5}$"
HEX_KEY_PATTERN = r"^[0-9a-f]{64}$"
OFFENCE_CODE_PATTERN = r"^[0-9]{1,3}[A-Z]{0,2}$"

# What the built-in senders' references and statuses look like (see
# shared/spec/extracts.md). `write_builtin_suites()` bakes these into
# expectations/suites/raw__<id>.json.
BUILTIN_REFINEMENTS: dict[str, dict[str, Any]] = {
    "cst": {"ref_pattern": r"^CST/[0-9]{2}/[0-9]{4,7}$"},
    "gmp": {"ref_pattern": r"^GMP/[0-9]{2}/[0-9]{6,8}$", "status_values": ["confirmed", "cancelled"]},
    "mps": {"ref_pattern": r"^[0-9]{2}/[0-9]{6,8}/[0-9]{2}$", "status_values": ["crime", "no crime"]},
    "wyp": {"ref_pattern": r"^[0-9]{9,13}$", "status_values": ["confirmed", "cancelled"]},
}


class SuiteError(ValueError):
    """A suite file is missing, unreadable or not a valid GX suite (a configuration error)."""


# values of a `<column> (parse)` helper column
PARSED, BLANK, UNPARSEABLE = "parsed", "blank", "unparseable"


def parse_column(column: str) -> str:
    """Helper column: `parsed`, `blank` or `unparseable` for each value of a date/time column."""
    return f"{column} (parse)"


def length_column(column: str) -> str:
    """Helper column: the number of characters of each value."""
    return f"{column} (length)"


def shifted_column(column: str, days: int) -> str:
    """Helper column: a date column moved `days` later (for comparisons with a tolerance)."""
    return f"{column} (+{days} days)"


def longest_column(columns: list[str]) -> str:
    """Helper column: the length of the longest of these columns' values in each row."""
    return "longest of " + json.dumps(list(columns), ensure_ascii=False)


def _expectation(kind: str, rule: str, level: str, reason: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"rule": rule, "level": level, "reason": reason}}


def _present_and_known(column: str, rule: str, known_as: str, value_set: Any) -> list[dict[str, Any]]:
    """A coded column must be filled (`<rule>_present`) and hold a known code (`<rule>_known`)."""
    return [
        _expectation(
            "expect_column_values_to_not_be_null", f"{rule}_present", "row",
            f"column {column!r} is empty", column=column,
        ),
        _expectation(
            "expect_column_values_to_be_in_set", f"{rule}_known", "row",
            f"column {column!r} is not {known_as}", column=column, value_set=value_set,
        ),
    ]


def _formats_text(formats: list[str]) -> str:
    return " or ".join(formats) if formats else "ISO 8601"


def default_raw_suite(
    mapping: SourceMapping,
    ref_pattern: str | None = None,
    status_values: list[str] | None = None,
) -> dict[str, Any]:
    """The raw suite for a source, built from its mapping alone (JSON-able dict)."""
    columns = mapping.columns
    required = set(REQUIRED_FIELDS[mapping.kind])
    expectations: list[dict[str, Any]] = [
        _expectation(
            "expect_table_columns_to_match_set",
            "required_columns_present",
            "file",
            "required columns missing: {missing}",
            column_set=mapping.required_source_columns,
            exact_match=False,
        ),
        _expectation(
            "expect_table_row_count_to_be_between",
            "file_has_rows",
            "file",
            "the file has no data rows",
            min_value=1,
        ),
    ]
    ref = columns["ref"]
    expectations += [
        _expectation(
            "expect_column_values_to_not_be_null", "ref_present", "row",
            f"column {ref!r} is empty", column=ref,
        ),
        _expectation(
            "expect_column_values_to_match_regex", "ref_well_formed", "row",
            f"column {ref!r} is not a well-formed {mapping.id} reference",
            column=ref, regex=ref_pattern or DEFAULT_REF_PATTERN,
        ),
    ]
    if mapping.kind == "police":
        expectations.append(
            _expectation(
                "expect_compound_columns_to_be_unique", "ref_unique_in_file", "row",
                f"the reference in column {ref!r} appears more than once in this file",
                column_list=[FILE_COLUMN, ref], ignore_row_if="any_value_is_missing",
            )
        )
    for field in DATE_FIELDS:
        column = columns.get(field)
        if column is None:
            continue
        formats = _formats_text(mapping.date_formats.get(field, []))
        if field in required:
            expectations.append(
                _expectation(
                    "expect_column_values_to_not_be_in_set", f"{field}_present", "row",
                    f"column {column!r} is empty", column=parse_column(column), value_set=[BLANK],
                )
            )
        expectations += [
            _expectation(
                "expect_column_values_to_not_be_in_set", f"{field}_parseable", "row",
                f"column {column!r} is not a date in the expected format ({formats})",
                column=parse_column(column), value_set=[UNPARSEABLE],
            ),
            _expectation(
                "expect_column_values_to_be_between", f"{field}_in_range", "row",
                f"column {column!r} is a date in the future or before {{earliest_date}}",
                column=column,
                min_value={"$PARAMETER": "earliest_date"},
                max_value={"$PARAMETER": "latest_date"},
            ),
        ]
    for field in TIME_FIELDS:
        column = columns.get(field)
        if column is None:
            continue
        formats = _formats_text(mapping.date_formats.get(field, []))
        expectations.append(
            _expectation(
                "expect_column_values_to_not_be_in_set", f"{field}_parseable", "row",
                f"column {column!r} is not a time in the expected format ({formats})",
                column=parse_column(column), value_set=[UNPARSEABLE],
            )
        )
    for later, earlier, tolerance, rule in ORDERED_PAIRS:
        if later in columns and earlier in columns:
            allowed = "before" if not tolerance else f"more than {tolerance} day(s) before"
            expectations.append(
                _expectation(
                    "expect_column_pair_values_a_to_be_greater_than_b", rule, "row",
                    f"column {columns[later]!r} is {allowed} column {columns[earlier]!r}",
                    column_A=shifted_column(columns[later], tolerance) if tolerance else columns[later],
                    column_B=columns[earlier], or_equal=True,
                    ignore_row_if="either_value_is_missing",
                )
            )
    if mapping.kind == "cst":
        expectations += _present_and_known(
            columns["category"], "category", "one of CST's six categories", {"$PARAMETER": "category_variants"}
        )
    else:
        status = columns["status"]
        expectations += _present_and_known(
            columns["offence_code"], "offence_code", "a known Home Office offence code", {"$PARAMETER": "offence_codes"}
        )
        expectations.append(
            _expectation(
                "expect_column_values_to_not_be_null", "status_present", "row",
                f"column {status!r} is empty", column=status,
            )
        )
        if status_values:
            # A mapping names only the values meaning cancelled (staging takes any other
            # value as confirmed), so the full set is known only from a suite file.
            statuses = [v.lower() for v in status_values]
            expectations.append(
                _expectation(
                    "expect_column_values_to_be_in_set", "status_known", "row",
                    f"column {status!r} is not one of the statuses {', '.join(statuses)}",
                    column=status, value_set=statuses,
                )
            )
    postcode = columns.get("postcode")
    if postcode is not None:
        expectations.append(
            _expectation(
                "expect_column_values_to_match_regex", "postcode_well_formed", "row",
                f"column {postcode!r} does not have the shape of a UK postcode",
                column=postcode, regex=POSTCODE_PATTERN,
            )
        )
    free_text = list(dict.fromkeys(mapping.free_text_columns.values()))
    short = [
        c for c in dict.fromkeys([*columns.values(), *mapping.identifier_columns]) if c not in free_text
    ]
    for group, limit, rule, what in (
        (free_text, FREE_TEXT_MAX_CHARS, "free_text_length", "a free-text column"),
        (short, FIELD_MAX_CHARS, "field_length", "a column"),
    ):
        if group:
            expectations.append(
                _expectation(
                    "expect_column_values_to_be_between", rule, "row",
                    f"{what} ({', '.join(group)}) is longer than {limit:,} characters",
                    column=longest_column(group), max_value=limit,
                )
            )
    return {
        "name": f"raw__{mapping.id}",
        "expectations": expectations,
        "meta": {
            "source_id": mapping.id,
            "kind": mapping.kind,
            "index_column": "_row",
            "parameters": {
                "earliest_date": EARLIEST_DATE,
                "future_tolerance_days": FUTURE_TOLERANCE_DAYS,
            },
        },
    }


def default_staging_suite(kind: str) -> dict[str, Any]:
    """The suite on a canonical staging frame (`cst` or `police`)."""
    from transforms.staging import CST_COLUMNS, POLICE_COLUMNS

    key = "report_key" if kind == "cst" else "crime_key"
    qualities = ["unit", "district", "invalid", "missing"]
    expectations: list[dict[str, Any]] = [
        _expectation(
            "expect_table_columns_to_match_set", "staged_columns_present", "file",
            "standardised columns missing: {missing}",
            column_set=CST_COLUMNS if kind == "cst" else POLICE_COLUMNS, exact_match=False,
        ),
        _expectation(
            "expect_column_values_to_not_be_null", f"staged_{key}_present", "row",
            f"{key} is empty after standardisation", column=key,
        ),
        _expectation(
            "expect_column_values_to_match_regex", f"staged_{key}_pseudonymised", "row",
            f"{key} is not a keyed pseudonym", column=key, regex=HEX_KEY_PATTERN,
        ),
        _expectation(
            "expect_column_values_to_match_regex", "staged_postcode_unit_key_pseudonymised", "row",
            "postcode_unit_key is not a keyed pseudonym", column="postcode_unit_key", regex=HEX_KEY_PATTERN,
        ),
        _expectation(
            "expect_column_values_to_be_in_set", "staged_postcode_quality_known", "row",
            "postcode_quality is not one of " + ", ".join(qualities),
            column="postcode_quality", value_set=qualities,
        ),
    ]
    if kind == "cst":
        expectations += [
            _expectation(
                "expect_column_values_to_not_be_null", "staged_incident_date_present", "row",
                "incident_date is empty after standardisation", column="incident_date",
            ),
            _expectation(
                "expect_column_values_to_not_be_null", "staged_category_present", "row",
                "category is not one of the six canonical categories", column="category",
            ),
            _expectation(
                "expect_column_values_to_be_in_set", "staged_category_known", "row",
                "category is not one of the six canonical categories",
                column="category", value_set=list(CST_CATEGORIES),
            ),
            _expectation(
                "expect_column_values_to_be_in_set", "staged_reported_to_police_known", "row",
                "reported_to_police is not yes, no or unknown",
                column="reported_to_police", value_set=["yes", "no", "unknown"],
            ),
            _expectation(
                "expect_column_values_to_be_in_set", "staged_force_id_basis_known", "row",
                "force_id_basis is not force_area, postcode, town or unknown",
                column="force_id_basis", value_set=["force_area", "postcode", "town", "unknown"],
            ),
        ]
        text_columns = ["description_redacted", "offender_description_redacted"]
    else:
        expectations += [
            _expectation(
                "expect_column_values_to_match_regex", "staged_offence_code_well_formed", "row",
                "offence_code is not a Home Office code", column="offence_code",
                regex=OFFENCE_CODE_PATTERN,
            ),
            _expectation(
                "expect_column_values_to_be_in_set", "staged_offence_category_known", "row",
                "offence_category is not one of the six canonical categories",
                column="offence_category", value_set=list(CST_CATEGORIES),
            ),
            _expectation(
                "expect_column_values_to_not_be_null", "staged_occurred_from_present", "row",
                "occurred_from is empty after standardisation", column="occurred_from",
            ),
            _expectation(
                "expect_column_pair_values_a_to_be_greater_than_b", "staged_occurred_range_ordered", "row",
                "occurred_to is before occurred_from",
                column_A="occurred_to", column_B="occurred_from", or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
            _expectation(
                "expect_column_values_to_be_in_set", "staged_status_known", "row",
                "status is not confirmed or cancelled",
                column="status", value_set=["confirmed", "cancelled"],
            ),
            _expectation(
                "expect_column_values_to_be_between", "staged_victim_count_plausible", "row",
                "victim_count is not between 1 and 1,000",
                column="victim_count", min_value=1, max_value=1000,
            ),
        ]
        text_columns = ["summary_redacted"]
    expectations.append(
        _expectation(
            "expect_column_values_to_be_between", "staged_text_length", "row",
            f"redacted text ({', '.join(text_columns)}) is longer than {FREE_TEXT_MAX_CHARS:,} characters",
            column=longest_column(text_columns), max_value=FREE_TEXT_MAX_CHARS,
        )
    )
    name = "stg__cst_reports" if kind == "cst" else "stg__police_crimes"
    return {
        "name": name,
        "expectations": expectations,
        "meta": {"kind": kind, "index_column": "source_row", "parameters": {}},
    }


def suite_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(SUITES_ENV, "").split(os.pathsep) if p.strip()]
    return [*extra, SUITES_DIR]


def suite_file(name: str) -> Path | None:
    for folder in suite_dirs():
        path = folder / f"{name}.json"
        if path.is_file():
            return path
    return None


def raw_suite(mapping: SourceMapping) -> dict[str, Any]:
    """The raw suite of a source: its file if there is one, else built from the mapping."""
    path = suite_file(f"raw__{mapping.id}")
    if path is None:
        return default_raw_suite(mapping)
    return _loaded(str(path), path.stat().st_mtime_ns)


def staging_suite(kind: str) -> dict[str, Any]:
    """The suite of a canonical staging frame: its file if there is one, else the default."""
    name = "stg__cst_reports" if kind == "cst" else "stg__police_crimes"
    path = suite_file(name)
    if path is None:
        return default_staging_suite(kind)
    return _loaded(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=64)
def _loaded(path: str, _mtime: int) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise SuiteError(f"expectation suite {path} cannot be read: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise SuiteError(f"expectation suite {path} has no list of expectations")
    check_suite(data, path)
    return data


def check_suite(data: dict[str, Any], where: str = "suite") -> None:
    """Raise SuiteError unless GX accepts the suite and every expectation says its rule and level."""
    from expectations import gx_process

    problem = gx_process.call(_gx_problem, data)  # where GX runs: the run's helper process, or here
    if problem:
        raise SuiteError(f"expectation suite {where} is not a valid GX suite: {problem}")
    for number, expectation in enumerate(data["expectations"], start=1):
        meta = expectation.get("meta") or {}
        if meta.get("level") not in {"file", "row"} or not meta.get("rule"):
            raise SuiteError(
                f"expectation {number} of suite {where} needs meta.rule and meta.level (file or row)"
            )


def _gx_problem(data: dict[str, Any]) -> str | None:
    """Why GX does not accept the suite, or None."""
    from expectations.gx_runner import gx_suite, known_expectation_types

    unknown = sorted({str(e.get("type")) for e in data["expectations"]} - known_expectation_types())
    if unknown:
        return f"unknown expectations {unknown}"
    try:
        built = gx_suite(json.dumps(data, sort_keys=True))
    except Exception as error:
        return str(error)
    if len(built.expectations) != len(data["expectations"]):
        # GX logs and skips an expectation it does not know instead of raising
        known = {e.expectation_type for e in built.expectations}
        return f"unknown expectations {sorted({e.get('type', '?') for e in data['expectations']} - known)}"
    return None


def write_builtin_suites(folder: Path = SUITES_DIR) -> list[Path]:
    """(Re)write the built-in suites: one per shipped mapping plus the two staging suites."""
    from transforms.mapping import BUILTIN_MAPPINGS_DIR, load_mapping

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    suites = []
    for path in sorted(BUILTIN_MAPPINGS_DIR.glob("*.yml")):
        mapping = load_mapping(f"builtin:{path.stem}")
        suites.append(default_raw_suite(mapping, **BUILTIN_REFINEMENTS.get(mapping.id, {})))
    suites += [default_staging_suite("cst"), default_staging_suite("police")]
    for suite in suites:
        target = folder / f"{suite['name']}.json"
        target.write_text(json.dumps(suite, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
    return written


if __name__ == "__main__":
    for written_path in write_builtin_suites():
        print(written_path)  # noqa: T201
