"""Validation frames: what a suite sees of a raw extract or a staged frame (pure Polars).

The raw validation frame keeps the sender's column names, but holds values
normalised for checking: dates and times parsed by the mapping's formats,
categories folded, offence codes and postcodes compacted, statuses lower-cased.
Helper columns `<column> (sent)` (true, or null when the cell is blank) and
`<column> (length)` (characters) are added where the suite asks for them.
Free-text and identifier columns are never passed on: only their lengths.
"""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl

from expectations.suites import BLANK, DATE_FIELDS, FILE_COLUMN, PARSED, TIME_FIELDS, UNPARSEABLE
from transforms.categories import CST_CATEGORIES, _folded, normalised_offence_code
from transforms.dates import parsed_datetime, parsed_time
from transforms.mapping import REQUIRED_FIELDS, SourceMapping
from transforms.reference_data import ReferenceData

_SUFFIX = re.compile(r"^(?P<column>.*) \((?P<helper>parse|length|\+(?P<days>\d+) days)\)$")
_LONGEST = re.compile(r"^longest of (?P<columns>\[.*\])$")
_BACKTICKED = re.compile(r"`([^`]+)`")
# Values that mean "no postcode" rather than a malformed one.
POSTCODE_FILLERS = ["NA", "NK", "NONE", "UNKNOWN", "TBC", "TBA", "NFA", "NIL", "NOTKNOWN", "NOFIXEDABODE"]


def suite_columns(suite: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(columns any expectation reads, columns a table-level column-set expectation requires)."""
    read: set[str] = set()
    required: set[str] = set()
    for expectation in suite["expectations"]:
        kwargs = expectation.get("kwargs", {})
        for key in ("column", "column_A", "column_B"):
            if isinstance(kwargs.get(key), str):
                read.add(kwargs[key])
        read.update(c for c in kwargs.get("column_list", []) or [] if isinstance(c, str))
        condition = kwargs.get("row_condition")
        if isinstance(condition, dict):
            condition = condition.get("pass_through_filter")
        if isinstance(condition, str):
            read.update(_BACKTICKED.findall(condition))
        if expectation.get("type") == "expect_table_columns_to_match_set":
            required.update(kwargs.get("column_set") or [])
    return read, required


def _field_of(mapping: SourceMapping) -> dict[str, str]:
    """sender column -> canonical field (first field wins when one column serves two)."""
    out: dict[str, str] = {}
    for field_name, column in mapping.columns.items():
        out.setdefault(column, field_name)
    return out


def _checked_value(column: str, field_name: str | None, mapping: SourceMapping) -> pl.Expr:
    """The value of one sender column as the suite checks it."""
    if field_name in DATE_FIELDS:
        return parsed_datetime(column, mapping.date_formats.get(field_name, []))
    if field_name in TIME_FIELDS:
        return parsed_time(column, mapping.date_formats.get(field_name, [])).cast(pl.String)
    text = pl.col(column).cast(pl.String)
    if field_name == "category":
        return _folded(text).replace("", None)
    if field_name == "offence_code":
        return normalised_offence_code(column)
    if field_name == "status":
        return text.str.strip_chars().str.to_lowercase().str.replace_all(r"\s+", " ")
    if field_name == "postcode":
        compact = text.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
        filler = compact.is_in(POSTCODE_FILLERS) | compact.str.contains(r"^0*$")
        return pl.when(filler).then(None).otherwise(compact)
    return text


def _null_of(field_name: str | None) -> pl.Expr:
    if field_name in DATE_FIELDS:
        return pl.lit(None, dtype=pl.Datetime("us"))
    return pl.lit(None, dtype=pl.String)


def _longest(columns: list[str], present: set[str]) -> pl.Expr:
    lengths = [pl.col(c).cast(pl.String).str.len_chars() for c in columns if c in present]
    if not lengths:
        return pl.lit(None, dtype=pl.UInt32)
    return pl.max_horizontal(lengths)


def _helper(name: str, present: set[str], fields: dict[str, str], mapping: SourceMapping | None) -> pl.Expr | None:
    """The expression of a helper column (`X (parse)`, `X (length)`, `longest of [...]`), if `name` is one."""
    longest = _LONGEST.match(name)
    if longest:
        try:
            columns = [str(c) for c in json.loads(longest["columns"])]
        except ValueError:
            return None
        return _longest(columns, present).alias(name)
    helper = _SUFFIX.match(name)
    if not helper:
        return None
    column, kind = helper["column"], helper["helper"]
    if helper["days"] is not None:
        if column not in present:
            return pl.lit(None, dtype=pl.Datetime("us")).alias(name)
        value = _checked_value(column, fields.get(column), mapping) if mapping else pl.col(column)
        return (value + pl.duration(days=int(helper["days"]))).alias(name)
    if kind == "length":
        if column not in present:
            return pl.lit(None, dtype=pl.UInt32).alias(name)
        return pl.col(column).cast(pl.String).str.len_chars().alias(name)
    if column not in present:
        return pl.lit(BLANK).alias(name)
    parsed = _checked_value(column, fields.get(column), mapping) if mapping else pl.col(column)
    return (
        pl.when(pl.col(column).is_null())
        .then(pl.lit(BLANK))
        .when(parsed.is_null())
        .then(pl.lit(UNPARSEABLE))
        .otherwise(pl.lit(PARSED))
        .alias(name)
    )


def raw_validation_frame(raw: pl.DataFrame, mapping: SourceMapping, suite: dict[str, Any]) -> pl.DataFrame:
    """The columns `suite` reads, computed from the raw extract (absent optional columns as nulls).

    A column that a table-level column-set expectation requires is left out
    when the file lacks it, so that the expectation sees it missing.
    """
    read, required = suite_columns(suite)
    present = set(raw.columns)
    fields = _field_of(mapping)
    personal = set(mapping.identifier_columns) | set(mapping.free_text_columns.values())
    expressions: list[pl.Expr] = [pl.lit(0, dtype=pl.Int64).alias(FILE_COLUMN), pl.col("_row")]
    for name in sorted(read - {"_row", FILE_COLUMN}):
        helper = _helper(name, present, fields, mapping)
        if helper is not None:
            expressions.append(helper)
            continue
        field_name = fields.get(name)
        if name in present:
            if name in personal and field_name not in {"postcode", "ref"}:
                continue  # free text and identifiers: only their lengths are checked
            expressions.append(_checked_value(name, field_name, mapping).alias(name))
        elif name not in required:
            expressions.append(_null_of(field_name).alias(name))
    return raw.select(expressions)


def staged_validation_frame(staged: pl.DataFrame, suite: dict[str, Any]) -> pl.DataFrame:
    """The columns of a staged frame that `suite` reads (text columns only as lengths)."""
    read, required = suite_columns(suite)
    present = set(staged.columns)
    expressions: list[pl.Expr] = [pl.lit(0, dtype=pl.Int64).alias(FILE_COLUMN), pl.col("source_row")]
    for name in sorted(read - {"source_row", FILE_COLUMN}):
        helper = _helper(name, present, {}, None)
        if helper is not None:
            expressions.append(helper)
        elif name in present:
            column = pl.col(name)
            if isinstance(staged.schema[name], pl.List):
                column = column.list.len()
            expressions.append(column.alias(name))
        elif name not in required:
            expressions.append(pl.lit(None, dtype=pl.String).alias(name))
    # the column-set expectation sees every staged column (their values are not needed)
    extra = [
        pl.lit(None, dtype=pl.Boolean).alias(c)
        for c in staged.columns
        if c not in read and c not in {"source_row", FILE_COLUMN}
    ]
    return staged.select(expressions + extra)


def suite_parameters(
    suite: dict[str, Any], reference: ReferenceData | None, now: Any
) -> dict[str, Any]:
    """Runtime values for the suite's `$PARAMETER`s: date bounds and reference sets."""
    import pandas as pd

    settings = (suite.get("meta") or {}).get("parameters") or {}
    tolerance = int(settings.get("future_tolerance_days", 1))
    parameters: dict[str, Any] = {
        "earliest_date": pd.Timestamp(settings.get("earliest_date", "1980-01-01")),
        "latest_date": pd.Timestamp(now) + pd.Timedelta(days=tolerance),
    }
    if reference is not None:
        variants = {_fold(c) for c in CST_CATEGORIES}
        variants |= {_fold(v) for v in reference.categories["variant"].to_list() if v}
        parameters["category_variants"] = sorted(variants)
        parameters["offence_codes"] = known_offence_codes(reference)
    return parameters


def _fold(text: str) -> str:
    return pl.select(_folded(pl.lit(text))).item()


def known_offence_codes(reference: ReferenceData) -> list[str]:
    """Codes staging can place in a category: the table's, and any code of a known number family."""
    table = reference.offence_categories
    codes = {re.sub(r"[^0-9A-Z]", "", str(c).upper()) for c in table["offence_code"].to_list() if c}
    families = {re.match(r"^\d+", c).group(0) for c in codes if re.match(r"^\d+", c)}
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    codes |= families | {f + letter for f in families for letter in letters}
    return sorted(c for c in codes if c)


def required_columns(mapping: SourceMapping) -> list[str]:
    return [mapping.columns[f] for f in REQUIRED_FIELDS[mapping.kind]]
