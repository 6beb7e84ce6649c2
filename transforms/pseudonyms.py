"""Keyed pseudonyms (HMAC-SHA256): equality-only stand-ins for references and postcodes.

A plain hash of a postcode or a crime number can be reversed by trying every
value; a keyed one cannot without the key, which lives outside the warehouse.
"""

from __future__ import annotations

import hashlib
import hmac

import polars as pl


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of `value` under `key`, as hex."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def keyed_hashes(values: pl.Series, key: bytes, namespace: str = "") -> pl.Series:
    """HMAC-SHA256 of each non-null value (prefixed by `namespace`), nulls kept."""
    out = [
        None if value is None else keyed_hash(key, namespace + value)
        for value in values.cast(pl.String).to_list()
    ]
    return pl.Series(values.name, out, dtype=pl.String)


def keyed_hash_lists(values: pl.Series, key: bytes, namespace: str = "") -> pl.Series:
    """HMAC-SHA256 of every element of each list; null lists stay null."""
    out = [
        None if items is None else [keyed_hash(key, namespace + item) for item in items]
        for items in values.to_list()
    ]
    return pl.Series(values.name, out, dtype=pl.List(pl.String))


def keyed_token_lists(values: pl.Series, key: bytes, namespace: str = "") -> pl.Series:
    """Keyed-hash each `tag:value` token of each list, keeping the tag in clear (`x:<hmac>`).

    Each distinct token is hashed once: the same names and numbers recur across
    rows (a report re-sent, a victim named in several crimes)."""
    hashed: dict[str, str] = {}

    def keyed(item: str) -> str:
        if item not in hashed:
            tag, _, value = item.partition(":")
            hashed[item] = f"{tag}:{keyed_hash(key, namespace + value)[:32]}"
        return hashed[item]

    out = [None if items is None else [keyed(item) for item in items] for items in values.to_list()]
    return pl.Series(values.name, out, dtype=pl.List(pl.String))
