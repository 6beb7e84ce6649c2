"""Blocking: the candidate CST-police pairs worth comparing.

Computed in Polars, not with `recordlinkage.Index`: its block/sortedneighbourhood
indexers are pandas merges on exact keys, with no date windows, no per-side
conditions and no pruning, and at a million records they build tens of
millions of pairs in pandas memory. Here each rule of the settings file is an
equi-join plus a date condition:

- `place_date`: same key (postcode unit, street, sector, district) and
  the CST date within the police from-to range widened by `window` days,
  joined on key + date bucket (`bucket_days`, default 1), the police side
  exploded over the buckets its range covers, so a busy key (a synagogue's
  postcode, a district) never builds its full cross product.
  `coarse_only` rules apply only to pairs whose sides share no finer kind of
  place (not both a sector, not both a street): finer rules cover the rest.
- `late_report`: CST's date is sometimes the date it was told; when CST's
  incident date equals its reported date, a police record up to `window[1]`
  days earlier at the same fine place is a candidate.
- `no_place`: either side has no postcode district (online incidents): same force
  (any force for a report whose force is unknown) and date window, pruned to the `narrative_top_k` most similar narratives
  per record (sparse products per force-day, never the full force cross product).
- `crime_ref`: shares a keyed crime-number token held by at most
  `max_token_frequency` crimes.
- `identity`: shares a keyed whole-name or contact token (not a part of a
  name, not a victim body) held by at most `max_token_frequency` crimes, dates
  within `window` (an online report made a week after the crime, a place CST
  did not record).

Dates: the CST date is `incident_date`; the police range is
[occurred_from, occurred_to] as dates, capped at `max_range_days`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import polars as pl
from scipy import sparse

from transforms.blocks import IN_TURN, BlockRunner, balanced_slices
from transforms.identity_tokens import PERSON_TAGS

PAIR_SCHEMA = {"report_key": pl.String, "crime_key": pl.String, "rule": pl.String}
FLOOR_SCHEMA = {"report_key": pl.String, "report_floor": pl.Float64}
CRIME_FLOOR_SCHEMA = {"crime_key": pl.String, "crime_floor": pl.Float64}
# candidate pairs carry their report's and their crime's narrative floor (the no_place rule's
# k-th best cosine on each side)
CANDIDATE_SCHEMA = {**PAIR_SCHEMA, "report_floor": pl.Float64, "crime_floor": pl.Float64}
# cosines recomputed from the same vectors agree to the last bits; a floor is compared with this room
FLOOR_SLACK = 1e-9

FINE_KEYS = ("postcode_sector", "street")
# rules that pair records through shared keyed tokens (their window is checked after the join)
TOKEN_RULE_KINDS = ("crime_ref", "identity")


def cst_blocking_frame(cst: pl.DataFrame) -> pl.DataFrame:
    """CST reports with the columns blocking uses (`d` = incident date)."""
    return cst.select(
        "report_key",
        pl.col("incident_date").alias("d"),
        (pl.col("incident_date") == pl.col("reported_date")).fill_null(False).alias("date_is_reported"),
        "postcode_unit_key",
        "postcode_sector",
        "postcode_district",
        pl.col("street").str.to_lowercase().alias("street"),
        pl.col("force_id").replace("unknown", None).alias("force_id"),
    ).with_columns(
        pl.col("postcode_sector").is_not_null().alias("has_sector"),
        pl.col("street").is_not_null().alias("has_street"),
        pl.col("postcode_district").is_null().alias("no_place"),
    )


def police_blocking_frame(police: pl.DataFrame, max_range_days: int) -> pl.DataFrame:
    """Police crimes with the columns blocking uses (`f`..`t` = occurred range as dates).

    Cancelled crimes included: they compete for their own incident's report (see linkage_resolve).
    """
    from_date = pl.col("occurred_from").dt.date()
    to_date = pl.coalesce(pl.col("occurred_to"), pl.col("occurred_from")).dt.date()
    return police.select(
        "crime_key",
        from_date.alias("f"),
        pl.min_horizontal(to_date, from_date + pl.duration(days=max_range_days)).alias("t"),
        "postcode_unit_key",
        "postcode_sector",
        "postcode_district",
        pl.col("street").str.to_lowercase().alias("street"),
        "force_id",
    ).filter(pl.col("f").is_not_null()).with_columns(
        pl.col("postcode_sector").is_not_null().alias("has_sector"),
        pl.col("street").is_not_null().alias("has_street"),
        pl.col("postcode_district").is_null().alias("no_place"),
    )


def _exploded_days(police: pl.DataFrame, lo: int, hi: int) -> pl.DataFrame:
    """One row per police crime and day its widened range covers."""
    return police.with_columns(
        pl.date_ranges(pl.col("f") + pl.duration(days=lo), pl.col("t") + pl.duration(days=hi)).alias("d")
    ).explode("d")


def _in_window(lo: int, hi: int) -> pl.Expr:
    return (pl.col("d") >= pl.col("f") + pl.duration(days=lo)) & (pl.col("d") <= pl.col("t") + pl.duration(days=hi))


def _keyed_pairs(
    cst: pl.DataFrame, police: pl.DataFrame, keys: Sequence[str], window: Sequence[int], bucket_days: int = 1
) -> pl.DataFrame:
    """Pairs with equal `keys` and the CST date within [police from + lo, police to + hi].

    Joined on key + date bucket (the police side exploded over the buckets its
    widened range covers), then filtered exactly: a busy key (a synagogue's
    postcode, a long street) never builds its full cross product.
    """
    lo, hi = int(window[0]), int(window[1])
    width = max(1, int(bucket_days))
    left = cst.drop_nulls([*keys, "d"])
    right = police.drop_nulls(list(keys))
    if left.is_empty() or right.is_empty():
        return pl.DataFrame(schema={"report_key": pl.String, "crime_key": pl.String})
    # the smaller side's keys first: an incremental night's few records meet a wide scope
    if left.height < right.height:
        right = right.join(left.select(keys).unique(), on=list(keys), how="semi")
    else:
        left = left.join(right.select(keys).unique(), on=list(keys), how="semi")
    first = (pl.col("f") + pl.duration(days=lo)).cast(pl.Int32) // width
    last = (pl.col("t") + pl.duration(days=hi)).cast(pl.Int32) // width
    buckets = right.select("crime_key", *keys, "f", "t", pl.int_ranges(first, last + 1).alias("bucket")).explode("bucket")
    joined = left.select("report_key", *keys, "d", (pl.col("d").cast(pl.Int32) // width).alias("bucket")).join(
        buckets, on=[*keys, "bucket"]
    )
    return joined.filter(_in_window(lo, hi)).select("report_key", "crime_key").unique()


def _place_date_pairs(cst: pl.DataFrame, police: pl.DataFrame, rule: Mapping) -> pl.DataFrame:
    keys = list(rule["keys"])
    window = rule.get("window", [-3, 3])
    bucket_days = int(rule.get("bucket_days", 1))
    if rule.get("coarse_only"):
        # only where the two sides share no finer kind of place (both a sector, or both a street)
        parts = []
        for c_sector in (False, True):
            for c_street in (False, True):
                left = cst.filter((pl.col("has_sector") == c_sector) & (pl.col("has_street") == c_street))
                right = police.filter(
                    ~(pl.col("has_sector") & pl.lit(c_sector)) & ~(pl.col("has_street") & pl.lit(c_street))
                )
                if left.height and right.height:
                    parts.append(_keyed_pairs(left, right, keys, window, bucket_days))
        if not parts:
            return pl.DataFrame(schema={"report_key": pl.String, "crime_key": pl.String})
        return pl.concat(parts).unique()
    return _keyed_pairs(cst, police, keys, window, bucket_days)


def _late_report_pairs(cst: pl.DataFrame, police: pl.DataFrame, rule: Mapping) -> pl.DataFrame:
    late = cst.filter(pl.col("date_is_reported"))
    window = rule.get("window", [0, 60])
    parts = []
    for keys in rule["keys"]:
        parts.append(_keyed_pairs(late, police, list(keys), window, int(rule.get("bucket_days", 7))))
        if rule.get("fallback", False):
            # the next key set only for reports that lack one of this set's keys
            late = late.filter(pl.any_horizontal([pl.col(k).is_null() for k in keys]))
    return pl.concat(parts).unique()


def _sharing_pairs(
    cst: pl.DataFrame,
    police: pl.DataFrame,
    cst_tokens: pl.DataFrame,
    police_tokens: pl.DataFrame,
    usable: pl.DataFrame,
    window: Sequence[int],
) -> pl.DataFrame:
    """Pairs sharing a token of `usable` (token), CST date within `window` days of the police range."""
    if cst_tokens.is_empty() or police_tokens.is_empty():
        return pl.DataFrame(schema={"report_key": pl.String, "crime_key": pl.String})
    lo, hi = (int(x) for x in window)
    return (
        cst_tokens.join(usable, on="token", how="semi")
        .join(police_tokens, on="token")
        .select("report_key", "crime_key")
        .unique()
        .join(cst.select("report_key", "d"), on="report_key")
        .join(police.select("crime_key", "f", "t"), on="crime_key")
        .filter(_in_window(lo, hi))
        .select("report_key", "crime_key")
    )


def _crime_ref_pairs(
    cst: pl.DataFrame,
    police: pl.DataFrame,
    cst_tokens: pl.DataFrame,
    police_tokens: pl.DataFrame,
    token_frequency: pl.DataFrame,
    rule: Mapping,
) -> pl.DataFrame:
    """Pairs sharing a token held by at most `max_token_frequency` crimes, dates within `window`."""
    usable = token_frequency.filter(pl.col("frequency") <= int(rule.get("max_token_frequency", 10))).select("token")
    return _sharing_pairs(cst, police, cst_tokens, police_tokens, usable, rule.get("window", [-180, 180]))


def rare_identity_tokens(token_frequency: pl.DataFrame, rule: Mapping) -> pl.DataFrame:
    """(token) of the identity tokens an `identity` rule pairs on: a whole name or contact held by at
    most `max_token_frequency` crimes (not a part of a name, not a victim body: bodies are targeted again)."""
    limit = int(rule.get("max_token_frequency", 20))
    personal = pl.any_horizontal([pl.col("token").str.starts_with(tag) for tag in PERSON_TAGS])
    return token_frequency.filter((pl.col("frequency") <= limit) & personal).select("token")


def uses_identity_blocking(rules: Sequence[Mapping]) -> bool:
    """Whether a rule pairs records through identity tokens (else they are compared, never indexed)."""
    return any(rule["kind"] == "identity" for rule in rules)


def identity_rule_tokens(token_frequency: pl.DataFrame, rules: Sequence[Mapping]) -> pl.DataFrame:
    """(token) of the identity tokens any `identity` rule of `rules` pairs on (none without such a rule)."""
    usable = [rare_identity_tokens(token_frequency, rule) for rule in rules if rule["kind"] == "identity"]
    return pl.concat(usable).unique() if usable else pl.DataFrame(schema={"token": pl.String})


def _identity_pairs(
    cst: pl.DataFrame,
    police: pl.DataFrame,
    cst_identity: pl.DataFrame,
    police_identity: pl.DataFrame,
    token_frequency: pl.DataFrame,
    rule: Mapping,
) -> pl.DataFrame:
    """Pairs sharing a rare whole-name or contact token, dates within `window`."""
    usable = rare_identity_tokens(token_frequency, rule)
    return _sharing_pairs(cst, police, cst_identity, police_identity, usable, rule.get("window", [-30, 30]))


def _best(
    block: np.ndarray, rows_a: np.ndarray, cols_a: np.ndarray, k: int, min_cosine: float,
    floors: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Every row's k highest cells of a (rows x cols) cosine block, at least `min_cosine`, and
    at least the row's floor (`floors`, aligned with the rows; -inf where a row has none).

    A row with at most k cells at or above its threshold keeps exactly those: they are the
    part of its top k that passes (everything below the threshold is below them), found by a
    comparison instead of a partition. On a night, most rows' floors are above every cell.
    """
    threshold = np.full(block.shape[0], min_cosine) if floors is None else np.maximum(floors - FLOOR_SLACK, min_cosine)
    if floors is not None:
        above = block >= threshold[:, None]
        few = above.sum(axis=1) <= k
        r, c = np.nonzero(above[few])
        found = (rows_a[few][r], cols_a[c], block[few][r, c])
        if few.all():
            return found
        block, rows_a, threshold = block[~few], rows_a[~few], threshold[~few]
    kk = min(k, block.shape[1])
    best = np.argpartition(-block, kk - 1, axis=1)[:, :kk]
    scores = np.take_along_axis(block, best, axis=1)
    keep = scores >= threshold[:, None]
    topped = (np.repeat(rows_a, kk).reshape(-1, kk)[keep], cols_a[best][keep], scores[keep])
    if floors is None:
        return topped
    return tuple(np.concatenate([a, b]) for a, b in zip(found, topped, strict=True))


@dataclass(frozen=True)
class SimilarityBlock:
    """Some (key, day) groups of the no-place rule, with the narrative rows they read.

    Each group's rows and cols are positions in this block's own matrices, whose
    rows are the matrices' rows `row_ids` / `col_ids`: one of several blocks carries
    what it reads and no more, whichever process or machine runs it; a lone block
    (run in turn, in this process) holds the whole matrices.
    """

    groups: list[tuple[np.ndarray, np.ndarray]]
    row_ids: np.ndarray
    col_ids: np.ndarray
    row_matrix: sparse.csr_matrix
    col_matrix: sparse.csr_matrix
    row_floors: np.ndarray | None
    col_floors: np.ndarray | None


def similarity_blocks(
    groups: pl.DataFrame,
    row_matrix: sparse.csr_matrix,
    col_matrix: sparse.csr_matrix,
    parts: int,
    row_floors: np.ndarray | None = None,
    col_floors: np.ndarray | None = None,
    min_cells: int = 1,
) -> list[SimilarityBlock]:
    """The groups (`rows`, `cols`: matrix row positions) cut into at most `parts` blocks of
    about equal work (a group costs rows x cols cells), in group order, none smaller than
    `min_cells` unless there is only one."""
    rows = [np.asarray(r, dtype=np.int64) for r in groups["rows"].to_list()]
    cols = [np.asarray(c, dtype=np.int64) for c in groups["cols"].to_list()]
    cells = [len(r) * len(c) for r, c in zip(rows, cols, strict=True)]
    parts = max(1, min(parts, sum(cells) // max(1, min_cells)))
    if parts == 1 and rows:  # one block: the matrices as they are (no copy of their rows)
        return [SimilarityBlock(
            groups=list(zip(rows, cols, strict=True)),
            row_ids=np.arange(row_matrix.shape[0]),
            col_ids=np.arange(col_matrix.shape[0]),
            row_matrix=row_matrix,
            col_matrix=col_matrix,
            row_floors=row_floors,
            col_floors=col_floors,
        )]
    blocks = []
    for part in balanced_slices(cells, parts):
        row_ids = np.unique(np.concatenate(rows[part]))
        col_ids = np.unique(np.concatenate(cols[part]))
        blocks.append(SimilarityBlock(
            groups=[(np.searchsorted(row_ids, r), np.searchsorted(col_ids, c))
                    for r, c in zip(rows[part], cols[part], strict=True)],
            row_ids=row_ids,
            col_ids=col_ids,
            row_matrix=row_matrix[row_ids],
            col_matrix=col_matrix[col_ids],
            row_floors=None if row_floors is None else row_floors[row_ids],
            col_floors=None if col_floors is None else col_floors[col_ids],
        ))
    return blocks


TopK = tuple[list[np.ndarray], list[np.ndarray]]
# a similarity block worth a task of its own: about 0.3 s of products and partitions (a daily
# night's groups at 100x held 0.3M cells in all, a month-end night's 37M)
MIN_BLOCK_CELLS = 5_000_000


def _joined(parts: list[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """[rows, cols, cosines] of many (rows, cols, cosines) parts, concatenated in order."""
    dtypes = (np.int64, np.int64, np.float64)
    return [np.concatenate([p[i] for p in parts]) if parts else np.empty(0, dtype=d) for i, d in enumerate(dtypes)]


def top_k_of_block(block: SimilarityBlock, k: int, k_col: int, min_cosine: float) -> TopK:
    """A block's part of `_top_k`: for each group, one product, both directions' best cells
    (rows and cols as the matrices' row positions)."""
    by_row: list[tuple[np.ndarray, ...]] = []
    by_col: list[tuple[np.ndarray, ...]] = []
    for rows, cols in block.groups:
        product = (block.row_matrix[rows] @ block.col_matrix[cols].T).toarray()
        if product.size == 0:
            continue
        rows_a, cols_a = block.row_ids[rows], block.col_ids[cols]
        row_floors = None if block.row_floors is None else block.row_floors[rows]
        col_floors = None if block.col_floors is None else block.col_floors[cols]
        by_row.append(_best(product, rows_a, cols_a, k, min_cosine, row_floors))
        c_idx, r_idx, scores = _best(product.T, cols_a, rows_a, k_col, min_cosine, col_floors)
        by_col.append((r_idx, c_idx, scores))
    return _joined(by_row), _joined(by_col)


def _top_k(
    groups: pl.DataFrame,
    row_matrix: sparse.csr_matrix,
    col_matrix: sparse.csr_matrix,
    k: int,
    k_col: int,
    min_cosine: float,
    row_floors: np.ndarray | None = None,
    col_floors: np.ndarray | None = None,
    blocks: BlockRunner = IN_TURN,
) -> TopK:
    """For each group (rows, cols): every row's k most similar cols and every col's k_col most
    similar rows by narrative cosine, from one product per group; with `row_floors` /
    `col_floors` (by matrix row, -inf for none) only those at or above the row's / col's floor.
    The groups are cut into up to `blocks.width` blocks of at least `MIN_BLOCK_CELLS`, run by `blocks`.

    Returns ([rows, cols, cosines], [rows, cols, cosines]) for the two directions.
    """
    cut = similarity_blocks(groups, row_matrix, col_matrix, blocks.width, row_floors, col_floors, MIN_BLOCK_CELLS)
    found = blocks.map(partial(top_k_of_block, k=k, k_col=k_col, min_cosine=min_cosine), cut)
    return _joined([r for r, _ in found]), _joined([c for _, c in found])


def _kth_best(chosen: pl.DataFrame, by: str, k: int, name: str) -> pl.DataFrame:
    """(`by`, `name`): the floor of each record that took k of the other side in `chosen`
    (`row`, `col`, `cosine`): the least cosine of its k, which a later arrival must beat."""
    return (
        chosen.group_by(by).agg(pl.len().alias("n"), pl.col("cosine").min().alias(name))
        .filter(pl.col("n") >= k).select(by, name)
    )


def _floor_array(keys: pl.DataFrame, key: str, stored: pl.DataFrame | None, name: str) -> np.ndarray | None:
    """The floor each record held before (`stored`: `key`, `name`), by its position in `keys`;
    -inf for a record without one (it keeps its whole top k). None without stored floors."""
    if stored is None:
        return None
    return (
        keys.select(key).join(stored.select(key, name), on=key, how="left", maintain_order="left")[name]
        .fill_null(-np.inf).to_numpy().astype(np.float64)
    )


def _crime_floors(contest_floors: pl.DataFrame, crimes: pl.DataFrame) -> pl.DataFrame:
    """(crime_key, crime_floor) from each contest's floors (`col`, `crime_floor`, `contest`).

    A placed crime meets the no-place reports only (contest 0); a crime without a
    place meets them and, apart, the placed reports (contest 1), taking its
    k best in each. One stored floor must bound both, so such a crime's is the
    lower of the two, and it has none unless it reached k in both.
    """
    return (
        contest_floors.group_by("col").agg(pl.col("crime_floor").min(), pl.len().alias("contests"))
        .join(crimes, on="col")
        .filter(~pl.col("no_place") | (pl.col("contests") == 2))
        .select("crime_key", "crime_floor")
    )


def _no_place_pairs(
    cst: pl.DataFrame,
    police: pl.DataFrame,
    rule: Mapping,
    cst_vectors: sparse.csr_matrix | None,
    police_vectors: sparse.csr_matrix | None,
    report_floors: pl.DataFrame | None = None,
    crime_floors: pl.DataFrame | None = None,
    blocks: BlockRunner = IN_TURN,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Same force and date window where either side has no place, pruned by narrative similarity.

    `cst_vectors`/`police_vectors` are L2-normalised narrative rows aligned with
    `cst`/`police` row order; without them every pair in the window is kept.
    Returns the pairs, each report's floor (`report_key`, `report_floor`): the
    k-th best cosine among the crimes it met, for a report that met k, and
    each crime's floor likewise (`crime_key`, `crime_floor`).
    `report_floors` (the same shape, from an earlier run) holds a report's
    own top-k to crimes at or above its floor: on a night that brings crimes
    alone, a report's k best among tonight's crimes are not its k best among
    all (see `candidate_pairs`). `crime_floors` does the same for a crime's
    own top-k on a night that brings reports alone. A side given stored floors gets
    none back: its records met only part of the other side, so their k-th best
    here is no floor.
    """
    keys = list(rule.get("keys", ["force_id"]))
    window = rule.get("window", [-3, 3])
    lo, hi = int(window[0]), int(window[1])
    k = int(rule.get("narrative_top_k", 0))
    cst = cst.with_row_index("row")
    police = police.with_row_index("col")
    report_keys = cst.select(pl.col("row").cast(pl.UInt32), "report_key")
    crime_keys = police.select(pl.col("col").cast(pl.UInt32), "crime_key", "no_place")
    # stored floors by matrix row: the top-k of a record compared with only part of the other
    # side keep only what beats its floor (the floor it has then is not found here)
    report_floor_array = _floor_array(report_keys, "report_key", report_floors, "report_floor")
    crime_floor_array = _floor_array(crime_keys, "crime_key", crime_floors, "crime_floor")
    days = _exploded_days(police.drop_nulls(keys).select("col", *keys, "f", "t", "no_place"), lo, hi)
    parts = []
    floors: list[pl.DataFrame] = []
    crime_side_floors: list[pl.DataFrame] = []
    # a report whose force is unknown competes with every force's crimes that day
    any_force = [pl.lit("*").alias(k) for k in keys]
    cst = cst.with_columns(pl.col(k).fill_null("*") for k in keys)
    if rule.get("any_force_when_unknown", True) and (cst[keys[0]] == "*").any():
        days = pl.concat([days, days.with_columns(any_force)])
    for contest, (cst_side, police_side) in enumerate((
        (cst.filter(pl.col("no_place")), days),
        (cst.filter(~pl.col("no_place")), days.filter(pl.col("no_place") & (pl.col(keys[0]) != "*"))),
    )):
        left = cst_side.drop_nulls([*keys, "d"]).select("row", *keys, "d")
        if left.is_empty() or police_side.is_empty():
            continue
        # only the (force, day) cells the other side has: an incremental night's few reports
        police_side = police_side.join(left.select(*keys, "d").unique(), on=[*keys, "d"], how="semi")
        if k <= 0 or cst_vectors is None or police_vectors is None:
            pairs = left.join(police_side.select("col", *keys, "d"), on=[*keys, "d"]).select("row", "col")
        else:
            groups = (
                # sorted: top-k breaks exact ties (look-alike narratives) by position, so the same every run
                left.group_by([*keys, "d"]).agg(pl.col("row").sort().alias("rows"))
                .join(police_side.group_by([*keys, "d"]).agg(pl.col("col").sort().alias("cols")), on=[*keys, "d"])
            )
            # both directions: each report's k nearest crimes, and each crime's k_crime nearest
            # reports over all the days its range covers (a crime sits in several day groups)
            min_cosine = float(rule.get("min_cosine", 0.0))
            k_crime = int(rule.get("narrative_top_k_crime", k))
            (r1, c1, s1), (r2, c2, s2) = _top_k(
                groups, cst_vectors, police_vectors, k, k_crime, min_cosine, report_floor_array, crime_floor_array,
                blocks,
            )
            per_report = pl.DataFrame(
                {"row": r1, "col": c1, "cosine": s1},
                schema={"row": pl.UInt32, "col": pl.UInt32, "cosine": pl.Float64},
            )
            if report_floors is None:
                # a report met k crimes: the k-th best is its floor (a later crime must beat it)
                floors.append(_kth_best(per_report, "row", k, "report_floor"))
            # each (row, col) once: a report sits in one (key, day) group, and a crime once per day
            per_crime = (
                pl.DataFrame({"row": r2, "col": c2, "cosine": s2}, schema={"row": pl.UInt32, "col": pl.UInt32, "cosine": pl.Float64})
                .sort(["col", "cosine", "row"], descending=[False, True, False])
                .group_by("col", maintain_order=True)
                .head(k_crime)
            )
            if crime_floors is None:
                # a crime's floor likewise: the k_crime-th best of the reports it met (over all its days)
                crime_side_floors.append(
                    _kth_best(per_crime, "col", k_crime, "crime_floor").with_columns(pl.lit(contest).alias("contest"))
                )
            pairs = pl.concat([per_report.select("row", "col"), per_crime.select("row", "col")])
        parts.append(pairs)
    floor_frame = (
        pl.concat(floors).join(report_keys, on="row").select("report_key", "report_floor")
        if floors else pl.DataFrame(schema=FLOOR_SCHEMA)
    )
    crime_floor_frame = (
        _crime_floors(pl.concat(crime_side_floors), crime_keys)
        if crime_side_floors else pl.DataFrame(schema=CRIME_FLOOR_SCHEMA)
    )
    if not parts:
        return pl.DataFrame(schema={"report_key": pl.String, "crime_key": pl.String}), floor_frame, crime_floor_frame
    rows = pl.concat([p.select(pl.col("row").cast(pl.UInt32), pl.col("col").cast(pl.UInt32)) for p in parts]).unique()
    return (
        rows.join(report_keys, on="row")
        .join(crime_keys, on="col")
        .select("report_key", "crime_key")
    ), floor_frame, crime_floor_frame


def candidate_pairs(
    cst: pl.DataFrame,
    police: pl.DataFrame,
    rules: Sequence[Mapping],
    cst_tokens: pl.DataFrame | None = None,
    police_tokens: pl.DataFrame | None = None,
    token_frequency: pl.DataFrame | None = None,
    cst_vectors: sparse.csr_matrix | None = None,
    police_vectors: sparse.csr_matrix | None = None,
    cst_identity: pl.DataFrame | None = None,
    police_identity: pl.DataFrame | None = None,
    report_floors: pl.DataFrame | None = None,
    crime_floors: pl.DataFrame | None = None,
    blocks: BlockRunner = IN_TURN,
) -> pl.DataFrame:
    """Union of every rule's pairs: report_key, crime_key, rule (the first rule that found it),
    report_floor and crime_floor (each side's narrative floor, when the no_place rule found it one).

    `cst`/`police` are `cst_blocking_frame`/`police_blocking_frame` outputs.
    Token frames are long (`report_key`/`crime_key`, `token`): crime-number
    tokens (`cst_tokens`, `police_tokens`) and identity tokens (`*_identity`);
    `token_frequency` is (`token`, `frequency` = crimes holding it), for both kinds.
    `report_floors` (`report_key`, `report_floor`): the floors of an earlier
    run, for `police` that are only some of the crimes the reports can meet
    (an incremental night's changed crimes): a report then takes a crime as
    one of its k most similar only at or above its floor. Floors only rise as
    crimes arrive, so an earlier floor admits a superset of what tonight's
    would; without one, a report would take its k best of tonight's crimes
    however poor (a month-end night brought 1.5M such pairs at 100x).
    `crime_floors` (`crime_key`, `crime_floor`) likewise bound the crimes' own
    top-k when `cst` are only some of the reports they can meet (a night's
    reports: a daily night brought 70k such pairs at 100x, 93% of its pairs).
    `blocks` runs the narrative-similarity blocks of the `no_place` rule (see `transforms/blocks.py`).
    """
    found = []
    floors = pl.DataFrame(schema=FLOOR_SCHEMA)
    crime_side_floors = pl.DataFrame(schema=CRIME_FLOOR_SCHEMA)
    for rule in rules:
        kind = rule["kind"]
        if kind == "place_date":
            pairs = _place_date_pairs(cst, police, rule)
        elif kind == "late_report":
            pairs = _late_report_pairs(cst, police, rule)
        elif kind == "no_place":
            pairs, rule_floors, rule_crime_floors = _no_place_pairs(
                cst, police, rule, cst_vectors, police_vectors, report_floors, crime_floors, blocks
            )
            floors = pl.concat([floors, rule_floors]).group_by("report_key").agg(pl.col("report_floor").max())
            crime_side_floors = (
                pl.concat([crime_side_floors, rule_crime_floors]).group_by("crime_key").agg(pl.col("crime_floor").max())
            )
        elif kind == "crime_ref":
            if cst_tokens is None or police_tokens is None or token_frequency is None:
                continue
            pairs = _crime_ref_pairs(cst, police, cst_tokens, police_tokens, token_frequency, rule)
        elif kind == "identity":
            if cst_identity is None or police_identity is None or token_frequency is None:
                continue
            pairs = _identity_pairs(cst, police, cst_identity, police_identity, token_frequency, rule)
        else:
            raise ValueError(f"unknown blocking rule kind: {kind}")
        found.append(pairs.with_columns(pl.lit(rule["name"]).alias("rule")))
    if not found:
        return pl.DataFrame(schema=CANDIDATE_SCHEMA)
    return (
        pl.concat(found).unique(["report_key", "crime_key"], keep="first", maintain_order=True)
        .join(floors, on="report_key", how="left", maintain_order="left")
        .join(crime_side_floors, on="crime_key", how="left", maintain_order="left")
    )


def token_frequencies(police_tokens: pl.DataFrame) -> pl.DataFrame:
    """How many crimes hold each token (`token`, `frequency`)."""
    return police_tokens.group_by("token").agg(pl.col("crime_key").n_unique().cast(pl.Int64).alias("frequency"))


def long_tokens(frame: pl.DataFrame, key: str, column: str) -> pl.DataFrame:
    """(key, token) rows from a list column of keyed tokens (one row per key in `frame`)."""
    # de-duplicated inside each list, not after the explode: 5x faster on millions of tokens
    return (
        frame.select(key, pl.col(column).list.unique().alias("token"))
        .explode("token")
        .drop_nulls("token")
    )
