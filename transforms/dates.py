"""Dates and times parsed per mapping: each field has its own list of formats."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl


def parsed_datetime(column: str, formats: Sequence[str]) -> pl.Expr:
    """A datetime parsed with the first of `formats` that fits; null when none does."""
    text = pl.col(column).cast(pl.String).str.strip_chars()
    attempts = [text.str.strptime(pl.Datetime("us"), fmt, strict=False) for fmt in formats]
    return pl.coalesce(attempts) if attempts else pl.lit(None, dtype=pl.Datetime("us"))


def parsed_date(column: str, formats: Sequence[str]) -> pl.Expr:
    """A date parsed with the first of `formats` that fits; null when none does."""
    return parsed_datetime(column, formats).dt.date()


def parsed_time(column: str, formats: Sequence[str]) -> pl.Expr:
    """A time of day parsed with the first of `formats` that fits; null when blank."""
    text = pl.col(column).cast(pl.String).str.strip_chars()
    attempts = [text.str.strptime(pl.Time, fmt, strict=False) for fmt in formats]
    return pl.coalesce(attempts) if attempts else pl.lit(None, dtype=pl.Time)
