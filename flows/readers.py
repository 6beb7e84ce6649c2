"""Readers: the bytes of one extract + its mapping -> a raw frame of strings.

Every reader returns the sender's own columns as `pl.String` plus `_row`, the
1-based data row in the file. A file that cannot be read at all raises
`ExtractReadError` with a reason that never quotes the file's content.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from transforms.mapping import SourceMapping


class ExtractReadError(Exception):
    """The file cannot be read as an extract of its source; `rule` names the check."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


@dataclass
class RawExtract:
    """A read extract: the rows that parsed, and rows that did not (row, rule, reason)."""

    frame: pl.DataFrame
    bad_rows: list[tuple[int, str, str]] = field(default_factory=list)


def read_extract(data: bytes, mapping: SourceMapping) -> RawExtract:
    """Parse one extract according to its mapping's format."""
    if not data.strip():
        raise ExtractReadError("file_not_empty", "the file is empty")
    if b"\x00" in data and mapping.format != "xlsx":
        raise ExtractReadError("no_nul_bytes", "the file contains NUL bytes: not a text extract")
    readers = {"csv": _read_csv, "xlsx": _read_xlsx, "jsonl": _read_jsonl}
    extract = readers[mapping.format](data, mapping)
    frame = extract.frame
    if frame.height == 0 and not extract.bad_rows:
        raise ExtractReadError("file_has_rows", "the file has a header but no data rows")
    missing = [c for c in mapping.required_source_columns if c not in frame.columns]
    if missing:
        raise ExtractReadError(
            "required_columns_present", f"required columns missing: {', '.join(missing)}"
        )
    return extract


def _decoded(data: bytes, encoding: str) -> str:
    if encoding.lower().replace("-", "").replace("_", "") in {"utf8", "utf8sig"}:
        encoding = "utf-8-sig"  # a BOM is accepted whether or not one is announced
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        position = getattr(error, "start", None)
        where = f" at byte {position}" if position is not None else ""
        raise ExtractReadError(
            "decodable_as_declared_encoding",
            f"the file cannot be decoded as {encoding}{where}",
        ) from None


def _read_csv(data: bytes, mapping: SourceMapping) -> RawExtract:
    text = _decoded(data, mapping.csv.encoding)
    if text.count(mapping.csv.quote_char) % 2 == 1:
        raise ExtractReadError(
            "complete_rows", "an unterminated quoted field: the file is truncated mid-row"
        )
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            separator=mapping.csv.delimiter,
            quote_char=mapping.csv.quote_char,
            infer_schema=False,
            truncate_ragged_lines=False,
        )
    except Exception as error:  # polars raises several kinds for malformed CSV
        raise ExtractReadError(
            "parseable_csv", f"the file is not a well-formed CSV ({type(error).__name__})"
        ) from None
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return RawExtract(frame.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64)))


def _read_xlsx(data: bytes, mapping: SourceMapping) -> RawExtract:
    if not data.startswith(b"PK"):
        raise ExtractReadError("is_spreadsheet", "the file is not an XLSX workbook")
    try:
        frame = pl.read_excel(io.BytesIO(data), sheet_name=mapping.sheet or "Sheet1")
    except Exception as error:
        raise ExtractReadError(
            "is_spreadsheet",
            f"the workbook cannot be read or has no sheet {mapping.sheet!r} ({type(error).__name__})",
        ) from None
    as_text = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype == pl.Datetime or isinstance(dtype, pl.Datetime):
            as_text.append(column.dt.strftime("%Y-%m-%dT%H:%M:%S").alias(name))
        elif dtype == pl.Date:
            as_text.append(column.dt.strftime("%Y-%m-%d").alias(name))
        else:
            as_text.append(column.cast(pl.String).alias(name))
    frame = frame.select(as_text)
    frame = frame.rename({c: str(c).strip() for c in frame.columns})
    return RawExtract(frame.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64)))


def _flattened(record: dict[str, Any], prefix: str = "") -> dict[str, str | None]:
    """Nested JSON as dotted columns; string lists joined by `|`; persons split by role."""
    out: dict[str, str | None] = {}
    for name, value in record.items():
        column = f"{prefix}{name}"
        if isinstance(value, dict):
            out.update(_flattened(value, f"{column}."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            by_role: dict[str, dict[str, list[str]]] = {}
            for item in value:
                role = str(item.get("role", "unknown")).lower()
                for item_field, item_value in item.items():
                    if item_field == "role" or item_value is None:
                        continue
                    by_role.setdefault(role, {}).setdefault(item_field, []).append(str(item_value))
            for role, fields in by_role.items():
                for item_field, values in fields.items():
                    out[f"{column}.{role}.{item_field}"] = "|".join(values)
        elif isinstance(value, list):
            out[column] = "|".join(str(v) for v in value)
        elif value is None:
            out[column] = None
        else:
            out[column] = str(value)
    return out


def _read_jsonl(data: bytes, mapping: SourceMapping) -> RawExtract:
    text = _decoded(data, "utf-8")
    rows: list[dict[str, str | None]] = []
    bad_rows: list[tuple[int, str, str]] = []
    row_numbers: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            bad_rows.append((number, "parseable_json_line", f"line is not valid JSON ({error.msg})"))
            continue
        if not isinstance(record, dict):
            bad_rows.append((number, "parseable_json_line", "line is not a JSON object"))
            continue
        rows.append(_flattened(record))
        row_numbers.append(number)
    if not rows and bad_rows:
        raise ExtractReadError("parseable_json_lines", "no line of the file is a JSON object")
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    frame = pl.DataFrame(
        {c: [row.get(c) for row in rows] for c in columns}, schema={c: pl.String for c in columns}
    )
    frame = frame.with_columns(pl.Series("_row", row_numbers, dtype=pl.Int64))
    return RawExtract(frame.select("_row", *columns), bad_rows)
