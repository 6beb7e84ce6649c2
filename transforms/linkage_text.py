"""Narrative similarity across writing styles: `spat at him` vs `SPAT AT IP`.

A plain character similarity scores two different incidents written in the
same style higher than one incident written in two styles. Instead both
narratives become bags of normalised terms:

1. lower case; multi-word phrases mapped to one concept in one Aho-Corasick
   pass (`skull cap` / `head covering` -> `kippah`, `bus shelter` / `bus stop`;
   a `[PLATE]` placeholder -> `plateref`: both sides noting a registration);
2. the other redaction placeholders (`[NAME]`, `[PHONE]`) removed;
3. words mapped through the police-jargon and synonym table (`ip` -> victim,
   `susp` -> offender, `vehicle` -> car), stop words dropped, the rest stemmed
   by a light suffix stripper (applied once per distinct word, not per token);
4. TF-IDF (sublinear tf, smoothed idf over both corpora), L2-normalised;
   the similarity of a pair is the cosine of the two vectors.

All string work is vectorised in Polars; the per-pair dot products run on
scipy sparse rows in chunks. The idf table is part of the fitted model, so an
incremental night scores new pairs against the same weights.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse

_SUFFIXES = ("ings", "ing", "edly", "ed", "ies", "es", "ly", "s")


def stem(word: str) -> str:
    """A light, deterministic suffix stripper (Porter-like, far simpler)."""
    if len(word) <= 3:
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if suffix == "ies":
                return base + "y"
            if suffix in ("es",) and not base.endswith(("s", "x", "z", "ch", "sh")):
                return word[:-1]
            if suffix in ("ing", "ed", "ings", "edly") and len(base) >= 2 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]
            return base
    return word


@dataclass(frozen=True)
class NarrativeLexicon:
    """The declarative part of the narrative comparison (from the settings file)."""

    phrases: Mapping[str, str]
    synonyms: Mapping[str, str]
    stopwords: frozenset[str]
    placeholder_pattern: str = r"\[[^\]]*\]"
    min_token_length: int = 2

    @classmethod
    def from_settings(cls, narrative: Mapping) -> NarrativeLexicon:
        return cls(
            phrases=dict(narrative.get("phrases", {})),
            synonyms={k: v for k, v in narrative.get("synonyms", {}).items() if " " not in k},
            stopwords=frozenset(narrative.get("stopwords", [])),
            placeholder_pattern=narrative.get("placeholder_pattern", r"\[[^\]]*\]"),
            min_token_length=int(narrative.get("min_token_length", 2)),
        )

    def term(self, word: str) -> str | None:
        """The canonical term of one lower-case word, or None for a stop word."""
        if len(word) < self.min_token_length or word in self.stopwords:
            return None
        mapped = self.synonyms.get(word)
        if mapped is None:
            mapped = self.synonyms.get(stem(word), word)
        if mapped in self.stopwords:
            return None
        return stem(mapped)


def narrative_terms(
    docs: pl.DataFrame,
    lexicon: NarrativeLexicon,
    id_column: str = "doc",
    text_column: str = "text",
    chunk_rows: int = 100_000,
) -> pl.DataFrame:
    """One row per (doc, term) with its count `tf`; documents without terms have no rows.

    Works through `chunk_rows` documents at a time (the exploded words of a
    million narratives would not fit), mapping each distinct word once.
    """
    phrases = sorted(lexicon.phrases, key=len, reverse=True)
    text = pl.col(text_column).fill_null("").str.to_lowercase()
    if phrases:
        text = text.str.replace_many(
            [p.lower() for p in phrases], [f" {lexicon.phrases[p]} " for p in phrases]
        )
    text = text.str.replace_all(lexicon.placeholder_pattern, " ")
    known: dict[str, str | None] = {}
    parts = []
    for start in range(0, max(docs.height, 1), chunk_rows):
        words = (
            docs.slice(start, chunk_rows)
            .lazy()
            .select(pl.col(id_column).alias("doc"), text.str.extract_all(r"[a-z]+").alias("word"))
            .explode("word")
            .drop_nulls("word")
            .collect()
        )
        vocabulary = words.get_column("word").unique()
        known.update((w, lexicon.term(w)) for w in vocabulary.to_list() if w not in known)
        mapping = pl.DataFrame(
            {"word": vocabulary, "term": [known[w] for w in vocabulary.to_list()]},
            schema={"word": pl.String, "term": pl.String},
        ).drop_nulls("term")
        # counted by an integer term id, not the term string (millions of rows per chunk)
        term_ids = mapping.select(pl.col("term").unique()).with_row_index("term_id")
        parts.append(
            words.join(mapping.join(term_ids, on="term").select("word", "term_id"), on="word")
            .group_by("doc", "term_id")
            .agg(pl.len().cast(pl.UInt32).alias("tf"))
            .join(term_ids, on="term_id")
            .select("doc", "term", "tf")
        )
    if not parts:
        return pl.DataFrame(schema={"doc": docs.schema.get(id_column, pl.String), "term": pl.String, "tf": pl.UInt32})
    return pl.concat(parts)


def inverse_document_frequencies(terms: pl.DataFrame, documents: int) -> pl.DataFrame:
    """Smoothed idf, ln((1 + n) / (1 + df)) + 1, per term (the fitted text model)."""
    return (
        terms.group_by("term")
        .agg(pl.len().alias("df"))
        .with_columns(((1 + documents) / (1 + pl.col("df"))).log().add(1.0).alias("idf"))
        .select("term", "idf")
        .sort("term")
    )


def pair_cosines(
    left_terms: pl.DataFrame,
    right_terms: pl.DataFrame,
    pairs: pl.DataFrame,
    idf: pl.DataFrame,
    left_key: str,
    right_key: str,
    chunk: int = 500_000,
) -> pl.Series:
    """Cosine of each pair's two narratives; null where either side has no terms.

    `left_terms`/`right_terms` are `narrative_terms` outputs whose `doc` values
    are the keys named in `pairs[left_key]` / `pairs[right_key]`.
    """
    if pairs.is_empty():
        return pl.Series("narrative_cosine", [], dtype=pl.Float64)
    left_docs = pairs.get_column(left_key).unique()
    right_docs = pairs.get_column(right_key).unique()
    # One shared column space: map both sides' terms to the same indices.
    vocabulary = pl.concat([left_terms.select("term"), right_terms.select("term")]).unique().sort("term")
    column = vocabulary.with_row_index("col")
    left = unit_rows(left_terms, left_docs, idf, column)
    right = unit_rows(right_terms, right_docs, idf, column)
    return row_cosines(
        left, right, row_positions(pairs[left_key], left_docs), row_positions(pairs[right_key], right_docs), chunk
    )


def row_positions(values: pl.Series, rows: pl.Series) -> np.ndarray:
    """For each value, its position in `rows` (the row order of a matrix)."""
    index = pl.DataFrame({"value": rows, "row": np.arange(len(rows), dtype=np.int64)})
    return values.alias("value").to_frame().join(index, on="value", how="left", maintain_order="left")["row"].to_numpy()


def row_cosines(
    left: sparse.csr_matrix, right: sparse.csr_matrix, left_row: np.ndarray, right_row: np.ndarray,
    chunk: int = 500_000,
) -> pl.Series:
    """Cosine of unit rows `left[left_row[n]]` and `right[right_row[n]]` for each n; null where either has no terms."""
    out = np.empty(len(left_row), dtype=np.float64)
    for start in range(0, len(left_row), chunk):
        i = left_row[start : start + chunk]
        j = right_row[start : start + chunk]
        out[start : start + chunk] = np.asarray(left[i].multiply(right[j]).sum(axis=1)).ravel()
    missing = np.asarray(left.getnnz(axis=1) == 0)[left_row] | np.asarray(right.getnnz(axis=1) == 0)[right_row]
    values = np.where(missing, np.nan, np.clip(out, 0.0, 1.0))
    return pl.Series("narrative_cosine", values, dtype=pl.Float64).fill_nan(None)


def unit_rows(terms: pl.DataFrame, docs: pl.Series, idf: pl.DataFrame, column: pl.DataFrame) -> sparse.csr_matrix:
    """L2-normalised tf-idf rows for `docs` (in their order) over a shared column space (`term`, `col`).

    Terms missing from `idf` (new since the model was fitted) weigh as the rarest known term.
    """
    default_idf = float(idf["idf"].max()) if idf.height else 1.0
    positions = pl.DataFrame({"doc": docs, "row": np.arange(len(docs), dtype=np.int64)})
    weighted = (
        terms.join(positions, on="doc", how="inner")
        .join(idf, on="term", how="left")
        .join(column, on="term", how="inner")
        .with_columns(
            ((pl.col("tf").cast(pl.Float64).log() + 1.0) * pl.col("idf").fill_null(default_idf)).alias("w")
        )
    )
    rows = sparse.csr_matrix(
        (weighted["w"].to_numpy(), (weighted["row"].to_numpy(), weighted["col"].cast(pl.Int64).to_numpy())),
        shape=(len(docs), max(column.height, 1)),
    )
    # Normalised in CSR (indices sorted): summed in a fixed order, unlike a
    # group-by after multi-threaded joins, whose last bits decided ties between
    # look-alike narratives in top-k blocking from one run to the next.
    rows.sort_indices()
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    return sparse.csr_matrix(sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ rows)


def cosine(a: str, b: str, lexicon: NarrativeLexicon, idf: pl.DataFrame | None = None) -> float | None:
    """The similarity of two texts (for tests and the review screen)."""
    terms = narrative_terms(pl.DataFrame({"doc": ["a", "b"], "text": [a, b]}), lexicon)
    if idf is None:
        idf = inverse_document_frequencies(terms, 2)
    pairs = pl.DataFrame({"l": ["a"], "r": ["b"]})
    return pair_cosines(terms, terms, pairs, idf, "l", "r").item()


def shared_terms(a: str, b: str, lexicon: NarrativeLexicon) -> list[str]:
    """Terms two narratives have in common (evidence shown to a reviewer)."""
    terms = narrative_terms(pl.DataFrame({"doc": ["a", "b"], "text": [a, b]}), lexicon)
    left = set(terms.filter(pl.col("doc") == "a")["term"].to_list())
    right = set(terms.filter(pl.col("doc") == "b")["term"].to_list())
    return sorted(left & right)


def normalised_words(text: str, lexicon: NarrativeLexicon) -> list[str]:
    """The terms of one text in order (debugging aid)."""
    lowered = text.lower()
    for phrase in sorted(lexicon.phrases, key=len, reverse=True):
        lowered = lowered.replace(phrase.lower(), f" {lexicon.phrases[phrase]} ")
    lowered = re.sub(lexicon.placeholder_pattern, " ", lowered)
    return [t for t in (lexicon.term(w) for w in re.findall(r"[a-z]+", lowered)) if t]
