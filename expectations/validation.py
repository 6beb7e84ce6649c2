"""Validation of extracts with Great Expectations: which whole-file and which row-level rules fail.

`validate_extract` runs a source's raw suite (see `expectations/suites.py`) on
a raw extract, `validate_staged` runs a staging suite on the canonical frame
staging produced from it. Both return rule names and reasons taken from the
suite, never the offending values: quarantine records and reports must not
carry personal data. `ValidationOutcome.results` holds GX validation-result
documents with every value taken out, for Data Docs.

`validate_extracts` / `validate_staged_frames` do the same for all the files
of one delivery in one GX run: GX's cost is mostly per expectation and per
run (about 10 ms per expectation whatever the number of rows), so a source's
files are stacked into one validation frame, numbered by `_file`, and the
failures are split back per file. The outcome of each file is the same as if
it had been validated alone: files that lack a column the suite requires, have
no rows, or make an expectation raise are validated alone, and suites with
table-level expectations whose meaning would change on a stack of files are
always run file by file.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from expectations.suites import FILE_COLUMN, raw_suite, staging_suite
from transforms.mapping import SourceMapping
from transforms.reference_data import ReferenceData

ROW_FAILURE_SCHEMA = {"_row": pl.Int64, "rule": pl.String, "reason": pl.String}
# table-level expectations that mean the same on a stack of files that each pass them
_STACKABLE_TABLE_EXPECTATIONS = {"expect_table_columns_to_match_set", "expect_table_row_count_to_be_between"}


@dataclass
class ValidationOutcome:
    file_failures: list[tuple[str, str]]
    row_failures: pl.DataFrame  # _row, rule, reason
    # Data Docs entries of the GX runs that produced this outcome: {"suite": suite JSON,
    # "result": GX validation result JSON with every value taken out, "label": what was validated}
    results: list[dict[str, Any]] = field(default_factory=list)


def validate_extract(
    raw: pl.DataFrame,
    mapping: SourceMapping,
    reference: ReferenceData,
    now: datetime | None = None,
) -> ValidationOutcome:
    """Check a raw extract against its source's suite."""
    outcomes, entries = validate_extracts([raw], mapping, reference, now)
    outcomes[0].results = entries
    return outcomes[0]


def validate_staged(
    staged: pl.DataFrame, mapping: SourceMapping, now: datetime | None = None
) -> ValidationOutcome:
    """Check a staged (canonical) frame against its table's suite; rows by `source_row`."""
    outcomes, entries = validate_staged_frames([staged], mapping, now)
    outcomes[0].results = entries
    return outcomes[0]


def validate_extracts(
    raws: Sequence[pl.DataFrame],
    mapping: SourceMapping,
    reference: ReferenceData,
    now: datetime | None = None,
    labels: Sequence[str] | None = None,
) -> tuple[list[ValidationOutcome], list[dict[str, Any]]]:
    """Check the raw extracts of one source, stacked into as few GX runs as possible.

    Returns one outcome per extract (in order) and the Data Docs entries of the runs.
    """
    suite = raw_suite(mapping)
    parameters = suite_parameters(suite, reference, now or datetime.now())
    frames = [raw_validation_frame(raw, mapping, suite) for raw in raws]
    return _validated(
        suite, frames, [set(r.columns) for r in raws], "_row", parameters,
        list(labels) if labels else [suite["name"]] * len(raws), {"source_id": mapping.id},
    )


def validate_staged_frames(
    stageds: Sequence[pl.DataFrame],
    mapping: SourceMapping,
    now: datetime | None = None,
    labels: Sequence[str] | None = None,
) -> tuple[list[ValidationOutcome], list[dict[str, Any]]]:
    """Check the staged frames of one source's extracts, stacked into as few GX runs as possible."""
    suite = staging_suite(mapping.kind)
    parameters = suite_parameters(suite, None, now or datetime.now())
    frames = [staged_validation_frame(staged, suite) for staged in stageds]
    return _validated(
        suite, frames, [set(s.columns) for s in stageds], "source_row", parameters,
        list(labels) if labels else [suite["name"]] * len(stageds), {"source_id": mapping.id},
    )


def _stackable(suite: dict[str, Any]) -> bool:
    for expectation in suite["expectations"]:
        kind, kwargs = expectation["type"], expectation.get("kwargs", {})
        if not kind.startswith("expect_table_"):
            continue
        if kind not in _STACKABLE_TABLE_EXPECTATIONS or kwargs.get("exact_match") is True:
            return False
        if kind == "expect_table_row_count_to_be_between" and (
            kwargs.get("max_value") is not None or (kwargs.get("min_value") or 0) > 1
        ):
            return False
    return True


def _validated(
    suite: dict[str, Any],
    frames: list[pl.DataFrame],
    columns_present: list[set[str]],
    index: str,
    parameters: dict[str, Any],
    labels: list[str],
    meta: dict[str, Any],
) -> tuple[list[ValidationOutcome], list[dict[str, Any]]]:
    _, required = suite_columns(suite)
    stackable = _stackable(suite)
    together = [
        i for i, frame in enumerate(frames)
        if stackable and required <= columns_present[i] and frame.height > 0
    ]
    pending: list[list[int]] = [together] if len(together) > 1 else []
    pending += [[i] for i in range(len(frames)) if len(together) <= 1 or i not in together]
    outcomes: list[ValidationOutcome | None] = [None] * len(frames)
    entries: list[dict[str, Any]] = []
    while pending:
        group = pending.pop(0)
        stacked = pl.concat(
            [frames[i].with_columns(pl.lit(i, dtype=pl.Int64).alias(FILE_COLUMN)) for i in group],
            how="vertical_relaxed",
        )
        runs = run_suite(suite, stacked, [FILE_COLUMN, index], parameters)
        if len(group) > 1 and any(
            run["raised"] or (not run["success"] and run["rows"] is None) for run in runs
        ):
            pending.extend([i] for i in group)  # a whole-file problem in the stack: find whose
            continue
        for i in group:
            outcomes[i] = _outcome(runs, i, columns_present[i], required, parameters)
        label = labels[group[0]] if len(group) == 1 else f"{meta['source_id']}: {len(group)} files"
        document = value_free(suite, runs, label, {**meta, "files": [labels[i] for i in group]})
        entries.append({"suite": suite, "result": document, "label": label})
    return [o for o in outcomes if o is not None], entries


def _columns_of(config: dict[str, Any]) -> set[str]:
    read, _ = suite_columns({"expectations": [config]})
    return read


def _filled(template: str, run: dict[str, Any], parameters: dict[str, Any]) -> str:
    """The suite's reason with its placeholders filled from the suite's own settings only."""
    reason = template
    if "{missing}" in reason:
        missing = run["result"].get("details", {}).get("mismatched", {}).get("missing", [])
        reason = reason.replace("{missing}", ", ".join(missing) or "(unknown)")
    if "{earliest_date}" in reason and "earliest_date" in parameters:
        reason = reason.replace("{earliest_date}", f"{parameters['earliest_date']:%Y-%m-%d}")
    return reason


def _outcome(
    runs: list[dict[str, Any]],
    file: int,
    columns_present: set[str],
    required: set[str],
    parameters: dict[str, Any],
) -> ValidationOutcome:
    """One file's failures from the runs of the suite (on that file alone or on a stack)."""
    missing_required = required - columns_present
    file_failures: list[tuple[str, str]] = []
    rows: list[tuple[int, str, str]] = []
    for run in runs:
        config = run["config"]
        rule = config["meta"].get("rule") or config["type"]
        level = config["meta"].get("level", "row")
        if run["raised"]:
            if missing_required and _columns_of(config) & missing_required:
                continue  # the missing column is reported by the column-set expectation
            file_failures.append(("validation_error", f"the check {rule!r} could not be evaluated"))
            continue
        if run["success"]:
            continue
        failing = [row for f, row in run["rows"] or [] if f == file]
        if run["rows"] is not None and not failing and level == "row":
            continue  # other files of the stack failed this expectation
        reason = _filled(config["meta"].get("reason") or f"{config['type']} failed", run, parameters)
        if level == "file" or not failing:
            file_failures.append((rule, reason))
        else:
            rows.extend((row, rule, reason) for row in failing)
    failures = (
        pl.DataFrame(rows, schema=ROW_FAILURE_SCHEMA, orient="row")
        .unique(["_row", "rule"], maintain_order=True)
        .sort("_row", maintain_order=True)
    )
    return ValidationOutcome(list(dict.fromkeys(file_failures)), failures)
