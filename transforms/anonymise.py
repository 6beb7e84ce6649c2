"""Anonymise an extract at source (`incidents anonymise`): same columns out, personal data gone.

A partner runs this on its own premises so that an extract is anonymised before
it ever leaves. It applies the rules of the nightly staging (the same mapping,
the same redaction code) but keeps the sender's own layout, so that the output
is still an extract of that source and can be ingested as one:

| column | action |
|---|---|
| the mapping's reference columns (`ref`, `police_reference`) | kept: the partners exchange them |
| `identifier_columns` (names, phones, emails, DOBs, ...) | emptied |
| the `address` column | street name without house/flat number (as staging stores it) |
| the `postcode` column | cut to the district (`M7 4AB` -> `M7`) |
| the `victims` column (victim names, counted) | each name replaced by `[NAME]`: the count survives |
| `free_text_columns` | redacted, scrubbing the record's own identifier values first |
| other mapped columns (dates, codes, category, status, town, ...) | kept |
| columns the mapping does not know | emptied: nobody has said they are not personal |

Pure: a raw frame (`flows/readers.py` output) in, a frame with the same
columns, rows and `_row` out. Writing the file back in the sender's format is
the command's job (`flows/commands/anonymise.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms.mapping import SourceMapping
from transforms.postcodes import parsed_postcodes
from transforms.staging import _with_redacted_text, street_name

KEEP = "keep"
EMPTY = "empty"
REDACT = "redact"
STREET = "street"
DISTRICT = "district"
NAMES = "names"
# canonical fields that are references: kept in clear (they are what partners act on)
REFERENCE_FIELDS = ("ref", "police_reference")


@dataclass(frozen=True)
class AnonymisedExtract:
    frame: pl.DataFrame
    actions: dict[str, str]

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
        elif field is not None:
            action = KEEP
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
    return AnonymisedExtract(out.select(raw.columns), actions)
