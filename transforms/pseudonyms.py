"""Keyed pseudonyms (HMAC-SHA256): equality-only stand-ins for references and postcodes.

A plain hash of a postcode or a crime number can be reversed by trying every
value; a keyed one cannot without the key, which lives outside the warehouse.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import polars as pl


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of `value` under `key`, as hex."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _hashed_distinct(values: pl.Series, hash_one: Callable[[str], str]) -> tuple[pl.Series, pl.Series]:
    """(distinct non-null values, their hashes): each value recurs across rows and is hashed once."""
    distinct = values.drop_nulls().unique()
    return distinct, pl.Series([hash_one(value) for value in distinct.to_list()], dtype=pl.String)


def keyed_hashes(values: pl.Series, key: bytes, namespace: str = "") -> pl.Series:
    """HMAC-SHA256 of each non-null value (prefixed by `namespace`), nulls kept."""
    values = values.cast(pl.String)
    distinct, hashed = _hashed_distinct(values, lambda value: keyed_hash(key, namespace + value))
    return values.replace_strict(distinct, hashed, return_dtype=pl.String).alias(values.name)


def _mapped_lists(values: pl.Series, distinct: pl.Series, hashed: pl.Series) -> pl.Series:
    """Every element of each list replaced by its hash (null lists stay null), without Python lists."""
    return (
        values.to_frame("items")
        .select(pl.col("items").list.eval(pl.element().replace_strict(distinct, hashed, return_dtype=pl.String)))
        .to_series()
        .cast(pl.List(pl.String))
        .alias(values.name)
    )


def keyed_hash_lists(values: pl.Series, key: bytes, namespace: str = "") -> pl.Series:
    """HMAC-SHA256 of every element of each list; null lists stay null."""
    distinct, hashed = _hashed_distinct(values.explode(), lambda item: keyed_hash(key, namespace + item))
    return _mapped_lists(values, distinct, hashed)


def keyed_token_lists(values: pl.Series, key: bytes, namespace: str = "") -> pl.Series:
    """Keyed-hash each `tag:value` token of each list, keeping the tag in clear (`x:<hmac>`).

    Each distinct token is hashed once: the same names and numbers recur across
    rows (a report re-sent, a victim named in several crimes)."""

    def keyed(item: str) -> str:
        tag, _, value = item.partition(":")
        return f"{tag}:{keyed_hash(key, namespace + value)[:32]}"

    distinct, hashed = _hashed_distinct(values.explode(), keyed)
    return _mapped_lists(values, distinct, hashed)
