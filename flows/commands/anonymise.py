"""`incidents anonymise IN OUT --source gmp`: anonymise an extract on the sender's own premises.

Reads IN with the source's mapping and the nightly readers, applies
`transforms.anonymise` (the staging rules and redaction code), and writes OUT
in the same format (CSV with the mapping's delimiter and encoding, XLSX with
the mapping's sheet, JSON Lines with the same nesting) and the same columns, so
that OUT is still an ingestible extract of that source.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # polars only where a command runs: `incidents --help` and each command start faster
    import polars as pl


HELP = """\
Anonymise an extract before it leaves the sender, with the same mapping, readers
and redaction rules as the nightly run. The output has the input's format and
columns and stays ingestible:

  references (the mapping's ref / police_reference)   kept (partners exchange them)
  identifier columns (names, phones, emails, DOBs)    emptied
  address                                             street without house/flat number
  postcode                                            district only (M7 4AB -> M7)
  victim names used for counting (JSON persons)       [NAME] per person
  free text (descriptions, MO, narratives)            redacted ([NAME], [PHONE], ...)
  dates and times                                     kept if they read as dates, else emptied
  other mapped columns (codes, category, status, ...) kept, through the same redaction (a value
                                                      that is the record's own name etc. goes)
  columns the mapping does not know                   emptied

Rows the reader cannot parse are left out (and counted); extra sheets of a
workbook are not copied. Values are not changed otherwise (no spreadsheet
apostrophes): open the output in a spreadsheet program with care.
"""

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
DATE_FIELDS = ("incident_date", "reported_date", "last_updated", "occurred_from", "occurred_to")


def _source_mapping(source: str, mapping_path: str | None):  # noqa: ANN202
    from transforms.mapping import load_mapping

    if mapping_path:
        return load_mapping(mapping_path)
    from flows.config import load_settings

    try:
        settings = load_settings()
        for mapping in settings.mappings.values():
            if mapping.id == source:
                return mapping
    except Exception:  # no usable configuration here: the built-in mappings still apply
        pass
    return load_mapping(f"builtin:{source}")


def csv_bytes(frame: pl.DataFrame, mapping) -> bytes:  # noqa: ANN001
    """The frame as the mapping's CSV dialect (delimiter, quote character, encoding)."""
    columns = [c for c in frame.columns if c != "_row"]
    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer, delimiter=mapping.csv.delimiter, quotechar=mapping.csv.quote_char,
        quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n",
    )
    writer.writerow(columns)
    for row in frame.select(columns).iter_rows():
        writer.writerow(["" if v is None else v for v in row])
    encoding = mapping.csv.encoding
    return buffer.getvalue().encode(encoding, errors="replace")


def write_xlsx(frame: pl.DataFrame, mapping, path: Path) -> None:  # noqa: ANN001
    """The frame as a workbook with the mapping's sheet; ISO dates in date columns become date cells."""
    import xlsxwriter

    columns = [c for c in frame.columns if c != "_row"]
    date_columns = {mapping.columns[f] for f in DATE_FIELDS if f in mapping.columns}
    workbook = xlsxwriter.Workbook(
        str(path), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    try:
        sheet = workbook.add_worksheet(mapping.sheet or "Sheet1")
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        moment = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        for col, name in enumerate(columns):
            sheet.write_string(0, col, name)
        for r, row in enumerate(frame.select(columns).iter_rows(), start=1):
            for col, value in enumerate(row):
                if value is None:
                    continue
                if columns[col] in date_columns and _ISO_DATETIME.match(value):
                    sheet.write_datetime(r, col, datetime.fromisoformat(value), moment)
                elif columns[col] in date_columns and _ISO_DATE.match(value):
                    sheet.write_datetime(r, col, datetime.fromisoformat(value), day)
                else:
                    sheet.write_string(r, col, value)
    finally:
        workbook.close()


def _anonymised_json(
    value: Any, path: str, row: dict[str, str | None], actions: dict[str, str], columns: dict[str, str]
) -> Any:
    """One JSON record with each leaf treated as its flattened column's action says."""
    from flows.readers import _folded_name
    from transforms.anonymise import KEEP, NAMES

    def column_of(dotted: str) -> str | None:
        return columns.get(_folded_name(dotted))

    if isinstance(value, dict):
        out = {}
        for name, item in value.items():
            dotted = f"{path}.{name}" if path else name
            if isinstance(item, dict | list):
                out[name] = _anonymised_json(item, dotted, row, actions, columns)
            else:
                out[name] = _leaf(item, column_of(dotted), row, actions)
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        people = []
        for item in value:
            role = str(item.get("role", "unknown")).lower()
            person = {}
            for name, field_value in item.items():
                if name == "role":
                    person[name] = field_value
                    continue
                action = actions.get(column_of(f"{path}.{role}.{name}") or "", "empty")
                if action == KEEP:
                    person[name] = field_value
                elif action == NAMES and field_value is not None:
                    person[name] = "[NAME]"
                else:
                    person[name] = None
            people.append(person)
        return people
    if isinstance(value, list):
        column = column_of(path)
        action = actions.get(column or "", "empty")
        if action == KEEP:
            return value
        new = row.get(column) if column else None
        return None if new is None else new.split("|")
    return _leaf(value, column_of(path), row, actions)


def _leaf(value: Any, column: str | None, row: dict[str, str | None], actions: dict[str, str]) -> Any:
    from transforms.anonymise import KEEP

    if column is None:
        return None
    if actions.get(column) == KEEP:
        return value
    return row.get(column)


def jsonl_bytes(data: bytes, anonymised, mapping) -> bytes:  # noqa: ANN001
    """The original JSON records, line by line (or as one array), with the anonymised values."""
    from flows.readers import _folded_name

    frame = anonymised.frame
    columns = {_folded_name(c): c for c in frame.columns if c != "_row"}
    rows = {r["_row"]: r for r in frame.iter_rows(named=True)}
    text = data.decode("utf-8-sig")
    out: list[dict] = []
    if text.lstrip().startswith("["):
        records = json.loads(text)
        for number, record in enumerate(records, start=1):
            if number in rows and isinstance(record, dict):
                out.append(_anonymised_json(record, "", rows[number], anonymised.actions, columns))
        return (json.dumps(out, ensure_ascii=False) + "\n").encode("utf-8")
    for index, line in enumerate(text.split("\n")):
        number = index + 1
        if number not in rows:
            continue
        record = json.loads(line.strip())
        out.append(_anonymised_json(record, "", rows[number], anonymised.actions, columns))
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out).encode("utf-8")


def anonymise_file(source: Path, target: Path, mapping) -> tuple[int, int, Any]:  # noqa: ANN001
    """Anonymise SOURCE into TARGET; returns (rows written, rows left out, the AnonymisedExtract)."""
    from flows.readers import read_extract
    from transforms.anonymise import anonymised_extract

    data = source.read_bytes()
    raw = read_extract(data, mapping)
    result = anonymised_extract(raw.frame, mapping)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        if mapping.format == "csv":
            tmp.write_bytes(csv_bytes(result.frame, mapping))
        elif mapping.format == "xlsx":
            write_xlsx(result.frame, mapping, tmp)
        else:
            tmp.write_bytes(jsonl_bytes(data, result, mapping))
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return result.frame.height, len(raw.bad_rows), result


def cmd_anonymise(args: argparse.Namespace) -> int:
    from flows.readers import ExtractReadError

    source, target = Path(args.input), Path(args.output)
    if not source.is_file():
        print(f"incidents anonymise: {source} is not a file", file=sys.stderr)
        return 2
    if target.exists() and target.resolve() == source.resolve():
        print("incidents anonymise: OUT must not be IN (the original is kept)", file=sys.stderr)
        return 2
    try:
        mapping = _source_mapping(args.source, args.mapping)
    except (OSError, ValueError) as error:
        print(f"incidents anonymise: no mapping for source {args.source!r} ({error})", file=sys.stderr)
        return 2
    try:
        written, left_out, result = anonymise_file(source, target, mapping)
    except ExtractReadError as error:
        print(f"incidents anonymise: {source} cannot be read as a {mapping.id} extract: {error.reason}",
              file=sys.stderr)
        return 1
    from transforms.anonymise import DISTRICT, EMPTY, NAMES, REDACT, STREET

    print(f"anonymised {source} -> {target} ({mapping.id}, {mapping.format}): {written} row(s)")
    changed = result.changed_cells
    if changed:
        print(f"  {changed} value(s) of kept columns removed (personal values, or not a date in a date column)")
    if left_out:
        print(f"  {left_out} unreadable row(s) left out")
    for label, action in (("redacted", REDACT), ("emptied", EMPTY), ("street only", STREET),
                          ("district only", DISTRICT), ("names replaced", NAMES)):
        names = result.columns_with(action)
        if names:
            print(f"  {label}: {', '.join(names)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "anonymise",
        help="anonymise an extract at source (same format and columns out)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="IN", help="the extract file to anonymise")
    parser.add_argument("output", metavar="OUT", help="where to write the anonymised extract")
    parser.add_argument("--source", required=True, help="source id whose mapping describes IN (cst, gmp, ...)")
    parser.add_argument("--mapping", help="a mapping file to use instead of the configured/built-in one")
    parser.set_defaults(handler=cmd_anonymise)
