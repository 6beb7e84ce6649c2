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
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from scipy import sparse

from transforms.blocks import IN_TURN, BlockRunner
from transforms.linkage_blocking import (
    CANDIDATE_SCHEMA,
    TOKEN_RULE_KINDS,
    candidate_pairs,
    cst_blocking_frame,
    identity_rule_tokens,
    long_tokens,
    police_blocking_frame,
    token_frequencies,
    uses_identity_blocking,
)
from transforms.linkage_compare import (
    comparison_vectors,
    crime_ref_evidence,
    cst_comparison_frame,
    identity_evidence,
    offender_similarity,
    police_comparison_frame,
    street_named_in_narrative,
)
from transforms.linkage_model import (
    FittedModel,
    fit_ecm,
    fit_supervised,
    score,
    with_priors_for_unobserved,
)
from transforms.linkage_resolve import police_incident_groups, resolved_pairs
from transforms.linkage_text import (
    NarrativeLexicon,
    inverse_document_frequencies,
    narrative_terms,
    row_cosines,
    row_positions,
    unit_rows,
)

SETTINGS_PATH = Path(__file__).with_name("linkage_settings.json")
# one row per record: its narrative terms and their counts, its offender terms and theirs
TERM_SCHEMA = {
    "source": pl.String, "record_key": pl.String,
    "narrative_terms": pl.List(pl.String), "narrative_tfs": pl.List(pl.UInt32),
    "offender_terms": pl.List(pl.String), "offender_tfs": pl.List(pl.UInt32),
}

__all__ = [
    "CST_BLOCKING_COLUMNS",
    "POLICE_BLOCKING_COLUMNS",
    "TERM_SCHEMA",
    "Candidates",
    "NarrativeModel",
    "comparison_vectors_chunked",
    "candidates_for",
    "comparison_vectors_for",
    "corpus_idf",
    "fitted_model",
    "linkage_settings",
    "linked_pairs",
    "narrative_model",
    "police_incident_groups",
    "settings_digest",
    "vectors_for",
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
    """Both sides' narrative and offender-description terms, and the idf weights.

    Documents are identified by row number (`doc`, UInt32) in the frames given
    to `narrative_model`; `cst_keys`/`police_keys` hold the keys in that order.
    """

    lexicon: NarrativeLexicon
    cst_keys: pl.Series
    police_keys: pl.Series
    cst_terms: pl.DataFrame
    police_terms: pl.DataFrame
    idf: pl.DataFrame
    cst_offender_terms: pl.DataFrame
    police_offender_terms: pl.DataFrame

    def doc_ids(self, side: str) -> pl.DataFrame:
        """key -> doc: (`report_key`, `cst_doc`) or (`crime_key`, `police_doc`)."""
        keys = self.cst_keys if side == "cst" else self.police_keys
        name = "cst_doc" if side == "cst" else "police_doc"
        return pl.DataFrame({keys.name: keys, name: pl.Series(range(len(keys)), dtype=pl.UInt32)})

    def term_rows(self, only: pl.Series | None = None) -> pl.DataFrame:
        """One row per record (`TERM_SCHEMA`, empty lists where none): what `narrative_model` takes back
        as known. `only`: the rows of these keys (either side's) alone."""
        parts = []
        for source, keys, narrative, offender in (
            ("cst", self.cst_keys, self.cst_terms, self.cst_offender_terms),
            ("police", self.police_keys, self.police_terms, self.police_offender_terms),
        ):
            rows = pl.DataFrame({"doc": pl.Series(range(len(keys)), dtype=pl.UInt32), "record_key": keys.cast(pl.String)})
            if only is not None:
                rows = rows.filter(pl.col("record_key").is_in(only.cast(pl.String).implode()))
            for kind, terms in (("narrative", narrative), ("offender", offender)):
                if only is not None:
                    terms = terms.join(rows.select("doc"), on="doc", how="semi")
                listed = terms.group_by("doc").agg(  # in term order: the same row for the same text
                    pl.col("term").sort_by("term").alias(f"{kind}_terms"),
                    pl.col("tf").sort_by("term").cast(pl.UInt32).alias(f"{kind}_tfs"),
                )
                rows = rows.join(listed, on="doc", how="left", maintain_order="left").with_columns(
                    pl.col(f"{kind}_terms").fill_null(pl.lit([], dtype=pl.List(pl.String))),
                    pl.col(f"{kind}_tfs").fill_null(pl.lit([], dtype=pl.List(pl.UInt32))),
                )
            parts.append(rows.select(pl.lit(source).alias("source"), pl.exclude("doc")))
        return pl.concat(parts).select(*TERM_SCHEMA)

    def subset(self, cst_keys: pl.Series, police_keys: pl.Series) -> NarrativeModel:
        """The model of these records only, documents renumbered in the given key order.

        A corpus-wide model sliced per chunk: every narrative is parsed once,
        not once for every chunk whose date window reaches it.
        """

        def renumber(terms: pl.DataFrame, side: str, keys: pl.Series) -> pl.DataFrame:
            old = self.doc_ids(side).rename({f"{side}_doc": "doc"})
            new = keys.to_frame().with_row_index("new").join(old, on=keys.name, how="inner").select("doc", "new")
            return terms.join(new, on="doc", how="inner").drop("doc").rename({"new": "doc"}).select(terms.columns)

        return NarrativeModel(
            self.lexicon,
            cst_keys,
            police_keys,
            renumber(self.cst_terms, "cst", cst_keys),
            renumber(self.police_terms, "police", police_keys),
            self.idf,
            renumber(self.cst_offender_terms, "cst", cst_keys),
            renumber(self.police_offender_terms, "police", police_keys),
        )


def _docs(frame: pl.DataFrame, text: pl.Expr) -> pl.DataFrame:
    return frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("doc"), text.alias("text"))


def narrative_model(
    cst: pl.DataFrame,
    police: pl.DataFrame,
    settings: Mapping,
    idf: pl.DataFrame | None = None,
    known_terms: pl.DataFrame | None = None,
) -> NarrativeModel:
    """Terms of every narrative; idf fitted on both corpora unless given (a stored model's).

    `known_terms` (`TERM_SCHEMA`, as `NarrativeModel.term_rows` gives them) are the terms of
    some of the records, already parsed under the same settings: those records' text is
    not parsed again.
    """
    lexicon = NarrativeLexicon.from_settings(settings["narrative"])
    if known_terms is None or known_terms.is_empty():
        cst_terms, police_terms, cst_offender, police_offender = _parsed_terms(cst, police, settings, lexicon)
    else:
        rows = {side: known_terms.filter(pl.col("source") == side) for side in ("cst", "police")}
        known = {side: _long_terms(side_rows) for side, side_rows in rows.items()}
        # every known record has its row, terms or none
        cst_new = cst.join(rows["cst"].select(pl.col("record_key").alias("report_key")),
                           on="report_key", how="anti", maintain_order="left")
        police_new = police.join(rows["police"].select(pl.col("record_key").alias("crime_key")),
                                 on="crime_key", how="anti", maintain_order="left")
        parsed_cst, parsed_police, parsed_cst_offender, parsed_police_offender = _parsed_terms(
            cst_new, police_new, settings, lexicon
        )
        cst_keys, cst_new_keys = cst["report_key"], cst_new["report_key"]
        police_keys, police_new_keys = police["crime_key"], police_new["crime_key"]
        cst_terms = _with_known(parsed_cst, cst_new_keys, cst_keys, known["cst"], "narrative")
        police_terms = _with_known(parsed_police, police_new_keys, police_keys, known["police"], "narrative")
        cst_offender = _with_known(parsed_cst_offender, cst_new_keys, cst_keys, known["cst"], "offender")
        police_offender = _with_known(parsed_police_offender, police_new_keys, police_keys, known["police"], "offender")
    if idf is None:
        idf = inverse_document_frequencies(pl.concat([cst_terms, police_terms]), cst.height + police.height)
    return NarrativeModel(
        lexicon, cst["report_key"], police["crime_key"], cst_terms, police_terms, idf, cst_offender, police_offender
    )


def _long_terms(rows: pl.DataFrame) -> pl.DataFrame:
    """`TERM_SCHEMA` rows -> (record_key, kind, term, tf), one row per term."""
    return pl.concat([
        rows.select("record_key", pl.lit(kind).alias("kind"), pl.col(f"{kind}_terms").alias("term"),
                    pl.col(f"{kind}_tfs").alias("tf"))
        .explode("term", "tf").drop_nulls("term")
        for kind in ("narrative", "offender")
    ])


def _with_known(
    parsed: pl.DataFrame, parsed_keys: pl.Series, keys: pl.Series, known: pl.DataFrame, kind: str
) -> pl.DataFrame:
    """(doc, term, tf) over `keys`' row numbers: the parsed records' terms and the known ones'."""
    doc_of = pl.DataFrame({"record_key": keys, "doc": pl.Series(range(len(keys)), dtype=pl.UInt32)})
    renumbered = parsed.join(
        pl.DataFrame({"parsed": pl.Series(range(len(parsed_keys)), dtype=pl.UInt32), "record_key": parsed_keys}),
        left_on="doc", right_on="parsed",
    ).drop("doc").join(doc_of, on="record_key").select("doc", "term", "tf")
    stored = known.filter(pl.col("kind") == kind).join(doc_of, on="record_key").select("doc", "term", "tf")
    return pl.concat([renumbered, stored]).sort("doc", maintain_order=True)


def _parsed_terms(
    cst: pl.DataFrame, police: pl.DataFrame, settings: Mapping, lexicon: NarrativeLexicon
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(cst terms, police terms, cst offender terms, police offender terms), docs = row numbers."""
    cst_terms = narrative_terms(_docs(cst, cst_text(cst)), lexicon)
    police_terms = narrative_terms(_docs(police, pl.col("summary_redacted")), lexicon)
    if settings["narrative"].get("drop_own_place_words", True):
        # A record's own street and town words say where, not what: the place
        # comparisons weigh them already, and counting them twice makes every
        # look-alike at the same place look like a match.
        cst_terms = _without_place_words(cst_terms, cst, lexicon)
        police_terms = _without_place_words(police_terms, police, lexicon)
    pattern = settings.get("offender_pattern", r"(?i)\bdescribed as\s+([^.;]+)")
    offender = (
        pl.col("offender_description_redacted")
        if "offender_description_redacted" in cst.columns
        else pl.lit(None, dtype=pl.String)
    )
    cst_offender = narrative_terms(_docs(cst, offender), lexicon)
    police_offender = narrative_terms(_docs(police, pl.col("summary_redacted").str.extract(pattern, 1)), lexicon)
    if settings["narrative"].get("drop_own_offender_words", False):
        # Likewise who did it: the offender comparison weighs the descriptions.
        cst_terms = cst_terms.join(cst_offender.select("doc", "term"), on=["doc", "term"], how="anti")
        police_terms = police_terms.join(police_offender.select("doc", "term"), on=["doc", "term"], how="anti")
    if settings["narrative"].get("drop_channel_words", False):
        # and the platform an online incident happened on: the channel comparison weighs it.
        channel_words = _channel_terms(settings.get("channels", {}), lexicon)
        cst_terms = cst_terms.filter(~pl.col("term").is_in(channel_words))
        police_terms = police_terms.filter(~pl.col("term").is_in(channel_words))
    return cst_terms, police_terms, cst_offender, police_offender


def _channel_terms(channels: Mapping[str, list[str]], lexicon: NarrativeLexicon) -> list[str]:
    """The narrative terms that name a channel (`twitter`, `whatsapp`; not the words of `text message`)."""
    spellings = [spelling for names in channels.values() for spelling in names if spelling.isalpha()]
    docs = pl.DataFrame({"doc": list(range(len(spellings))), "text": spellings})
    return narrative_terms(docs, lexicon)["term"].unique().to_list()


def _without_place_words(terms: pl.DataFrame, records: pl.DataFrame, lexicon: NarrativeLexicon) -> pl.DataFrame:
    place_columns = [c for c in ("street", "town") if c in records.columns]
    if not place_columns:
        return terms
    places = _docs(records, pl.concat_str([pl.col(c).fill_null("") for c in place_columns], separator=" "))
    # each distinct place once (a few thousand streets for a million records)
    distinct = places.select("text").unique().with_row_index("place")
    place_terms = narrative_terms(distinct.select(pl.col("place").alias("doc"), "text"), lexicon)
    own = (
        places.join(distinct, on="text")
        .join(place_terms.select(pl.col("doc").alias("place"), "term"), on="place")
        .select("doc", "term")
    )
    return terms.join(own, on=["doc", "term"], how="anti")


@dataclass
class Candidates:
    """Candidate pairs (`CANDIDATE_SCHEMA`) with what blocking learnt of them: each pair's
    narrative cosine (aligned with `pairs`) and its crime-number evidence."""

    pairs: pl.DataFrame
    cosines: pl.Series
    ref_evidence: pl.DataFrame

    @property
    def report_keys(self) -> pl.Series:
        return self.pairs["report_key"].unique()

    @property
    def crime_keys(self) -> pl.Series:
        return self.pairs["crime_key"].unique()


# the columns `candidates_for` reads: blocking, crime-number tokens (and identity tokens for
# an identity rule); the rest (narratives, categories) only `vectors_for`, of the pairs' records
CST_BLOCKING_COLUMNS = (
    "report_key", "incident_date", "reported_date", "postcode_unit_key", "postcode_sector", "postcode_district",
    "street", "force_id", "cited_crime_ref_tokens",
)
POLICE_BLOCKING_COLUMNS = (
    "crime_key", "occurred_from", "occurred_to", "postcode_unit_key", "postcode_sector", "postcode_district",
    "street", "force_id", "crime_ref_tokens",
)


def comparison_vectors_for(
    cst: pl.DataFrame,
    police: pl.DataFrame,
    settings: Mapping,
    texts: NarrativeModel,
    changed_reports: pl.Series | None = None,
    changed_crimes: pl.Series | None = None,
    token_frequency: pl.DataFrame | None = None,
    comparison_frames: tuple[pl.DataFrame, pl.DataFrame] | None = None,
    report_floors: pl.DataFrame | None = None,
    crime_floors: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Candidate pairs with their comparison vectors, and each pair's `report_floor` and `crime_floor`:
    `vectors_for(candidates_for(...))` on the same records.

    `cst`/`police` are staging rows (the `stg_cst_reports`/`stg_police_crimes`
    shapes). With `changed_reports`/`changed_crimes` only pairs touching those
    records are built (an incremental night); `token_frequency` (token,
    frequency) then has to count every crime held, not just the given ones.
    `comparison_frames`: the (cst, police) comparison frames, when computed
    once for more records than these (a chunk of a larger run).
    `report_floors` (`report_key`, `report_floor`, from the run that last
    linked each report) bound the reports' own top-k among `changed_crimes`
    (see `candidate_pairs`). A pair's `report_floor` is its report's floor
    as found here, null where it cannot be (the report was not compared
    with every crime it can meet: an unchanged report on a night of crimes).
    `crime_floors` (`crime_key`, `crime_floor`) and a pair's `crime_floor` are
    the same for the crimes' own top-k among `changed_reports`.
    """
    candidates = candidates_for(
        cst, police, settings, texts, changed_reports, changed_crimes, token_frequency, report_floors, crime_floors
    )
    return vectors_for(candidates, cst, police, settings, texts, comparison_frames)


def candidates_for(
    cst: pl.DataFrame,
    police: pl.DataFrame,
    settings: Mapping,
    texts: NarrativeModel,
    changed_reports: pl.Series | None = None,
    changed_crimes: pl.Series | None = None,
    token_frequency: pl.DataFrame | None = None,
    report_floors: pl.DataFrame | None = None,
    crime_floors: pl.DataFrame | None = None,
    blocks: BlockRunner = IN_TURN,
) -> Candidates:
    """The candidate pairs of `comparison_vectors_for` (same arguments), before any comparison.

    Reads only `CST_BLOCKING_COLUMNS` / `POLICE_BLOCKING_COLUMNS` of `cst` / `police` (and
    `identity_tokens` under an identity blocking rule): an incremental night reads the
    narratives of its pairs' records alone (`vectors_for`), not of every record in reach.
    `blocks` runs the narrative-similarity blocks (`transforms/blocks.py`).
    """
    max_range = int(settings.get("max_range_days", 31))
    cst_block = cst_blocking_frame(cst)
    police_block = police_blocking_frame(police, max_range)
    vocabulary = pl.concat([texts.cst_terms.select("term"), texts.police_terms.select("term")]).unique().sort("term")
    columns = vocabulary.with_row_index("col")
    cst_docs = cst_block.select("report_key").join(texts.doc_ids("cst"), on="report_key", how="left", maintain_order="left")
    police_docs = police_block.select("crime_key").join(
        texts.doc_ids("police"), on="crime_key", how="left", maintain_order="left"
    )
    cst_vectors = unit_rows(texts.cst_terms, cst_docs["cst_doc"], texts.idf, columns)
    police_vectors = unit_rows(texts.police_terms, police_docs["police_doc"], texts.idf, columns)
    cst_tokens = long_tokens(cst, "report_key", "cited_crime_ref_tokens")
    police_tokens = long_tokens(police, "crime_key", "crime_ref_tokens")
    rules = settings["blocking_rules"]
    # identity tokens of every record only when a rule blocks on them; else only the paired ones' (below)
    identity_blocking = uses_identity_blocking(rules)
    cst_identity = long_tokens(cst, "report_key", "identity_tokens") if identity_blocking else None
    police_identity = long_tokens(police, "crime_key", "identity_tokens") if identity_blocking else None
    if token_frequency is None:
        token_frequency = token_frequencies(pl.concat([police_tokens, *([police_identity] if identity_blocking else [])]))
    if changed_reports is None and changed_crimes is None:
        pairs = candidate_pairs(
            cst_block, police_block, rules, cst_tokens, police_tokens, token_frequency, cst_vectors, police_vectors,
            cst_identity, police_identity, blocks=blocks,
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
                    None if cst_identity is None
                    else cst_identity.filter(pl.col("report_key").is_in(changed_reports.implode())),
                    police_identity,
                    crime_floors=crime_floors, blocks=blocks,
                ).with_columns(pl.lit(None, dtype=pl.Float64).alias("crime_floor"))  # met tonight's reports only
            )
        if changed_crimes is not None and len(changed_crimes):
            mask = police_block["crime_key"].is_in(changed_crimes.implode())
            found.append(
                candidate_pairs(
                    cst_block, police_block.filter(mask), rules,
                    cst_tokens,
                    police_tokens.filter(pl.col("crime_key").is_in(changed_crimes.implode())),
                    token_frequency, cst_vectors, police_vectors[np.flatnonzero(mask.to_numpy())],
                    cst_identity,
                    None if police_identity is None
                    else police_identity.filter(pl.col("crime_key").is_in(changed_crimes.implode())),
                    report_floors, blocks=blocks,
                ).with_columns(pl.lit(None, dtype=pl.Float64).alias("report_floor"))  # met tonight's crimes only
            )
        pairs = _one_row_per_pair(found) if found else pl.DataFrame(schema=CANDIDATE_SCHEMA)
    evidence = crime_ref_evidence(pairs, cst_tokens, police_tokens, token_frequency)
    # the blocking rows already hold every paired narrative's unit vector: one row-wise product
    cosines = _row_cosines(pairs, cst_block["report_key"], police_block["crime_key"], cst_vectors, police_vectors)
    return Candidates(pairs, cosines, evidence)


def vectors_for(
    candidates: Candidates,
    cst: pl.DataFrame,
    police: pl.DataFrame,
    settings: Mapping,
    texts: NarrativeModel,
    comparison_frames: tuple[pl.DataFrame, pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """The comparison vectors of `candidates`; `cst` / `police` hold at least their records
    (whole staging rows) and `texts` at least their terms. See `comparison_vectors_for`."""
    pairs, evidence, cosines = candidates.pairs, candidates.ref_evidence, candidates.cosines
    indexed = pairs.join(texts.doc_ids("cst"), on="report_key", how="left", maintain_order="left").join(
        texts.doc_ids("police"), on="crime_key", how="left", maintain_order="left"
    )
    offender = offender_similarity(
        indexed, texts.cst_offender_terms, texts.police_offender_terms, settings.get("offender_unknown_terms", ["unknown"])
    )
    named = street_named_in_narrative(pairs, cst, police)
    identity = identity_evidence(pairs, cst, police)
    if comparison_frames is None:
        # only the records in a pair: an incremental night's scope is far wider than its pairs
        comparison_frames = (
            cst_comparison_frame(cst.join(pairs.select("report_key").unique(), on="report_key", how="semi"), settings),
            police_comparison_frame(police.join(pairs.select("crime_key").unique(), on="crime_key", how="semi"), settings),
        )
    return comparison_vectors(
        pairs,
        *comparison_frames,
        settings,
        evidence,
        cosines,
        offender,
        named,
        identity,
    )


def _row_cosines(
    pairs: pl.DataFrame, report_keys: pl.Series, crime_keys: pl.Series,
    cst_vectors: sparse.csr_matrix, police_vectors: sparse.csr_matrix,
) -> pl.Series:
    """Each pair's narrative cosine from the unit rows of its two records (rows in key order given)."""
    if pairs.is_empty():
        return pl.Series("narrative_cosine", [], dtype=pl.Float64)
    return row_cosines(
        cst_vectors,
        police_vectors,
        row_positions(pairs["report_key"], report_keys),
        row_positions(pairs["crime_key"], crime_keys),
    )


def corpus_idf(cst: pl.DataFrame, police: pl.DataFrame, settings: Mapping, chunk_rows: int = 100_000) -> pl.DataFrame:
    """The idf of both corpora, counted a chunk of narratives at a time (bounded memory)."""
    counts: list[pl.DataFrame] = []
    for frame in (cst, police):
        for start in range(0, frame.height, chunk_rows):
            part = frame.slice(start, chunk_rows)
            no_idf = pl.DataFrame(schema={"term": pl.String, "idf": pl.Float64})
            if frame is cst:
                texts = narrative_model(part, police.head(0), settings, idf=no_idf)
            else:
                texts = narrative_model(cst.head(0), part, settings, idf=no_idf)
            terms = texts.cst_terms if frame is cst else texts.police_terms
            counts.append(terms.group_by("term").agg(pl.len().alias("df")))
    documents = cst.height + police.height
    if not counts:
        return pl.DataFrame(schema={"term": pl.String, "idf": pl.Float64})
    return (
        pl.concat(counts)
        .group_by("term")
        .agg(pl.col("df").sum())
        .with_columns(((1 + documents) / (1 + pl.col("df"))).log().add(1.0).alias("idf"))
        .select("term", "idf")
        .sort("term")
    )


def _one_row_per_pair(found: list[pl.DataFrame]) -> pl.DataFrame:
    """The pairs of both directions of a night, once each, with each side's floor from the direction
    that found one (a pair of a new report and a new crime is found by both, each with one floor)."""
    every = pl.concat(found)
    report_floors = every.group_by("report_key").agg(pl.col("report_floor").max())
    crime_floors = every.group_by("crime_key").agg(pl.col("crime_floor").max())
    return (
        every.drop("report_floor", "crime_floor")
        .unique(["report_key", "crime_key"], keep="first", maintain_order=True)
        .join(report_floors, on="report_key", how="left", maintain_order="left")
        .join(crime_floors, on="crime_key", how="left", maintain_order="left")
    )


@dataclass(frozen=True)
class _ChunkInputs:
    """What every date chunk of a full link reads (see `comparison_vectors_chunked`)."""

    dated: pl.DataFrame
    police: pl.DataFrame
    settings: Mapping
    everything: NarrativeModel
    frames: tuple[pl.DataFrame, pl.DataFrame]
    police_tokens: pl.DataFrame
    rare_identity: pl.DataFrame
    token_frequency: pl.DataFrame
    reach: int
    before: int


def _chunk_vectors(inputs: _ChunkInputs, span: tuple[date, date]) -> pl.DataFrame | None:
    """The comparison vectors of the reports dated in [start, end) (None: no report there)."""
    start, end = span
    dated, police = inputs.dated, inputs.police
    chunk = dated.filter((pl.col("incident_date") >= start) & (pl.col("incident_date") < end))
    if chunk.is_empty():
        return None
    window = police.filter(
        (pl.coalesce("occurred_to", "occurred_from").dt.date()
         >= chunk["incident_date"].min() - timedelta(days=inputs.reach + 3))
        & (pl.col("occurred_from").dt.date() <= chunk["incident_date"].max() + timedelta(days=inputs.before + 3))
    )
    cited = long_tokens(chunk, "report_key", "cited_crime_ref_tokens")
    named = long_tokens(chunk, "report_key", "identity_tokens")
    sharing = pl.concat([
        inputs.police_tokens.join(cited.select("token").unique(), on="token", how="semi").select("crime_key"),
        inputs.rare_identity.join(named.select("token").unique(), on="token", how="semi").select("crime_key"),
    ]).unique()
    sub = pl.concat([window, police.join(sharing, on="crime_key", how="semi")]).unique(
        "crime_key", keep="first", maintain_order=True  # a fixed order: top-k ties break by position
    )
    texts = inputs.everything.subset(chunk["report_key"], sub["crime_key"])
    return comparison_vectors_for(
        chunk, sub, inputs.settings, texts, token_frequency=inputs.token_frequency, comparison_frames=inputs.frames
    )


def comparison_vectors_chunked(
    cst: pl.DataFrame, police: pl.DataFrame, settings: Mapping, chunk_days: int | None = None,
    texts: NarrativeModel | None = None, blocks: BlockRunner = IN_TURN,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(comparison vectors, idf) of every candidate pair, CST reports taken a date window at a time.

    Exactly the pairs of `comparison_vectors_for` on everything (each chunk's
    reports meet every crime their rules can reach: dates from 63 days before
    to 3 days after the chunk, and crimes sharing a cited token), but the
    blocking and comparison intermediates of one chunk at a time: a million
    records fit in a few GB. A crime's own top-k narrative neighbours (the
    `no_place` rule) are taken within each chunk, so a few more pairs are
    compared than in one piece. `texts`: the narrative model of `cst` and `police`,
    when the caller has it already. The chunks are the blocks `blocks` runs
    (`transforms/blocks.py`); as many chunks' intermediates are in memory as it runs at once.
    """
    chunk_days = int(chunk_days or settings.get("chunk_days", 30))
    # Narratives parsed and per-record comparison columns derived once, then
    # sliced per chunk: a crime's date window reaches about four chunks.
    everything = texts if texts is not None else narrative_model(cst, police, settings)
    idf = everything.idf
    frames = (cst_comparison_frame(cst, settings), police_comparison_frame(police, settings))
    police_tokens = long_tokens(police, "crime_key", "crime_ref_tokens")
    # identity tokens reach crimes only through an identity blocking rule: none read without one
    police_identity = (
        long_tokens(police, "crime_key", "identity_tokens")
        if uses_identity_blocking(settings["blocking_rules"])
        else pl.DataFrame(schema={"crime_key": pl.String, "token": pl.String})
    )
    token_frequency = token_frequencies(pl.concat([police_tokens, police_identity]))
    # the crimes a chunk's reports can reach through a name or contact: the identity rules' tokens
    rare_identity = police_identity.join(
        identity_rule_tokens(token_frequency, settings["blocking_rules"]), on="token", how="semi"
    )
    dated = cst.filter(pl.col("incident_date").is_not_null())
    if dated.is_empty() or police.is_empty():
        texts = narrative_model(cst.head(0), police.head(0), settings, idf=idf)
        return comparison_vectors_for(cst.head(0), police.head(0), settings, texts, token_frequency=token_frequency), idf
    first, last = dated["incident_date"].min(), dated["incident_date"].max()
    # token rules reach their crimes through the shared tokens, not a date window around the chunk
    dated_rules = [rule for rule in settings["blocking_rules"] if rule["kind"] not in TOKEN_RULE_KINDS]
    inputs = _ChunkInputs(
        dated=dated, police=police, settings=settings, everything=everything, frames=frames,
        police_tokens=police_tokens, rare_identity=rare_identity, token_frequency=token_frequency,
        reach=max(int(rule.get("window", [0, 0])[1]) for rule in dated_rules),
        before=max(-int(rule.get("window", [0, 0])[0]) for rule in dated_rules),
    )
    spans = []
    start = first
    while start <= last:
        spans.append((start, start + timedelta(days=chunk_days)))
        start += timedelta(days=chunk_days)
    parts = [part for part in blocks.map(_chunk_vectors, spans, shared=inputs) if part is not None]
    # chunks partition the reports, so no pair is in two (no unique over tens of millions of
    # string keys); the chunks are kept as they are, not copied into one (3 GB at a million records)
    return (pl.concat(parts, how="vertical_relaxed", rechunk=False) if parts else pl.DataFrame()), idf


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
    ecm = with_priors_for_unobserved(fit_ecm(vectors, settings, groups), vectors, settings)
    if reviewed is not None and reviewed.height:
        supervised = fit_supervised(vectors, reviewed, settings, ecm)
        if supervised is not None:
            return with_priors_for_unobserved(supervised, vectors, settings), ecm
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
