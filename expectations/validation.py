"""Validation of raw extracts: which whole-file and which row-level rules fail.

Returns rule names and reasons only, never the offending values: quarantine
records and reports must not carry personal data.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms.dates import parsed_datetime
from transforms.mapping import SourceMapping
from transforms.reference_data import ReferenceData

ROW_FAILURE_SCHEMA = {"_row": pl.Int64, "rule": pl.String, "reason": pl.String}


@dataclass
class ValidationOutcome:
    file_failures: list[tuple[str, str]]
    row_failures: pl.DataFrame  # _row, rule, reason


def validate_extract(
    raw: pl.DataFrame, mapping: SourceMapping, reference: ReferenceData
) -> ValidationOutcome:
    """Check a raw extract against its source's rules."""
    checks: list[pl.DataFrame] = []
    ref = mapping.columns["ref"]
    checks.append(
        raw.filter(pl.col(ref).str.strip_chars().fill_null("") == "").select(
            "_row", pl.lit("ref_present").alias("rule"), pl.lit(f"column {ref!r} is empty").alias("reason")
        )
    )
    for field in ("incident_date", "occurred_from", "last_updated"):
        column = mapping.column(field)
        if column is None or column not in raw.columns:
            continue
        formats = mapping.date_formats.get(field, [])
        checks.append(
            raw.filter(parsed_datetime(column, formats).is_null()).select(
                "_row",
                pl.lit(f"{field}_parseable").alias("rule"),
                pl.lit(f"column {column!r} is not a date in the expected format").alias("reason"),
            )
        )
    failures = pl.concat(checks).cast(ROW_FAILURE_SCHEMA) if checks else pl.DataFrame(schema=ROW_FAILURE_SCHEMA)
    return ValidationOutcome([], failures.unique(["_row", "rule"], maintain_order=True))
