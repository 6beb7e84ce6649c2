"""Anonymise an extract at source (`incidents anonymise`): same columns out, personal data gone.

A partner runs this on its own premises so that an extract is anonymised before
it ever leaves. It applies the rules of the nightly staging (the same mapping,
the same redaction code) but keeps the sender's own layout, so that the output
is still an extract of that source and can be ingested as one:

| column | action |
|---|---|
| the mapping's reference columns (`ref`, `police_reference`) | kept: the partners exchange them |
| date and time columns | kept when they parse as a date/time, else emptied (a name typed into a date field goes) |
| `identifier_columns` (names, phones, emails, DOBs, ...) | emptied |
| the `address` column | street name without house/flat number (as staging stores it) |
| the `postcode` column | cut to the district (`M7 4AB` -> `M7`) |
| the `victims` column (victim names, counted) | each name replaced by `[NAME]`: the count survives |
| `free_text_columns` | redacted, scrubbing the record's own identifier values first |
| other mapped columns (codes, category, status, town, ...) | kept, but emptied where the cell holds one of the record's own identifier values |
| columns the mapping does not know | emptied: nobody has said they are not personal |

Pure: a raw frame (`flows/readers.py` output) in, a frame with the same
columns, rows and `_row` out. Writing the file back in the sender's format is
the command's job (`flows/commands/anonymise.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms.dates import parsed_datetime, parsed_time
from transforms.mapping import SourceMapping
from transforms.postcodes import parsed_postcodes
from transforms.staging import _with_redacted_text, street_name

KEEP = "keep"
DATE = "date"
CHECKED = "checked"
EMPTY = "empty"
REDACT = "redact"
STREET = "street"
DISTRICT = "district"
NAMES = "names"
# canonical fields that are references: kept in clear (they are what partners act on)
REFERENCE_FIELDS = ("ref", "police_reference")
DATE_FIELDS = ("incident_date", "reported_date", "last_updated", "occurred_from", "occurred_to")
TIME_FIELDS = ("incident_time",)
# formats tried for a date field the mapping gives none for (the staging defaults and ISO)
DEFAULT_DATE_FORMATS = ["%d/%m/%Y", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                        "%Y-%m-%d %H:%M"]
DEFAULT_TIME_FORMATS = ["%H:%M", "%H:%M:%S"]


@dataclass(frozen=True)
class AnonymisedExtract:
    frame: pl.DataFrame
    actions: dict[str, str]
    changed_cells: int = 0  # values of date / checked columns that were emptied or redacted

    def columns_with(self, action: str) -> list[str]:
        return [c for c, a in self.actions.items() if a == action]


def column_actions(columns: list[str], mapping: SourceMapping) -> dict[str, str]:
    """What happens to each of the extract's columns (`_row` excluded)."""
    by_column: dict[str, str] = {}
    mapped = {column: field for field, column in mapping.columns.items()}
    identifiers = set(mapping.identifier_columns)
    free_text = set(mapping.free_text_columns.values())
    for column in columns:
        if column == "_row":
            continue
        field = mapped.get(column)
        if column in free_text:
            action = REDACT
        elif field == "address":
            action = STREET
        elif field == "postcode":
            action = DISTRICT
        elif field == "victims":
            action = NAMES
        elif column in identifiers:
            action = EMPTY
        elif field in REFERENCE_FIELDS:
            action = KEEP
        elif field in DATE_FIELDS or field in TIME_FIELDS:
            action = DATE
        elif field is not None:
            action = CHECKED
        else:
            action = EMPTY
        by_column[column] = action
    return by_column


def _names_placeholder(column: str) -> pl.Expr:
    """`A|B` -> `[NAME]|[NAME]`: the number of persons stays, who they are goes."""
    return (
        pl.col(column)
        .str.split("|")
        .list.eval(pl.lit("[NAME]"))
        .list.join("|")
        .replace("", None)
        .alias(column)
    )


def _own_values(row: dict, identifiers: list[str]) -> list[str]:
    """A record's own identifier values, whole and lower case (several in a cell split on `|`)."""
    values: list[str] = []
    for column in identifiers:
        cell = row.get(column)
        if cell:
            values += [v.strip().lower() for v in str(cell).split("|") if len(v.strip()) >= 4]
    return values


def _without_own_values(frame: pl.DataFrame, columns: list[str], mapping: SourceMapping) -> pl.DataFrame:
    """Kept columns emptied where a cell holds one of the record's own identifier values, whole.

    Not the narrative redaction: its name lexicon would take `Thames` or `Avon`
    in a force name for a person, and a town named like the victim synagogue
    for part of a name. Only a value the record itself gives as personal goes
    (a name, phone or email typed into the wrong column).
    """
    # the address is not checked: a street or district named like the town is not personal
    identifiers = [c for c in mapping.identifier_columns if c in frame.columns and c != mapping.column("address")]
    outputs: dict[str, list[str | None]] = {c: [] for c in columns}
    for row in frame.select(*identifiers, *[c for c in columns if c not in identifiers]).iter_rows(named=True):
        values = _own_values(row, identifiers)
        for column in columns:
            cell = row[column]
            personal = cell is not None and any(v in cell.lower() for v in values)
            outputs[column].append(None if personal else cell)
    return frame.with_columns(
        pl.Series(f"__anon_checked_{c}", outputs[c], dtype=pl.String) for c in columns
    )


def _parses(column: str, field: str, mapping: SourceMapping) -> pl.Expr:
    """True where the value reads as a date (or time) in one of the mapping's formats for that field."""
    if field in TIME_FIELDS:
        formats = [*mapping.date_formats.get(field, []), *DEFAULT_TIME_FORMATS]
        return parsed_time(column, formats).is_not_null()
    formats = [*mapping.date_formats.get(field, []), *DEFAULT_DATE_FORMATS]
    return parsed_datetime(column, formats).is_not_null()


def anonymised_extract(raw: pl.DataFrame, mapping: SourceMapping) -> AnonymisedExtract:
    """The extract with every column treated as `column_actions` says; same columns and order."""
    columns = [c for c in raw.columns if c != "_row"]
    actions = column_actions(columns, mapping)
    frame = raw
    redacted: dict[str, str] = {}
    if any(a == REDACT for a in actions.values()):
        # exactly the staging redaction: free text scrubbed of the record's own identifiers too
        frame = _with_redacted_text(frame, mapping)
        redacted = {
            column: f"{field}_redacted"
            for field, column in mapping.free_text_columns.items()
            if column in raw.columns
        }
    checked = [c for c in columns if actions[c] == CHECKED]
    if checked:
        frame = _without_own_values(frame, checked, mapping)
    by_field = {column: field for field, column in mapping.columns.items()}
    postcode = mapping.column("postcode")
    if postcode in columns:
        frame = parsed_postcodes(frame, postcode, prefix="__anon_postcode")
    expressions: list[pl.Expr] = []
    for column in columns:
        action = actions[column]
        if action == KEEP:
            expr = pl.col(column)
        elif action == EMPTY:
            expr = pl.lit(None, dtype=pl.String)
        elif action == CHECKED:
            expr = pl.col(f"__anon_checked_{column}")
        elif action == DATE:
            expr = pl.when(_parses(column, by_field[column], mapping)).then(pl.col(column))
        elif action == REDACT:
            expr = pl.col(redacted[column])
        elif action == STREET:
            expr = street_name(pl.col(column))
        elif action == DISTRICT:
            expr = pl.col("__anon_postcode_district")
        else:
            expr = _names_placeholder(column)
        expressions.append(expr.cast(pl.String).alias(column))
    out = frame.select(pl.col("_row"), *expressions) if "_row" in raw.columns else frame.select(expressions)
    watched = [c for c in columns if actions[c] in (DATE, CHECKED)]
    changed = sum(int(out[c].ne_missing(raw[c]).sum()) for c in watched)
    return AnonymisedExtract(out.select(raw.columns), actions, changed)
