"""From pair probabilities to decisions: incident groups, cardinality, review decisions, thresholds.

Police record crimes, not incidents: the crimes one force recorded for one
incident (one per victim or offence) share its time and place, and form a
police incident group. The cardinality rules then read:

- a police crime belongs to at most one CST report;
- a CST report may match several crimes, but only those of one police
  incident group: a spree of look-alike incidents in one street on
  consecutive nights is several groups, and the (report, group) edges are
  assigned one-to-one, strongest first, then improved by local exchanges
  where two edges together outweigh the one they replace (`_assignment`);
- every crime of an assigned group takes the group's status.

Review decisions always win: an accepted pair is assigned before the model's
edges (it claims its report and its crime's group), a rejected pair never is.

A cancelled crime still describes the incident it was recorded for, so it
competes like any other: a report whose best group holds only cancelled
crimes is that incident's, and matches no other crime (a spree's look-alike
on the next night is not its incident). A cancelled crime's pairs are void
all the same: rejected, with reason `cancelled` where the pair was assigned.

Every assignment decision reads only an edge's direct competitors (the other
edges of its report and of its group) and theirs, never a whole connected
component: at a million records strong links chain most records into one
component. An incremental night therefore re-decides the pairs of changed
records and of their direct competitors, with the assignments held outside
that neighbourhood as `taken`, and keeps every other pair as settled.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

import numpy as np
import polars as pl
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from transforms.identity_tokens import NAME_PART_TAG

DECISION_SCHEMA = {
    "report_key": pl.String,
    "crime_key": pl.String,
    "decision": pl.String,
    "decided_at": pl.Datetime("us"),
}

RESOLVED_COLUMNS = [
    "report_key",
    "crime_key",
    "force_id",
    "police_incident_id",
    "pair_probability",
    "match_probability",
    "match_weight",
    "status",
    "decided_by",
    "reason",
]


def _group_id(parts: list[str | None]) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return "pig_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _same_identity(pairs: pl.DataFrame, police: pl.DataFrame) -> pl.DataFrame:
    """(node, node_b, same_identity) of crime pairs sharing a whole name, contact or body, or two parts of a name."""
    if "identity_tokens" not in police.columns:
        return pl.DataFrame(schema={"node": pl.UInt32, "node_b": pl.UInt32, "same_identity": pl.Boolean})
    tokens = police.select("crime_key", pl.col("identity_tokens").list.unique().alias("token")).explode("token").drop_nulls()
    part = pl.col("token").str.starts_with(NAME_PART_TAG)
    return (
        pairs.join(tokens, on="crime_key")
        .join(tokens.rename({"crime_key": "crime_key_b"}), on=["crime_key_b", "token"])
        .group_by("node", "node_b")
        .agg(((~part).any() | (part.sum() >= 2)).alias("same_identity"))
    )


def police_incident_groups(police: pl.DataFrame, settings: Mapping) -> pl.DataFrame:
    """crime_key -> police_incident_id: the crimes a force recorded for one incident.

    Two crimes belong together when the force recorded them with the same
    time range and report date (`incident_groups.keys`), places that do not
    disagree (each of `place_keys` equal or missing on one side: a correction
    may have added the full postcode to one crime only), and narratives that
    share at least `min_narrative_jaccard` of their terms (or no narrative) or,
    when `identity_tokens` is given, the same person's whole name or a contact
    (one victim's assault and damage, written up in different words); groups
    are the connected components of that relation. The id is a digest
    of the shared keys and the group's smallest crime key.
    """
    options = settings.get("incident_groups", {})
    keys = [c for c in options.get("keys", ["force_id", "occurred_from", "occurred_to", "reported_date"]) if c in police.columns]
    place = [c for c in options.get("place_keys", ["postcode_unit_key", "street", "postcode_district"]) if c in police.columns]
    min_jaccard = float(options.get("min_narrative_jaccard", 0.3))
    block = pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in keys], separator="\x1f")
    frame = police.select("crime_key", block.alias("block"), *place).with_row_index("node")
    sizes = frame.group_by("block").len()
    multi = frame.join(sizes.filter(pl.col("len") > 1).select("block"), on="block", how="semi")
    edges_from, edges_to = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if multi.height:
        from transforms.linkage_text import NarrativeLexicon, narrative_terms

        lexicon = NarrativeLexicon.from_settings(settings.get("narrative", {}))
        texts = police.select(pl.col("crime_key").alias("doc"), pl.col("summary_redacted").alias("text")) if (
            "summary_redacted" in police.columns
        ) else police.select(pl.col("crime_key").alias("doc"), pl.lit(None, dtype=pl.String).alias("text"))
        terms = narrative_terms(texts.join(multi.select(pl.col("crime_key").alias("doc")), on="doc"), lexicon)
        counts = terms.group_by("doc").agg(pl.len().alias("n"))
        pairs = multi.join(multi, on="block", suffix="_b").filter(pl.col("node") < pl.col("node_b"))
        compatible = pl.lit(True)
        for column in place:
            compatible = compatible & (
                pl.col(column).is_null() | pl.col(f"{column}_b").is_null() | (pl.col(column) == pl.col(f"{column}_b"))
            )
        pairs = pairs.filter(compatible).select("node", "node_b", "crime_key", "crime_key_b")
        shared = (
            pairs.join(terms.rename({"doc": "crime_key"}), on="crime_key")
            .join(terms.rename({"doc": "crime_key_b", "tf": "tf_b"}), on=["crime_key_b", "term"])
            .group_by("node", "node_b")
            .agg(pl.len().alias("shared"))
        )
        scored = (
            pairs.join(shared, on=["node", "node_b"], how="left")
            .join(counts.rename({"doc": "crime_key", "n": "n_a"}), on="crime_key", how="left")
            .join(counts.rename({"doc": "crime_key_b", "n": "n_b"}), on="crime_key_b", how="left")
            .with_columns(pl.col("shared", "n_a", "n_b").fill_null(0))
            .with_columns(
                pl.when((pl.col("n_a") == 0) & (pl.col("n_b") == 0))
                .then(1.0)
                .otherwise(pl.col("shared") / (pl.col("n_a") + pl.col("n_b") - pl.col("shared")).clip(lower_bound=1))
                .alias("jaccard")
            )
            .join(_same_identity(pairs, police), on=["node", "node_b"], how="left")
            .filter((pl.col("jaccard") >= min_jaccard) | pl.col("same_identity").fill_null(False))
        )
        edges_from = scored["node"].cast(pl.Int64).to_numpy()
        edges_to = scored["node_b"].cast(pl.Int64).to_numpy()
    n = frame.height
    if n == 0:
        return pl.DataFrame(schema={"crime_key": pl.String, "police_incident_id": pl.String})
    graph = sparse.coo_matrix((np.ones(len(edges_from)), (edges_from, edges_to)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    grouped = frame.select("crime_key", "block").with_columns(pl.Series("component", labels))
    ids = grouped.group_by("component").agg(pl.col("block").first(), pl.col("crime_key").min().alias("first"))
    ids = ids.with_columns(
        pl.concat_str("block", "first", separator="\x1f")
        .map_elements(lambda k: _group_id([k]), return_dtype=pl.String)
        .alias("police_incident_id")
    )
    return grouped.join(ids.select("component", "police_incident_id"), on="component").select(
        "crime_key", "police_incident_id"
    ).sort("crime_key")


def _mutual_best(remaining: pl.DataFrame) -> pl.DataFrame:
    """Edges that are the best remaining candidate of both their report and their group."""
    return remaining.filter(
        (pl.col("rank") == pl.col("rank").min().over("report_key"))
        & (pl.col("rank") == pl.col("rank").min().over("police_incident_id"))
    )


def _greedy(ranked: pl.DataFrame, max_rounds: int = 40) -> pl.DataFrame:
    """One-to-one (report, group) edges, strongest first: rounds of mutual best candidates.

    An edge is taken when no stronger taken edge shares its report or its group,
    so each decision reads only the edge's direct competitors. Rounds settle
    chains of look-alikes from the strongest end; a long tail of rounds (a
    chain of ever weaker competitors) is finished in one loop.
    """
    chosen = []
    remaining = ranked.select("rank", "report_key", "police_incident_id")
    for _ in range(max_rounds):
        if remaining.is_empty():
            break
        best = _mutual_best(remaining)
        chosen.append(best)
        remaining = remaining.join(best.select("report_key"), on="report_key", how="anti").join(
            best.select("police_incident_id"), on="police_incident_id", how="anti"
        )
    if remaining.height:
        taken_reports: set[str] = set()
        taken_groups: set[str] = set()
        rows = []
        ordered = remaining.sort("rank")
        for rank, report, group in ordered.iter_rows():
            if report not in taken_reports and group not in taken_groups:
                taken_reports.add(report)
                taken_groups.add(group)
                rows.append((rank, report, group))
        chosen.append(pl.DataFrame(rows, schema=remaining.schema, orient="row"))
    return pl.concat(chosen).select("report_key", "police_incident_id")


def _swaps(ranked: pl.DataFrame, assigned: pl.DataFrame) -> list[tuple[float, tuple, tuple]]:
    """Exchanges that raise the summed evidence, each read off one report's and one group's
    competitors: (gain, edges out, edges in).

    - a free report B wants group g1, whose report A can move to a free group g2;
    - two assigned pairs (A, g1), (B, g2) fit better crossed: (A, g2), (B, g1).
    """
    weight = ranked.select("report_key", "police_incident_id", pl.col("assignment_weight").alias("w"))
    own = assigned.join(weight, on=["report_key", "police_incident_id"]).rename(
        {"report_key": "a", "police_incident_id": "g1", "w": "w_a1"}
    )
    reports_taken = own.select(pl.col("a").alias("report_key"))
    groups_taken = own.select(pl.col("g1").alias("police_incident_id"))
    # B (free) -> g1 (A's); A -> g2 (free)
    wants = (
        weight.join(reports_taken, on="report_key", how="anti")
        .rename({"report_key": "b", "police_incident_id": "g1", "w": "w_b1"})
        .join(own, on="g1")
    )
    moves = weight.join(groups_taken, on="police_incident_id", how="anti").rename(
        {"report_key": "a", "police_incident_id": "g2", "w": "w_a2"}
    )
    chain = wants.join(moves, on="a").with_columns(
        (pl.col("w_b1") + pl.col("w_a2") - pl.col("w_a1")).alias("gain")
    ).filter(pl.col("gain") > 1e-9)
    out: list[tuple[float, tuple, tuple]] = [
        (gain, ((a, g1),), ((b, g1), (a, g2)))
        for a, g1, b, g2, gain in chain.select("a", "g1", "b", "g2", "gain").iter_rows()
    ]
    # (A, g1) + (B, g2) -> (A, g2) + (B, g1)
    cross = (
        weight.rename({"report_key": "a", "police_incident_id": "g2", "w": "w_a2"})
        .join(own, on="a")
        .join(own.rename({"a": "b", "g1": "g2", "w_a1": "w_b2"}), on="g2")
        .filter(pl.col("a") < pl.col("b"))
        .join(weight.rename({"report_key": "b", "police_incident_id": "g1", "w": "w_b1"}), on=["b", "g1"])
        .with_columns((pl.col("w_a2") + pl.col("w_b1") - pl.col("w_a1") - pl.col("w_b2")).alias("gain"))
        .filter(pl.col("gain") > 1e-9)
    )
    out += [
        (gain, ((a, g1), (b, g2)), ((a, g2), (b, g1)))
        for a, g1, b, g2, gain in cross.select("a", "g1", "b", "g2", "gain").iter_rows()
    ]
    return out


def _assignment(edges: pl.DataFrame, max_passes: int = 3) -> pl.DataFrame:
    """One-to-one (report, group) assignment from each edge's direct competitors.

    Greedy (strongest edge first, `_greedy`), then local exchanges (`_swaps`)
    where two edges together outweigh the one they replace: a swap of
    look-alikes (report A fits group 1 a little better than B does, but B fits
    nothing else) is decided by both pairs' evidence, not by whichever edge is
    strongest. No step looks further than an edge's competitors' other edges,
    so the work is linear in the edges and a night's changes stay local.
    Each edge weighs its match weight above the review threshold's.
    """
    schema = {"report_key": pl.String, "police_incident_id": pl.String}
    if edges.is_empty():
        return pl.DataFrame(schema=schema)
    ranked = edges.sort(
        ["assignment_weight", "report_key", "police_incident_id"], descending=[True, False, False]
    ).with_row_index("rank")
    assigned = _greedy(ranked)
    for _ in range(max_passes):
        swaps = sorted(_swaps(ranked, assigned), key=lambda s: (-s[0], s[1], s[2]))
        if not swaps:
            break
        touched: set[str] = set()
        removed: list[tuple[str, str]] = []
        added: list[tuple[str, str]] = []
        for _gain, out_edges, in_edges in swaps:
            nodes = {n for edge in (*out_edges, *in_edges) for n in edge}
            if nodes & touched:
                continue
            touched |= nodes
            removed += out_edges
            added += in_edges
        assigned = pl.concat(
            [
                assigned.join(pl.DataFrame(removed, schema=schema, orient="row"),
                              on=["report_key", "police_incident_id"], how="anti"),
                pl.DataFrame(added, schema=schema, orient="row"),
            ]
        )
    return assigned


def _pairs_that_matter(
    scored: pl.DataFrame, groups: pl.DataFrame, decided: pl.DataFrame, keep_t: float, review_t: float
) -> pl.DataFrame:
    """`scored` without the pairs no decision below can keep: undecided, under `keep` and `review`,
    and in no (report, incident group) edge that has a pair at `review` (an assigned edge keeps all its crimes).

    At a million records almost all of the tens of millions of candidate pairs
    are such: dropped before the joins below, they never widen.
    """
    floor = min(keep_t, review_t)
    low = pl.col("match_probability").fill_null(0.0) < floor
    strong = scored.filter(pl.col("match_probability") >= review_t).select("report_key", "crime_key")
    edge_crimes = (
        strong.join(groups, on="crime_key")
        .select("report_key", "police_incident_id")
        .unique()
        .join(groups, on="police_incident_id")
        .select("report_key", "crime_key")
    )
    held = pl.concat([edge_crimes, decided.select("report_key", "crime_key")])
    # Matched on a 64-bit hash of the pair: a semi-join on the two string keys would
    # row-encode tens of millions of key pairs (GBs); a collision only keeps a pair
    # that the statuses below drop anyway.
    pair = pl.col("report_key").hash() ^ pl.col("crime_key").hash()
    return pl.concat(
        [scored.filter(~low), scored.filter(low & pair.is_in(held.select(pair).to_series().implode()))]
    )


def resolved_pairs(
    scored: pl.DataFrame,
    groups: pl.DataFrame,
    police_status: pl.DataFrame,
    decisions: pl.DataFrame,
    thresholds: Mapping,
    taken: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Statuses for scored pairs.

    Args:
        scored: report_key, crime_key, match_probability, match_weight (model).
        groups: crime_key, police_incident_id (every crime that may appear).
        police_status: crime_key, force_id, status (`confirmed`/`cancelled`).
        decisions: report_key, crime_key, decision (`accept`/`reject`), decided_at.
        thresholds: `match`, `review` (probabilities) and `keep` (pairs below
            it, undecided and unassigned, are dropped from the output).
        taken: report_key, police_incident_id of assignments held outside the
            pairs given (an incremental night's settled pairs): those reports
            and groups take no edge here.

    Returns:
        One row per kept pair, columns RESOLVED_COLUMNS; `reason` is null or
        `cancelled` (assigned, but the crime is cancelled: its report takes no
        other crime), `cardinality` (lost to a better candidate), `group`
        (matched through its incident group), `review`.
    """
    match_t, review_t, keep_t = float(thresholds["match"]), float(thresholds["review"]), float(thresholds.get("keep", 0.0))
    latest = (
        decisions.sort("decided_at")
        .unique(["report_key", "crime_key"], keep="last")
        .select("report_key", "crime_key", "decision")
    )
    scored = _pairs_that_matter(
        scored.select("report_key", "crime_key", "match_probability", "match_weight"), groups, latest, keep_t, review_t
    )
    # decided pairs are held even when blocking no longer finds them
    pairs = pl.concat(
        [
            scored,
            latest.join(scored, on=["report_key", "crime_key"], how="anti").select(
                "report_key",
                "crime_key",
                pl.lit(None, dtype=pl.Float64).alias("match_probability"),
                pl.lit(None, dtype=pl.Float64).alias("match_weight"),
            ),
        ]
    )
    pairs = (
        pairs.join(groups, on="crime_key", how="left")
        .join(police_status.select("crime_key", "force_id", "status"), on="crime_key", how="left")
        .join(latest, on=["report_key", "crime_key"], how="left")
        .with_columns(
            pl.coalesce("police_incident_id", pl.lit("pig_") + pl.col("crime_key")).alias("police_incident_id"),
            (pl.col("status") == "cancelled").fill_null(False).alias("cancelled"),
        )
    )
    # An accepted pair wins its crime: if several reports were accepted for one crime, the latest stands.
    accepted = pairs.filter(pl.col("decision") == "accept")
    # cancelled crimes' pairs included: they compete, and come out void below
    eligible = pairs.filter(pl.col("decision").is_null() | (pl.col("decision") == "accept"))
    edges = (
        eligible.filter(pl.col("decision").is_null())
        .group_by("report_key", "police_incident_id")
        .agg(
            pl.col("match_probability").max().alias("group_score"),
            pl.col("match_weight").max().alias("group_weight"),
        )
        .filter(pl.col("group_score") >= review_t)
    )
    pre = accepted.select("report_key", "police_incident_id").unique(maintain_order=True)
    # An accepted report or group takes no model edge; reports accepted for several groups keep them all.
    edges = edges.join(pre.select("report_key"), on="report_key", how="anti").join(
        pre.select("police_incident_id"), on="police_incident_id", how="anti"
    )
    if taken is not None and taken.height:
        edges = edges.join(taken.select("report_key"), on="report_key", how="anti").join(
            taken.select("police_incident_id"), on="police_incident_id", how="anti"
        )
    floor = math.log2(review_t / (1 - review_t)) if 0 < review_t < 1 else 0.0
    edges = edges.with_columns(
        (pl.col("group_weight").fill_null(floor) - floor + 1e-6).clip(lower_bound=1e-6).alias("assignment_weight")
    )
    assigned = _assignment(edges)
    assigned = pl.concat([pre, assigned]).unique(maintain_order=True)
    group_scores = eligible.join(assigned, on=["report_key", "police_incident_id"], how="semi").group_by(
        "report_key", "police_incident_id"
    ).agg(
        pl.col("match_probability").max().alias("group_score"),
        (pl.col("decision") == "accept").any().alias("group_accepted"),
    )
    assigned = assigned.join(group_scores, on=["report_key", "police_incident_id"], how="left").with_columns(
        pl.lit(True).alias("assigned")
    )
    out = pairs.join(assigned, on=["report_key", "police_incident_id"], how="left").with_columns(
        pl.col("assigned").fill_null(False),
        pl.col("group_accepted").fill_null(False),
    )
    # pairs not held (see `keep` below) are dropped before the statuses are worked out:
    # at a million records most candidate pairs are far below every threshold
    out = out.filter(
        pl.col("decision").is_not_null()
        | pl.col("assigned")
        | (pl.col("match_probability").fill_null(0.0) >= keep_t)
    )
    prob = pl.col("match_probability")
    group_prob = pl.max_horizontal(pl.col("group_score").fill_null(0.0), prob.fill_null(0.0))
    status = (
        pl.when(pl.col("cancelled")).then(pl.lit("rejected"))
        .when(pl.col("decision") == "reject").then(pl.lit("rejected"))
        .when(pl.col("decision") == "accept").then(pl.lit("matched"))
        .when(pl.col("assigned") & pl.col("group_accepted")).then(pl.lit("matched"))
        .when(pl.col("assigned") & (group_prob >= match_t)).then(pl.lit("matched"))
        .when(pl.col("assigned") & (group_prob >= review_t)).then(pl.lit("review"))
        .otherwise(pl.lit("rejected"))
    )
    reason = (
        pl.when(pl.col("cancelled") & pl.col("assigned")).then(pl.lit("cancelled"))
        .when(pl.col("decision").is_not_null()).then(pl.lit("review"))
        .when(pl.col("assigned") & (prob.fill_null(0.0) < group_prob)).then(pl.lit("group"))
        .when(~pl.col("assigned") & (prob.fill_null(0.0) >= review_t)).then(pl.lit("cardinality"))
    )
    out = out.with_columns(
        status.alias("status"),
        pl.when(pl.col("decision").is_not_null() & ~pl.col("cancelled"))
        .then(pl.lit("review"))
        .otherwise(pl.lit("model"))
        .alias("decided_by"),
        reason.alias("reason"),
        prob.alias("pair_probability"),
        pl.when(pl.col("assigned") & ~pl.col("cancelled")).then(group_prob).otherwise(prob).alias("match_probability"),
    )
    keep = (
        pl.col("decision").is_not_null()
        | pl.col("assigned")
        | (pl.col("pair_probability").fill_null(0.0) >= keep_t)
    )
    return out.filter(keep).select(RESOLVED_COLUMNS).sort("report_key", "crime_key")
