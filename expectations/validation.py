"""Validation of extracts with Great Expectations: which whole-file and which row-level rules fail.

`validate_extract` runs a source's raw suite (see `expectations/suites.py`) on
a raw extract, `validate_staged` runs a staging suite on the canonical frame
staging produced from it. Both return rule names and reasons taken from the
suite, never the offending values: quarantine records and reports must not
carry personal data. `ValidationOutcome.results` holds GX validation-result
documents with every value taken out, for Data Docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from expectations.frames import (
    raw_validation_frame,
    staged_validation_frame,
    suite_columns,
    suite_parameters,
)
from expectations.gx_runner import run_suite, value_free
from expectations.suites import raw_suite, staging_suite
from transforms.mapping import SourceMapping
from transforms.reference_data import ReferenceData

ROW_FAILURE_SCHEMA = {"_row": pl.Int64, "rule": pl.String, "reason": pl.String}


@dataclass
class ValidationOutcome:
    file_failures: list[tuple[str, str]]
    row_failures: pl.DataFrame  # _row, rule, reason
    # one entry per suite run, for Data Docs: {"suite": suite JSON, "result": GX
    # validation result JSON with every value taken out}
    results: list[dict[str, Any]] = field(default_factory=list)


def validate_extract(
    raw: pl.DataFrame,
    mapping: SourceMapping,
    reference: ReferenceData,
    now: datetime | None = None,
) -> ValidationOutcome:
    """Check a raw extract against its source's suite."""
    suite = raw_suite(mapping)
    frame = raw_validation_frame(raw, mapping, suite)
    parameters = suite_parameters(suite, reference, now or datetime.now())
    outcomes = run_suite(suite, frame.to_pandas(), "_row", parameters)
    return _outcome(suite, outcomes, set(raw.columns), parameters, {"source_id": mapping.id})


def validate_staged(
    staged: pl.DataFrame, mapping: SourceMapping, now: datetime | None = None
) -> ValidationOutcome:
    """Check a staged (canonical) frame against its table's suite; rows by `source_row`."""
    suite = staging_suite(mapping.kind)
    frame = staged_validation_frame(staged, suite)
    parameters = suite_parameters(suite, None, now or datetime.now())
    outcomes = run_suite(suite, frame.to_pandas(), "source_row", parameters)
    return _outcome(suite, outcomes, set(staged.columns), parameters, {"source_id": mapping.id})


def _columns_of(config: dict[str, Any]) -> set[str]:
    read, _ = suite_columns({"expectations": [config]})
    return read


def _filled(template: str, outcome: dict[str, Any], parameters: dict[str, Any]) -> str:
    """The suite's reason with its placeholders filled from the suite's own settings only."""
    reason = template
    if "{missing}" in reason:
        missing = outcome["result"].get("details", {}).get("mismatched", {}).get("missing", [])
        reason = reason.replace("{missing}", ", ".join(missing) or "(unknown)")
    if "{earliest_date}" in reason and "earliest_date" in parameters:
        reason = reason.replace("{earliest_date}", f"{parameters['earliest_date']:%Y-%m-%d}")
    return reason


def _outcome(
    suite: dict[str, Any],
    outcomes: list[dict[str, Any]],
    columns_present: set[str],
    parameters: dict[str, Any],
    meta: dict[str, Any],
) -> ValidationOutcome:
    _, required = suite_columns(suite)
    missing_required = required - columns_present
    file_failures: list[tuple[str, str]] = []
    rows: list[tuple[int, str, str]] = []
    for outcome in outcomes:
        config = outcome["config"]
        rule = config["meta"].get("rule") or config["type"]
        level = config["meta"].get("level", "row")
        if outcome["raised"]:
            if missing_required and _columns_of(config) & missing_required:
                continue  # the missing column is reported by the column-set expectation
            file_failures.append(("validation_error", f"the check {rule!r} could not be evaluated"))
            continue
        if outcome["success"]:
            continue
        reason = _filled(config["meta"].get("reason") or f"{config['type']} failed", outcome, parameters)
        if level == "file" or not outcome["rows"]:
            file_failures.append((rule, reason))
        else:
            rows.extend((row, rule, reason) for row in outcome["rows"])
    failures = (
        pl.DataFrame(rows, schema=ROW_FAILURE_SCHEMA, orient="row")
        .unique(["_row", "rule"], maintain_order=True)
        .sort("_row", maintain_order=True)
    )
    document = value_free(suite, outcomes, suite["name"], meta)
    return ValidationOutcome(
        list(dict.fromkeys(file_failures)), failures, [{"suite": suite, "result": document}]
    )
