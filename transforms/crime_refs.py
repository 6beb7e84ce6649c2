"""Crime numbers as fuzzy-matchable tokens.

CST is often given the crime number by the victim, mistyped, partial or in
another format (`GMP/26/0101234`, `gmp260101234`, `0101234`). Both sides' numbers
become sets of plaintext tokens, which are then keyed-hashed so that only
equality of tokens is ever compared:

- `exact` tokens: every 7-digit window of the number's longest digit run (its
  serial), so a missing prefix or year still shares a window with the full number;
- `near` tokens: each window with one digit deleted (a deletion neighbourhood),
  so one wrong digit or two swapped neighbours still share a token.
"""

from __future__ import annotations

import re

import polars as pl

WINDOW = 7


def _digit_windows(ref: str) -> list[str]:
    runs = re.findall(r"\d+", ref)
    if not runs:
        return []
    longest = max(runs, key=len)
    # The serial is the longest digit run; the concatenation only helps when the
    # number was split into short groups (its windows would otherwise join
    # prefix and serial, and every number of one force would share them).
    source_runs = [longest] if len(longest) >= WINDOW - 1 else ["".join(runs)]
    windows: dict[str, None] = {}
    for source in source_runs:
        if len(source) < WINDOW - 1:
            continue
        if len(source) < WINDOW:
            windows[source] = None
            continue
        for start in range(len(source) - WINDOW + 1):
            windows[source[start : start + WINDOW]] = None
    return list(windows)


def exact_tokens(ref: str | None) -> list[str]:
    """7-digit windows of a crime number (tagged `x:`)."""
    return [] if ref is None else [f"x:{w}" for w in _digit_windows(ref)]


def near_tokens(ref: str | None) -> list[str]:
    """One-deletion variants of each window (tagged `d:`).

    A 6-digit serial (a 7-digit one given without its leading zero, or with a
    digit missing) is itself a one-deletion variant of the full window, so it
    is also a `d:` token: `101234` meets `0101234`.
    """
    if ref is None:
        return []
    tokens: dict[str, None] = {}
    for window in _digit_windows(ref):
        if len(window) == WINDOW - 1:
            tokens[f"d:{window}"] = None
            continue
        for i in range(len(window)):
            tokens[f"d:{window[:i]}{window[i + 1 :]}"] = None
    return list(tokens)


def crime_ref_tokens(refs: pl.Series) -> pl.Series:
    """Exact and near tokens of each crime number, as one list (plaintext; hash before storing)."""
    return pl.Series(
        refs.name,
        [
            None if ref is None or not ref.strip() else exact_tokens(ref) + near_tokens(ref)
            for ref in refs.cast(pl.String).to_list()
        ],
        dtype=pl.List(pl.String),
    )
