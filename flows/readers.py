"""Readers: the bytes of one extract + its mapping -> a raw frame of strings.

Every reader returns the sender's own columns as `pl.String` plus `_row`, the
1-based data row in the file (for JSON Lines: the line number). Cell values are
cleaned the same way whatever the format: control characters and bidirectional
overrides removed, line breaks normalised to `\\n`, surrounding whitespace
stripped, empty cells null. Text is otherwise kept exactly as sent (a value
starting with `=` stays a string; writers of CSV/XLSX neutralise it, see
`transforms/spreadsheet_safety.py`).

A file that cannot be read at all raises `ExtractReadError(rule, reason)`; a
single row that cannot be read is returned in `RawExtract.bad_rows` as
`(row, rule, reason)` while the other rows are read. Reasons describe the
problem (which rule, where) and never quote the file's content: the file may
hold personal data, and reasons are stored in the warehouse.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from transforms.mapping import SourceMapping

# A workbook whose parts expand to more than this is refused (a ZIP bomb).
XLSX_MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
# The csv module's per-field limit (default 128 KiB) is raised so that an
# over-long field is read and then reported by validation, not a parse error.
CSV_FIELD_LIMIT = 256 * 1024 * 1024

# C0 controls except tab/newline/carriage return, DEL, C1 controls, bidi
# embeddings/overrides/isolates, direction marks and stray byte-order marks.
CONTROL_CHARACTERS = (
    r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\x{200E}\x{200F}\x{202A}-\x{202E}\x{2066}-\x{2069}\x{FEFF}]"
)
_LINE_BREAKS = r"\r\n?|[\x{2028}\x{2029}]"

# Leading bytes of formats that are certainly not a text extract.
_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an XLSX workbook?)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 or other OLE2 document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BZh", "a bzip2 archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "an executable"),
    (b"SQLite format 3\x00", "a SQLite database"),
)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


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
    # why a file whose header matches nothing may still be this source's (e.g. delimiter)
    hint: str | None = None


def read_extract(data: bytes, mapping: SourceMapping) -> RawExtract:
    """Parse one extract according to its mapping's format."""
    body = data
    for bom in _BOMS:
        body = body.removeprefix(bom)
    if not body.strip(b" \t\r\n\x0b\x0c\x00"):
        raise ExtractReadError("file_not_empty", "the file is empty")
    if mapping.format == "xlsx":
        extract = _read_xlsx(data, mapping)
    else:
        kind = sniffed_binary_kind(data)
        if kind is not None:
            raise ExtractReadError(
                "is_extract", f"the file is {kind}, not a {_format_name(mapping)} extract"
            )
        text = _decoded(data, mapping)
        extract = _read_csv(text, mapping) if mapping.format == "csv" else _read_jsonl(text)
    frame = _matched_to_mapping(_tidied(extract.frame), mapping)
    extract = RawExtract(frame, extract.bad_rows, extract.hint)
    _check_is_extract(extract, mapping)
    if frame.height == 0 and not extract.bad_rows:
        raise ExtractReadError("file_has_rows", "the file has a header but no data rows")
    return extract


def _format_name(mapping: SourceMapping) -> str:
    return {"csv": "CSV", "xlsx": "XLSX", "jsonl": "JSON Lines"}[mapping.format]


def sniffed_binary_kind(data: bytes) -> str | None:
    """What a binary file is, from its first bytes; None when it may be text."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    return None


# -- decoding ---------------------------------------------------------------


def _codec(name: str) -> str:
    folded = name.lower().replace("-", "").replace("_", "")
    if folded in {"utf8", "utf8sig"}:
        return "utf-8-sig"  # a BOM is accepted whether or not one is announced
    return name


def _decoded(data: bytes, mapping: SourceMapping) -> str:
    declared = mapping.csv.encoding if mapping.format == "csv" else "utf-8"
    encoding = _codec(declared)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(data):
        raise ExtractReadError(
            "decodable_as_declared_encoding",
            f"the file is UTF-16 encoded; the mapping declares {declared}",
        )
    if b"\x00" in data:
        position = data.index(b"\x00")
        raise ExtractReadError(
            "no_nul_bytes",
            f"the file contains NUL bytes (first at byte {position}): not a text extract",
        )
    if encoding != "utf-8-sig":
        # A sender declared as Windows-1252 / Latin-1 whose file is valid UTF-8
        # with non-ASCII characters sent UTF-8: decoding it as 1252 would garble it.
        try:
            text = data.decode("utf-8-sig")
            if not text.isascii():
                return text
        except UnicodeDecodeError:
            pass
    try:
        return data.decode(encoding)
    except LookupError:
        raise ExtractReadError(
            "decodable_as_declared_encoding", f"the mapping's encoding {declared!r} is not known"
        ) from None
    except UnicodeDecodeError as error:
        # the utf-8-sig codec counts from after the byte-order mark
        position = error.start + (3 if encoding == "utf-8-sig" and data.startswith(_BOMS[0]) else 0)
        if position >= len(data) - 3 and not data.endswith((b"\n", b"\r")):
            raise ExtractReadError(
                "complete_rows",
                "the file ends in the middle of a character: it is truncated",
            ) from None
        raise ExtractReadError(
            "decodable_as_declared_encoding",
            f"the file cannot be decoded as {declared} (first undecodable byte at offset {position})",
        ) from None


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a BOM: every other byte of the first ones is NUL."""
    head = data[:200]
    if len(head) < 8:
        return False
    zeros_even = head[0::2].count(0)
    zeros_odd = head[1::2].count(0)
    half = len(head) // 2
    return zeros_even > 0.8 * half or zeros_odd > 0.8 * half


# -- CSV ------------------------------------------------------------------------


def _csv_reader(text: str, mapping: SourceMapping, strict: bool):  # noqa: ANN202
    return csv.reader(
        io.StringIO(text, newline=""),
        delimiter=mapping.csv.delimiter,
        quotechar=mapping.csv.quote_char,
        doublequote=True,
        strict=strict,
    )


def _csv_records(text: str, mapping: SourceMapping) -> tuple[list[tuple[int, list[str]]], int | None]:
    """Every record with the line it ends on; and the line of a malformed quote, if any."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = _csv_reader(text, mapping, strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        for record in reader:
            records.append((reader.line_num, record))
        return records, None
    except csv.Error as error:
        if "end of data" in str(error) or "EOF" in str(error):
            raise ExtractReadError(
                "complete_rows",
                "a quoted field is never closed: the file is truncated mid-row",
            ) from None
        bad_line = reader.line_num
    reader = _csv_reader(text, mapping, strict=False)
    records = [(reader.line_num, record) for record in reader]
    return records, bad_line


def _read_csv(text: str, mapping: SourceMapping) -> RawExtract:
    records, malformed_line = _csv_records(text, mapping)
    records = [(line, record) for line, record in records if record and any(v.strip() for v in record)]
    if not records:
        raise ExtractReadError("file_not_empty", "the file has no header and no rows")
    header_line, header = records[0]
    width = len(header)
    columns = _unique_names(header)
    rows: list[list[str | None]] = []
    row_numbers: list[int] = []
    bad_rows: list[tuple[int, str, str]] = []
    previous_end = header_line
    data_records = records[1:]
    ends_with_break = text.endswith(("\n", "\r"))
    for number, (end_line, record) in enumerate(data_records, start=1):
        start_line = previous_end + 1
        previous_end = end_line
        if len(record) > width and not any(v.strip() for v in record[width:]):
            record = record[:width]  # trailing delimiters only
        is_last = number == len(data_records)
        if malformed_line is not None and start_line <= malformed_line <= end_line:
            bad_rows.append((number, "well_formed_quoting", "the row has a malformed quoted field"))
            continue
        if len(record) != width:
            if is_last and len(record) < width and not ends_with_break:
                raise ExtractReadError(
                    "complete_rows",
                    f"the last row has {len(record)} of {width} fields and the file does not end "
                    "with a line break: the file is truncated mid-row",
                )
            bad_rows.append(
                (number, "row_field_count", f"the row has {len(record)} fields, the header has {width}")
            )
            continue
        rows.append(record)
        row_numbers.append(number)
    data = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    frame = pl.DataFrame(data, schema={c: pl.String for c in columns})
    frame = frame.with_columns(pl.Series("_row", row_numbers, dtype=pl.Int64))
    return RawExtract(frame.select("_row", *columns), bad_rows, _delimiter_hint(header, mapping))


def _delimiter_hint(header: list[str], mapping: SourceMapping) -> str | None:
    """When the header is one field that other delimiters split into the mapping's columns."""
    if len(header) != 1:
        return None
    expected = {_folded_name(c) for c in mapping.source_columns}
    for candidate in (";", "\t", "|", ",", ":"):
        if candidate == mapping.csv.delimiter:
            continue
        names = {_folded_name(p) for p in header[0].split(candidate)}
        if len(names & expected) >= 2:
            shown = "tab" if candidate == "\t" else repr(candidate)
            return f"the header seems to be separated by {shown}, the mapping says {mapping.csv.delimiter!r}"
    return None


def _unique_names(header: list[str]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = _clean_name(raw) or f"__UNNAMED__{index}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        seen.setdefault(name, 0)
        names.append(name)
    return names


# -- XLSX -----------------------------------------------------------------------


def _read_xlsx(data: bytes, mapping: SourceMapping) -> RawExtract:
    if not data.startswith(b"PK\x03\x04"):
        kind = sniffed_binary_kind(data)
        if data.startswith(b"\xd0\xcf\x11\xe0"):
            reason = (
                "the file is an Excel 97-2003 (.xls) or password-protected workbook, "
                "not an XLSX workbook"
            )
        elif kind is not None:
            reason = f"the file is {kind}, not an XLSX workbook"
        else:
            reason = "the file is not an XLSX workbook (it looks like text or unknown binary data)"
        raise ExtractReadError("is_spreadsheet", reason)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ExtractReadError(
            "is_spreadsheet", "the workbook cannot be opened: its ZIP container is damaged or truncated"
        ) from None
    names = {part.filename for part in parts}
    if "xl/workbook.xml" not in names:
        raise ExtractReadError("is_spreadsheet", "the file is a ZIP archive but not an XLSX workbook")
    if sum(part.file_size for part in parts) > XLSX_MAX_UNCOMPRESSED_BYTES:
        raise ExtractReadError(
            "workbook_size",
            f"the workbook expands to more than {XLSX_MAX_UNCOMPRESSED_BYTES // 2**20} MB",
        )
    import fastexcel

    try:
        workbook = fastexcel.read_excel(data)
        sheet_names = list(workbook.sheet_names)
    except Exception as error:  # calamine raises its own kinds for broken workbooks
        raise ExtractReadError(
            "is_spreadsheet", f"the workbook cannot be read ({type(error).__name__})"
        ) from None
    sheet = mapping.sheet or (sheet_names[0] if sheet_names else None)
    if sheet not in sheet_names:
        raise ExtractReadError("sheet_present", f"the workbook has no sheet named {mapping.sheet!r}")
    try:
        frame = workbook.load_sheet(sheet, dtypes="string").to_polars()
    except Exception as error:
        raise ExtractReadError(
            "is_spreadsheet", f"the sheet {sheet!r} cannot be read ({type(error).__name__})"
        ) from None
    if frame.width == 0:
        raise ExtractReadError("file_not_empty", f"the sheet {sheet!r} is empty")
    frame = frame.rename({c: name for c, name in zip(frame.columns, _unique_names(frame.columns), strict=True)})
    frame = frame.select([_iso_datetimes(c) for c in frame.columns])
    frame = frame.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))
    values = [c for c in frame.columns if c != "_row"]
    if values:
        frame = frame.filter(~pl.all_horizontal(pl.col(values).is_null()))
    return RawExtract(frame)


_EXCEL_DATETIME = r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?$"


def _iso_datetimes(column: str) -> pl.Expr:
    """Excel date cells as ISO text: `2026-10-01T12:15:00`, or `2026-10-01` for a date-only column."""
    text = pl.col(column)
    is_datetime = text.str.contains(_EXCEL_DATETIME)
    midnight = text.str.contains(r"^\d{4}-\d{2}-\d{2} 00:00:00(\.0+)?$")
    all_midnight = (is_datetime == midnight).all() & is_datetime.any()
    return (
        pl.when(is_datetime & all_midnight)
        .then(text.str.slice(0, 10))
        .when(is_datetime)
        .then(text.str.replace(_EXCEL_DATETIME, "${1}T${2}"))
        .otherwise(text)
        .alias(column)
    )


# -- JSON Lines -------------------------------------------------------------------


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
            out[column] = "|".join(str(v) for v in value if v is not None)
        elif value is None:
            out[column] = None
        else:
            out[column] = str(value)
    return out


def _json_value(line: str) -> tuple[Any, str | None]:
    try:
        return json.loads(line), None
    except json.JSONDecodeError as error:
        return None, f"the line is not valid JSON ({error.msg})"
    except RecursionError:
        return None, "the line nests too deeply to be a record"


def _read_jsonl(text: str) -> RawExtract:
    rows: list[dict[str, str | None]] = []
    bad_rows: list[tuple[int, str, str]] = []
    row_numbers: list[int] = []
    if text.lstrip().startswith("["):
        # a JSON array of records instead of one record per line
        value, problem = _json_value(text)
        if problem is None and isinstance(value, list):
            for number, record in enumerate(value, start=1):
                if isinstance(record, dict):
                    rows.append(_flattened(record))
                    row_numbers.append(number)
                else:
                    bad_rows.append((number, "parseable_json_line", "the record is not a JSON object"))
            return _json_frame(rows, row_numbers, bad_rows)
    lines = text.split("\n")
    last_content = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for index, line in enumerate(lines):
        number = index + 1
        line = line.strip()
        if not line:
            continue
        record, problem = _json_value(line)
        if problem is None and not isinstance(record, dict):
            problem = "the line is not a JSON object"
        if problem is not None:
            if index == last_content and not text.endswith(("\n", "\r")) and line.startswith("{"):
                raise ExtractReadError(
                    "complete_rows",
                    "the last line is incomplete JSON and the file does not end with a line break: "
                    "the file is truncated mid-row",
                )
            bad_rows.append((number, "parseable_json_line", problem))
            continue
        rows.append(_flattened(record))
        row_numbers.append(number)
    if not rows and bad_rows:
        raise ExtractReadError(
            "parseable_json_lines", "no line of the file is a JSON object: not a JSON Lines extract"
        )
    return _json_frame(rows, row_numbers, bad_rows)


def _json_frame(
    rows: list[dict[str, str | None]], row_numbers: list[int], bad_rows: list[tuple[int, str, str]]
) -> RawExtract:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    frame = pl.DataFrame(
        {c: [row.get(c) for row in rows] for c in columns}, schema={c: pl.String for c in columns}
    )
    frame = frame.with_columns(pl.Series("_row", row_numbers, dtype=pl.Int64))
    return RawExtract(frame.select("_row", *columns), bad_rows)


# -- shared clean-up ----------------------------------------------------------------


def cleaned_text(expr: pl.Expr) -> pl.Expr:
    """Control characters removed, line breaks as `\\n`, trimmed; empty text becomes null."""
    return (
        expr.str.replace_all(_LINE_BREAKS, "\n")
        .str.replace_all(CONTROL_CHARACTERS, "")
        .str.strip_chars()
        .replace("", None)
    )


def _clean_name(name: str) -> str:
    """A header cell without control characters, line breaks or repeated spaces."""
    name = re.sub(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]", " ", str(name))
    return re.sub(r"\s+", " ", name).strip()


def _folded_name(name: str) -> str:
    return _clean_name(name).casefold()


def _tidied(frame: pl.DataFrame) -> pl.DataFrame:
    renamed = {c: _clean_name(c) for c in frame.columns if c != "_row"}
    names = _unique_names(list(renamed.values()))
    frame = frame.rename(dict(zip(renamed, names, strict=True)))
    return frame.with_columns(
        cleaned_text(pl.col(c).cast(pl.String)) for c in frame.columns if c != "_row"
    )


def _matched_to_mapping(frame: pl.DataFrame, mapping: SourceMapping) -> pl.DataFrame:
    """Header names that differ from the mapping only in case or spacing take the mapping's spelling."""
    present = set(frame.columns)
    by_fold: dict[str, list[str]] = {}
    for column in frame.columns:
        by_fold.setdefault(_folded_name(column), []).append(column)
    renames: dict[str, str] = {}
    for expected in mapping.source_columns:
        if expected in present:
            continue
        candidates = by_fold.get(_folded_name(expected), [])
        if len(candidates) == 1 and candidates[0] not in mapping.source_columns:
            renames[candidates[0]] = expected
    return frame.rename(renames) if renames else frame


def _check_is_extract(extract: RawExtract, mapping: SourceMapping) -> None:
    frame = extract.frame
    found = set(frame.columns) & set(mapping.source_columns)
    if not found:
        hint = extract.hint
        reason = f"none of the columns a {mapping.id} extract has were found: not an extract of this source"
        raise ExtractReadError("is_extract", f"{reason} ({hint})" if hint else reason)
    duplicated = [c for c in mapping.source_columns if f"{c}_1" in frame.columns and c in found]
    if duplicated:
        raise ExtractReadError(
            "unique_column_names", f"columns appear more than once: {', '.join(duplicated)}"
        )
