"""Spreadsheet formula injection: neutralise text before any CSV or XLSX is written.

Extracts are stored as text, exactly as sent: a cell that starts with `=` is a
string in DuckDB, nothing more. The danger starts when the project writes a CSV
or XLSX that someone opens in a spreadsheet program, which evaluates
`=HYPERLINK(...)`, `+cmd|...`, `-2+3`, `@SUM(...)` as formulas. Every writer of
a CSV/XLSX calls `spreadsheet_safe(frame)` on the frame it is about to write.

The rule (OWASP "CSV injection"): a text value whose first character is one of
`= + - @`, a tab or a carriage return (or their full-width forms) gets a leading
apostrophe, which spreadsheet programs show as text. Plain numbers (`-5`,
`+3.25`) are left alone: they cannot carry a formula.
"""

from __future__ import annotations

import re

import polars as pl

# ASCII triggers plus the full-width forms some spreadsheet programs also accept.
FORMULA_TRIGGERS = "=+-@\t\r\uff1d\uff0b\uff0d\uff20"
_TRIGGER_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in FORMULA_TRIGGERS) + "]"
_STARTS_WITH_TRIGGER = f"^{_TRIGGER_CLASS}"
_NUMBER = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"
_PLAIN_NUMBER = f"^{_NUMBER}$"


def neutralised(expr: pl.Expr) -> pl.Expr:
    """A string expression with formula-like values prefixed by an apostrophe."""
    risky = expr.str.contains(_STARTS_WITH_TRIGGER) & ~expr.str.contains(_PLAIN_NUMBER)
    return pl.when(risky).then(pl.lit("'") + expr).otherwise(expr)


def safe_text(value: str | None) -> str | None:
    """The same rule for one Python string (headers, single cells)."""
    if not value or value[0] not in FORMULA_TRIGGERS or re.fullmatch(_NUMBER, value):
        return value
    return "'" + value


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every text cell (and column name) that a spreadsheet would run as a formula neutralised.

    String columns and lists of strings are treated; numbers, dates and booleans
    are untouched. Call this on every frame written as CSV or XLSX.
    """
    expressions = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype == pl.String:
            column = neutralised(column)
        elif isinstance(dtype, pl.Categorical | pl.Enum):
            column = neutralised(column.cast(pl.String))
        elif isinstance(dtype, pl.List) and dtype.inner == pl.String:
            column = column.list.eval(neutralised(pl.element()))
        expressions.append(column.alias(name))
    safe = frame.select(expressions)
    renamed = {name: safe_text(name) for name in safe.columns if safe_text(name) != name}
    return safe.rename(renamed) if renamed else safe
