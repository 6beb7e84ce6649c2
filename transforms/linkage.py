"""Record linkage of CST reports to police crimes (issue 6): the pure pipeline.

Frames in, frames out; no I/O. `flows/linking.py` reads the staging views,
calls these functions and writes the link tables.

    settings = linkage_settings()
    texts = narrative_model(cst, police, settings)          # terms + idf
    vectors = comparison_vectors_for(cst, police, settings, texts)
    model = fitted_model(vectors, settings, reviewed)        # ECM, or supervised
    result = linked_pairs(vectors, model, groups, police, decisions, settings)

Which library does what:
- blocking (`linkage_blocking`) and comparison vectors (`linkage_compare`,
  `linkage_text`) are Polars joins and expressions plus scipy sparse
  products: recordlinkage's pandas `Index`/`Compare` are too slow and too
  memory-hungry at a million records and have none of the domain comparisons;
- recordlinkage fits the model (`ECMClassifier`, then
  `LogisticRegressionClassifier` once reviewed pairs exist: `linkage_model`);
- decisions (`linkage_resolve`): incident groups, cardinality, review precedence.

The model is declared in `linkage_settings.json` (blocking rules, comparisons
with levels and prior m/u, thresholds, training options), like Splink's
settings; the fitted parameters of each run are a JSON document.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from transforms.linkage_blocking import (
    candidate_pairs,
    cst_blocking_frame,
    long_tokens,
    police_blocking_frame,
    token_frequencies,
)
from transforms.linkage_compare import (
    comparison_vectors,
    crime_ref_evidence,
    cst_comparison_frame,
    offender_similarity,
    police_comparison_frame,
)
from transforms.linkage_model import FittedModel, fit_ecm, fit_supervised, score
from transforms.linkage_resolve import police_incident_groups, resolved_pairs
from transforms.linkage_text import (
    NarrativeLexicon,
    inverse_document_frequencies,
    narrative_terms,
    pair_cosines,
    unit_rows,
)

SETTINGS_PATH = Path(__file__).with_name("linkage_settings.json")

__all__ = [
    "NarrativeModel",
    "comparison_vectors_for",
    "fitted_model",
    "linkage_settings",
    "linked_pairs",
    "narrative_model",
    "police_incident_groups",
    "settings_digest",
]


def linkage_settings(path: Path | str | None = None) -> dict:
    """The declarative linkage model (default: the file shipped beside this module)."""
    return json.loads(Path(path or SETTINGS_PATH).read_text(encoding="utf-8"))


def settings_digest(settings: Mapping) -> str:
    """A short digest of the settings: a changed model means a full re-link."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def cst_text(cst: pl.DataFrame) -> pl.Expr:
    parts = [c for c in ("description_redacted", "offender_description_redacted") if c in cst.columns]
    if not parts:
        return pl.lit(None, dtype=pl.String)
    return pl.concat_str([pl.col(c).fill_null("") for c in parts], separator=" ")


@dataclass
class NarrativeModel:
    """Both sides' narrative and offender-description terms, and the idf weights."""

    lexicon: NarrativeLexicon
    cst_terms: pl.DataFrame
    police_terms: pl.DataFrame
    idf: pl.DataFrame
    cst_offender_terms: pl.DataFrame
    police_offender_terms: pl.DataFrame


def narrative_model(
    cst: pl.DataFrame, police: pl.DataFrame, settings: Mapping, idf: pl.DataFrame | None = None
) -> NarrativeModel:
    """Terms of every narrative; idf fitted on both corpora unless given (a stored model's)."""
    lexicon = NarrativeLexicon.from_settings(settings["narrative"])
    cst_terms = narrative_terms(cst.select(pl.col("report_key").alias("doc"), cst_text(cst).alias("text")), lexicon)
    police_terms = narrative_terms(
        police.select(pl.col("crime_key").alias("doc"), pl.col("summary_redacted").alias("text")), lexicon
    )
    if settings["narrative"].get("drop_own_place_words", True):
        # A record's own street and town words say where, not what: the place
        # comparisons weigh them already, and counting them twice makes every
        # look-alike at the same place look like a match.
        cst_terms = _without_place_words(cst_terms, cst, "report_key", lexicon)
        police_terms = _without_place_words(police_terms, police, "crime_key", lexicon)
    if idf is None:
        idf = inverse_document_frequencies(pl.concat([cst_terms, police_terms]), cst.height + police.height)
    pattern = settings.get("offender_pattern", r"(?i)\bdescribed as\s+([^.;]+)")
    cst_offender = narrative_terms(
        cst.select(
            pl.col("report_key").alias("doc"),
            (pl.col("offender_description_redacted") if "offender_description_redacted" in cst.columns
             else pl.lit(None, dtype=pl.String)).alias("text"),
        ),
        lexicon,
    )
    police_offender = narrative_terms(
        police.select(pl.col("crime_key").alias("doc"), pl.col("summary_redacted").str.extract(pattern, 1).alias("text")),
        lexicon,
    )
    return NarrativeModel(lexicon, cst_terms, police_terms, idf, cst_offender, police_offender)


def _without_place_words(
    terms: pl.DataFrame, records: pl.DataFrame, key: str, lexicon: NarrativeLexicon
) -> pl.DataFrame:
    place_columns = [c for c in ("street", "town") if c in records.columns]
    if not place_columns:
        return terms
    places = records.select(
        pl.col(key).alias("doc"),
        pl.concat_str([pl.col(c).fill_null("") for c in place_columns], separator=" ").alias("text"),
    )
    own = narrative_terms(places, lexicon).select("doc", "term")
    return terms.join(own, on=["doc", "term"], how="anti")


def comparison_vectors_for(
    cst: pl.DataFrame,
    police: pl.DataFrame,
    settings: Mapping,
    texts: NarrativeModel,
    changed_reports: pl.Series | None = None,
    changed_crimes: pl.Series | None = None,
    token_frequency: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Candidate pairs with their comparison vectors.

    `cst`/`police` are staging rows (the `stg_cst_reports`/`stg_police_crimes`
    shapes). With `changed_reports`/`changed_crimes` only pairs touching those
    records are built (an incremental night); `token_frequency` (token,
    frequency) then has to count every crime held, not just the given ones.
    """
    max_range = int(settings.get("max_range_days", 31))
    cst_block = cst_blocking_frame(cst)
    police_block = police_blocking_frame(police, max_range)
    vocabulary = pl.concat([texts.cst_terms.select("term"), texts.police_terms.select("term")]).unique().sort("term")
    columns = vocabulary.with_row_index("col")
    cst_vectors = unit_rows(texts.cst_terms, cst_block["report_key"], texts.idf, columns)
    police_vectors = unit_rows(texts.police_terms, police_block["crime_key"], texts.idf, columns)
    cst_tokens = long_tokens(cst, "report_key", "cited_crime_ref_tokens")
    police_tokens = long_tokens(police.filter(pl.col("status") != "cancelled"), "crime_key", "crime_ref_tokens")
    if token_frequency is None:
        token_frequency = token_frequencies(police_tokens)
    rules = settings["blocking_rules"]
    if changed_reports is None and changed_crimes is None:
        pairs = candidate_pairs(
            cst_block, police_block, rules, cst_tokens, police_tokens, token_frequency, cst_vectors, police_vectors
        )
    else:
        found = []
        if changed_reports is not None and len(changed_reports):
            mask = cst_block["report_key"].is_in(changed_reports.implode())
            found.append(
                candidate_pairs(
                    cst_block.filter(mask), police_block, rules,
                    cst_tokens.filter(pl.col("report_key").is_in(changed_reports.implode())),
                    police_tokens, token_frequency,
                    cst_vectors[np.flatnonzero(mask.to_numpy())], police_vectors,
                )
            )
        if changed_crimes is not None and len(changed_crimes):
            mask = police_block["crime_key"].is_in(changed_crimes.implode())
            found.append(
                candidate_pairs(
                    cst_block, police_block.filter(mask), rules,
                    cst_tokens,
                    police_tokens.filter(pl.col("crime_key").is_in(changed_crimes.implode())),
                    token_frequency, cst_vectors, police_vectors[np.flatnonzero(mask.to_numpy())],
                )
            )
        pairs = (
            pl.concat(found).unique(["report_key", "crime_key"], keep="first", maintain_order=True)
            if found
            else pl.DataFrame(schema={"report_key": pl.String, "crime_key": pl.String, "rule": pl.String})
        )
    evidence = crime_ref_evidence(pairs, cst_tokens, police_tokens, token_frequency)
    cosines = pair_cosines(texts.cst_terms, texts.police_terms, pairs, texts.idf, "report_key", "crime_key")
    offender = offender_similarity(
        pairs, texts.cst_offender_terms, texts.police_offender_terms, settings.get("offender_unknown_terms", ["unknown"])
    )
    return comparison_vectors(
        pairs,
        cst_comparison_frame(cst, settings),
        police_comparison_frame(police, settings),
        settings,
        evidence,
        cosines,
        offender,
    )


def fitted_model(
    vectors: pl.DataFrame,
    settings: Mapping,
    reviewed: pl.DataFrame | None = None,
    groups: pl.DataFrame | None = None,
) -> tuple[FittedModel, FittedModel]:
    """(model to use, the ECM model): supervised when enough reviewed pairs exist, else ECM.

    `reviewed`: report_key, crime_key, label (1 accept, 0 reject);
    `groups`: crime_key, police_incident_id (EM trains on mutual-best incident edges).
    """
    ecm = fit_ecm(vectors, settings, groups)
    if reviewed is not None and reviewed.height:
        supervised = fit_supervised(vectors, reviewed, settings, ecm)
        if supervised is not None:
            return supervised, ecm
    return ecm, ecm


def linked_pairs(
    vectors: pl.DataFrame,
    model: FittedModel,
    groups: pl.DataFrame,
    police: pl.DataFrame,
    decisions: pl.DataFrame,
    settings: Mapping,
) -> pl.DataFrame:
    """Scored, resolved pairs (see `linkage_resolve.resolved_pairs` for the columns)."""
    scored = score(vectors, model)
    return resolved_pairs(
        scored,
        groups,
        police.select("crime_key", "force_id", "status"),
        decisions,
        settings["thresholds"],
    )
