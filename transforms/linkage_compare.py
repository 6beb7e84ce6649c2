"""Comparison vectors: each candidate pair's level on every comparison of the settings.

Computed in Polars on the pair frame (joins to both sides, then vectorised
`when/then` chains), not with `recordlinkage.Compare`: its features run per
pair in pandas/Python, and none of ours is one of its built-ins (a date
against a range, a category compatibility table, a keyed-token overlap
weighted by frequency, a TF-IDF cosine across writing styles). Like Splink's
gamma values, a level is the index of the first level whose condition holds
(0 = strongest agreement); -1 is the null level (missing on either side),
which carries no evidence either way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import jellyfish
import polars as pl

from transforms.identity_tokens import BODY_TAG, CONTACT_TAGS, NAME_PART_TAG, TAGS, WHOLE_NAME_TAG

NULL_LEVEL = -1


def gamma(name: str) -> str:
    return f"gamma_{name}"


def named_channel(
    text: pl.Expr, channels: Mapping[str, Sequence[str]], placeholder_pattern: str = r"\[[^\]]*\]"
) -> pl.Expr:
    """The first channel (platform) named in a text as a whole word, by the settings' order.

    Redaction placeholders are removed first, with the word that labels them:
    `contact email [EMAIL]` is a contact detail, not where the incident happened.
    """
    lowered = (
        text.fill_null("").str.to_lowercase()
        .str.replace_all(rf"[\w/-]+\s*:?\s*(?:{placeholder_pattern})", " ")
        .str.replace_all(placeholder_pattern, " ")
    )
    names = list(channels)
    rank = {spelling.lower(): names.index(name) for name, spellings in channels.items() for spelling in spellings}
    if not rank:
        return pl.lit(None, dtype=pl.String)
    # one regex pass for every spelling (a pass per channel cost 1 s per 100k narratives);
    # longest first, so `twitter/x` is found whole; the channel first in the settings wins
    words = "|".join(re.escape(spelling) for spelling in sorted(rank, key=len, reverse=True))
    first = (
        lowered.str.extract_all(rf"\b(?:{words})\b")
        .list.eval(pl.element().replace_strict(rank, default=None, return_dtype=pl.Int64))
        .list.min()
    )
    return first.replace_strict(dict(enumerate(names)), default=None, return_dtype=pl.String)


def _placeholders(settings: Mapping) -> str:
    return settings.get("narrative", {}).get("placeholder_pattern", r"\[[^\]]*\]")


def cst_comparison_frame(cst: pl.DataFrame, settings: Mapping) -> pl.DataFrame:
    """CST columns the comparisons read (suffix `_l`)."""
    kinds = settings.get("cst_victim_kind", {})
    to_kind = {value: kind for kind, values in kinds.items() for value in values}
    return cst.select(
        "report_key",
        pl.col("incident_date").alias("d_l"),
        pl.col("reported_date").alias("reported_l"),
        pl.col("incident_time").alias("time_l"),
        pl.col("postcode_unit_key").alias("unit_l"),
        pl.col("postcode_sector").alias("sector_l"),
        pl.col("postcode_district").alias("district_l"),
        pl.col("postcode_area").alias("area_l"),
        pl.col("street").str.to_lowercase().alias("street_l"),
        pl.col("category").alias("category_l"),
        pl.col("victim_type").str.to_lowercase().replace_strict(to_kind, default=None).alias("kind_l"),
        pl.col("reported_to_police").alias("told_police_l"),
        pl.col("force_id").replace("unknown", None).alias("force_l"),
        pl.col("cited_crime_ref_tokens").list.len().fill_null(0).gt(0).alias("cited_l"),
        named_channel(pl.col("description_redacted"), settings.get("channels", {}), _placeholders(settings)).alias(
            "channel_l"
        ),
    )


def police_comparison_frame(police: pl.DataFrame, settings: Mapping) -> pl.DataFrame:
    """Police columns the comparisons read (suffix `_r`)."""
    patterns = settings.get("police_victim_kind", {})
    text = pl.col("summary_redacted").fill_null("")
    kind = pl.lit(None, dtype=pl.String)
    for name, pattern in reversed(list(patterns.items())):
        kind = pl.when(text.str.contains(pattern)).then(pl.lit(name)).otherwise(kind)
    exact_time = pl.col("occurred_from") == pl.coalesce(pl.col("occurred_to"), pl.col("occurred_from"))
    return police.select(
        "crime_key",
        pl.col("occurred_from").dt.date().alias("f_r"),
        pl.coalesce(pl.col("occurred_to"), pl.col("occurred_from")).dt.date().alias("t_r"),
        pl.col("reported_date").alias("reported_r"),
        pl.when(exact_time).then(pl.col("occurred_from").dt.time()).alias("time_r"),
        pl.when(~exact_time).then(pl.col("occurred_from")).alias("range_from_r"),
        pl.when(~exact_time).then(pl.col("occurred_to")).alias("range_to_r"),
        pl.col("postcode_unit_key").alias("unit_r"),
        pl.col("postcode_sector").alias("sector_r"),
        pl.col("postcode_district").alias("district_r"),
        pl.col("postcode_area").alias("area_r"),
        pl.col("street").str.to_lowercase().alias("street_r"),
        pl.col("offence_category").alias("category_r"),
        pl.col("force_id").alias("force_r"),
        kind.alias("kind_r"),
        named_channel(pl.col("summary_redacted"), settings.get("channels", {}), _placeholders(settings)).alias(
            "channel_r"
        ),
    )


def crime_ref_evidence(
    pairs: pl.DataFrame,
    cst_tokens: pl.DataFrame,
    police_tokens: pl.DataFrame,
    token_frequency: pl.DataFrame,
) -> pl.DataFrame:
    """Per pair: the rarest shared exact (`x:`) and near (`d:`) token's frequency, and how many near tokens.

    Frequencies are how many crimes hold the token: a shared window that every
    crime of one force shares (a year prefix) is no evidence; the serial is.
    """
    schema = {
        "report_key": pl.String,
        "crime_key": pl.String,
        "exact_frequency": pl.Int64,
        "near_frequency": pl.Int64,
        "near_shared": pl.UInt32,
    }
    if pairs.is_empty() or cst_tokens.is_empty() or police_tokens.is_empty():
        return pl.DataFrame(schema=schema)
    shared = (
        pairs.select("report_key", "crime_key")
        .join(cst_tokens, on="report_key")
        .join(police_tokens, on=["crime_key", "token"], how="semi")
        .join(token_frequency, on="token", how="left")
        .with_columns(pl.col("token").str.starts_with("x:").alias("exact"))
    )
    return shared.group_by("report_key", "crime_key").agg(
        pl.col("frequency").filter(pl.col("exact")).min().alias("exact_frequency"),
        pl.col("frequency").filter(~pl.col("exact")).min().alias("near_frequency"),
        (~pl.col("exact")).sum().cast(pl.UInt32).alias("near_shared"),
    ).select(list(schema))


TAG_BITS = {f"{tag}:": 1 << bit for bit, tag in enumerate(TAGS.values())}
IDENTITY_SCHEMA = {
    "report_key": pl.String,
    "crime_key": pl.String,
    "identity_contact_shared": pl.Boolean,
    "identity_body_shared": pl.Boolean,
    "identity_names_shared": pl.UInt32,
    "identity_comparable": pl.Boolean,
}


def _tag_mask(tokens: str) -> pl.Expr:
    """The tags a record's tokens carry (`<tag>:<hash>`), one bit each."""
    return (
        pl.col(tokens).list.eval(pl.element().str.head(2).replace_strict(TAG_BITS, default=0, return_dtype=pl.Int64))
        .list.unique().list.sum().fill_null(0)
    )


def identity_evidence(pairs: pl.DataFrame, cst: pl.DataFrame, police: pl.DataFrame) -> pl.DataFrame:
    """Per pair: whether a contact or the victim body is shared, how many name parts, and comparability.

    `cst`/`police` hold `report_key`/`crime_key` and `identity_tokens` (keyed
    tokens, tag in clear: `transforms/identity_tokens.py`). A pair is
    comparable when both sides hold a token of one tag (both name a person, or
    both give a phone, ...): only then does sharing nothing say they differ.
    """
    if pairs.is_empty():
        return pl.DataFrame(schema=IDENTITY_SCHEMA)
    # tags as bits once per record; token lists intersected only for the comparable pairs
    # (vectorised per pair, not joins over the exploded tokens)
    frame = (
        pairs.select("report_key", "crime_key")
        .join(cst.select("report_key", pl.col("identity_tokens").alias("l"), _tag_mask("identity_tokens").alias("l_tags")),
              on="report_key", how="left")
        .join(police.select("crime_key", pl.col("identity_tokens").alias("r"), _tag_mask("identity_tokens").alias("r_tags")),
              on="crime_key", how="left")
        .with_columns(((pl.col("l_tags") & pl.col("r_tags")).fill_null(0) != 0).alias("identity_comparable"))
        .with_columns(
            pl.when(pl.col("identity_comparable")).then(pl.col("l").list.set_intersection(pl.col("r"))).alias("shared")
        )
    )
    shared = pl.col("shared").list.eval(pl.element().str.head(2))

    def count(tags: tuple[str, ...]) -> pl.Expr:
        return shared.list.eval(pl.element().is_in(list(tags))).list.sum().fill_null(0)

    parts = count((NAME_PART_TAG,))
    return frame.select(
        "report_key",
        "crime_key",
        (count(CONTACT_TAGS) > 0).alias("identity_contact_shared"),
        (count((BODY_TAG,)) > 0).alias("identity_body_shared"),
        # a whole name shared counts as (at least) two of its parts
        pl.when(count((WHOLE_NAME_TAG,)) > 0).then(pl.max_horizontal(parts, 2)).otherwise(parts)
        .cast(pl.UInt32).alias("identity_names_shared"),
        "identity_comparable",
    )


def offender_similarity(
    pairs: pl.DataFrame, cst_terms: pl.DataFrame, police_terms: pl.DataFrame, unknown_terms: Sequence[str]
) -> pl.DataFrame:
    """Per pair: Jaccard of the two offender descriptions' term sets, and whether each is 'unknown'.

    `pairs` has report_key, crime_key and the document ids `cst_doc`,
    `police_doc` that `cst_terms`/`police_terms` (narrative_terms outputs of
    the offender descriptions) use; a side without terms is null.
    """
    unknown = list(unknown_terms)

    def described(terms: pl.DataFrame, doc: str, suffix: str) -> pl.DataFrame:
        return terms.group_by("doc").agg(
            pl.len().alias(f"n_{suffix}"),
            pl.col("term").is_in(unknown).all().alias(f"offender_unknown_{suffix}"),
        ).rename({"doc": doc})

    base = pairs.select("report_key", "crime_key", "cst_doc", "police_doc")
    shared = (
        base.select("cst_doc", "police_doc").unique()
        .join(cst_terms.select(pl.col("doc").alias("cst_doc"), "term"), on="cst_doc")
        .join(police_terms.select(pl.col("doc").alias("police_doc"), "term"), on=["police_doc", "term"])
        .group_by("cst_doc", "police_doc")
        .agg(pl.len().alias("shared"))
    )
    return (
        base.join(described(cst_terms, "cst_doc", "l"), on="cst_doc", how="left")
        .join(described(police_terms, "police_doc", "r"), on="police_doc", how="left")
        .join(shared, on=["cst_doc", "police_doc"], how="left")
        .with_columns(
            (
                pl.col("shared").fill_null(0)
                / (pl.col("n_l") + pl.col("n_r") - pl.col("shared").fill_null(0)).clip(lower_bound=1)
            ).alias("offender_jaccard")
        )
        .select("report_key", "crime_key", "offender_jaccard", "offender_unknown_l", "offender_unknown_r")
    )


def street_named_in_narrative(pairs: pl.DataFrame, cst: pl.DataFrame, police: pl.DataFrame) -> pl.DataFrame:
    """Pairs where one side has no street field and the other's street is named in its narrative.

    A report without an address often says where in its text ("on Bethune
    Road"). Only the pairs with exactly one street are looked at, so the
    narratives are joined to few rows.
    """
    streets_l = cst.select("report_key", pl.col("street").str.to_lowercase().alias("street_l"))
    streets_r = police.select("crime_key", pl.col("street").str.to_lowercase().alias("street_r"))
    one_sided = pairs.select("report_key", "crime_key").join(streets_l, on="report_key").join(streets_r, on="crime_key")
    cst_side = (
        one_sided.filter(pl.col("street_l").is_null() & pl.col("street_r").is_not_null())
        .join(cst.select("report_key", pl.col("description_redacted").str.to_lowercase().alias("text")), on="report_key")
        .filter(pl.col("text").str.contains(pl.col("street_r"), literal=True))
    )
    police_side = (
        one_sided.filter(pl.col("street_r").is_null() & pl.col("street_l").is_not_null())
        .join(police.select("crime_key", pl.col("summary_redacted").str.to_lowercase().alias("text")), on="crime_key")
        .filter(pl.col("text").str.contains(pl.col("street_l"), literal=True))
    )
    return pl.concat([cst_side.select("report_key", "crime_key"), police_side.select("report_key", "crime_key")]).with_columns(
        pl.lit(True).alias("street_named")
    )


def _levels(name: str, conditions: Sequence[pl.Expr], null_when: pl.Expr) -> pl.Expr:
    """Index of the first true condition; NULL_LEVEL when `null_when`; last index + 1 never happens."""
    expr = pl.lit(len(conditions) - 1, dtype=pl.Int8)
    for index in reversed(range(len(conditions))):
        expr = pl.when(conditions[index]).then(pl.lit(index, dtype=pl.Int8)).otherwise(expr)
    return pl.when(null_when).then(pl.lit(NULL_LEVEL, dtype=pl.Int8)).otherwise(expr).alias(gamma(name))


def _street_similarity(frame: pl.DataFrame) -> pl.DataFrame:
    """Jaro-Winkler of the distinct street pairs that differ (few: computed once each)."""
    distinct = (
        frame.select("street_l", "street_r")
        .filter(pl.col("street_l").is_not_null() & pl.col("street_r").is_not_null() & (pl.col("street_l") != pl.col("street_r")))
        .unique()
    )
    scores = [
        jellyfish.jaro_winkler_similarity(a, b)
        for a, b in zip(distinct["street_l"].to_list(), distinct["street_r"].to_list(), strict=True)
    ]
    return distinct.with_columns(pl.Series("street_jw", scores, dtype=pl.Float64))


def comparison_vectors(
    pairs: pl.DataFrame,
    cst: pl.DataFrame,
    police: pl.DataFrame,
    settings: Mapping,
    ref_evidence: pl.DataFrame,
    narrative_cosine: pl.Series,
    offender: pl.DataFrame | None = None,
    street_named: pl.DataFrame | None = None,
    identity: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Pairs with the raw comparison values and one `gamma_<name>` Int8 column per comparison.

    `cst`/`police` are `cst_comparison_frame`/`police_comparison_frame`
    outputs; `narrative_cosine` is aligned with `pairs`' row order;
    `offender` is `offender_similarity`'s output, `street_named`
    `street_named_in_narrative`'s, `identity`
    `identity_evidence`'s.
    """
    comparisons = {c["name"]: c for c in settings["comparisons"]}
    frame = (
        pairs.with_columns(narrative_cosine.alias("narrative_cosine"))
        .join(cst, on="report_key", how="left")
        .join(police, on="crime_key", how="left")
        .join(ref_evidence, on=["report_key", "crime_key"], how="left")
    )
    if street_named is not None:
        frame = frame.join(street_named, on=["report_key", "crime_key"], how="left")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Boolean).alias("street_named"))
    if offender is not None:
        frame = frame.join(offender, on=["report_key", "crime_key"], how="left")
    else:
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("offender_jaccard"),
            pl.lit(None, dtype=pl.Boolean).alias("offender_unknown_l"),
            pl.lit(None, dtype=pl.Boolean).alias("offender_unknown_r"),
        )
    frame = frame.join(
        identity if identity is not None else pl.DataFrame(schema=IDENTITY_SCHEMA),
        on=["report_key", "crime_key"],
        how="left",
    )
    frame = frame.join(_street_similarity(frame), on=["street_l", "street_r"], how="left")
    d, f, t = pl.col("d_l"), pl.col("f_r"), pl.col("t_r")
    gap = (
        pl.when((d >= f) & (d <= t)).then(0)
        .when(d < f).then((f - d).dt.total_days())
        .otherwise((d - t).dt.total_days())
    )
    minutes_l = pl.col("time_l").dt.hour().cast(pl.Int32) * 60 + pl.col("time_l").dt.minute().cast(pl.Int32)
    minutes_r = pl.col("time_r").dt.hour().cast(pl.Int32) * 60 + pl.col("time_r").dt.minute().cast(pl.Int32)
    raw_minutes = (minutes_l - minutes_r).abs()
    frame = frame.with_columns(
        gap.cast(pl.Int32).alias("date_gap_days"),
        pl.min_horizontal(raw_minutes, 1440 - raw_minutes).alias("time_gap_minutes"),
    )
    gap_days = pl.col("date_gap_days")
    late_report = (
        (pl.col("d_l") == pl.col("reported_l")) & (d >= f) & (d <= t + pl.duration(days=60))
    ) | ((d - pl.col("reported_r")).dt.total_days().abs() <= 1)
    expressions = []
    if "date" in comparisons:
        expressions.append(
            _levels(
                "date",
                [
                    (gap_days == 0) & ((t - f).dt.total_days() <= 1),
                    gap_days == 0,
                    gap_days == 1,
                    gap_days <= 3,
                    late_report.fill_null(False),
                    pl.lit(True),
                ],
                d.is_null() | f.is_null(),
            )
        )
    if "time" in comparisons:
        minutes = pl.col("time_gap_minutes")
        # the police often record a range (time unknown): is CST's date and time inside it?
        cst_moment = pl.col("d_l").dt.combine(pl.col("time_l"))
        slack = pl.duration(minutes=30)
        in_range = (cst_moment >= pl.col("range_from_r") - slack) & (cst_moment <= pl.col("range_to_r") + slack)
        has_range = pl.col("time_l").is_not_null() & pl.col("range_from_r").is_not_null()
        expressions.append(
            _levels(
                "time",
                [minutes <= 15, minutes <= 60, minutes <= 180, minutes.is_not_null(),
                 has_range & in_range, pl.lit(True)],
                minutes.is_null() & ~has_range,
            )
        )
    if "postcode" in comparisons:
        expressions.append(
            _levels(
                "postcode",
                [
                    pl.col("unit_l") == pl.col("unit_r"),
                    pl.col("sector_l") == pl.col("sector_r"),
                    pl.col("district_l") == pl.col("district_r"),
                    pl.col("area_l") == pl.col("area_r"),
                    pl.lit(True),
                ],
                pl.col("area_l").is_null() | pl.col("area_r").is_null(),
            )
        )
    if "street" in comparisons:
        threshold = float(comparisons["street"]["levels"][1].get("threshold", 0.92))
        # a report without an address often names the street in its narrative ("on Bethune Road")
        named = pl.col("street_named").fill_null(False)
        expressions.append(
            _levels(
                "street",
                [
                    pl.col("street_l") == pl.col("street_r"),
                    pl.col("street_jw").fill_null(0.0) >= threshold,
                    named.fill_null(False),
                    pl.lit(True),
                ],
                (pl.col("street_l").is_null() | pl.col("street_r").is_null()) & ~named.fill_null(False),
            )
        )
    if "offender" in comparisons:
        cuts = [float(level["threshold"]) for level in comparisons["offender"]["levels"] if "threshold" in level]
        jaccard = pl.col("offender_jaccard")
        unknown_l, unknown_r = pl.col("offender_unknown_l"), pl.col("offender_unknown_r")
        known_both = ~unknown_l & ~unknown_r
        expressions.append(
            _levels(
                "offender",
                [known_both & (jaccard >= cuts[0]), known_both & (jaccard >= cuts[1]), unknown_l & unknown_r,
                 unknown_l | unknown_r, pl.lit(True)],
                unknown_l.is_null() | unknown_r.is_null(),
            )
        )
    if "channel" in comparisons:
        expressions.append(
            _levels(
                "channel",
                [pl.col("channel_l") == pl.col("channel_r"), pl.lit(True)],
                pl.col("channel_l").is_null() | pl.col("channel_r").is_null(),
            )
        )
    if "category" in comparisons:
        compatible = comparisons["category"].get("compatible", [])
        pair_keys = [f"{a}|{b}" for a, b in compatible] + [f"{b}|{a}" for a, b in compatible]
        both = pl.concat_str(pl.col("category_l"), pl.lit("|"), pl.col("category_r"))
        expressions.append(
            _levels(
                "category",
                [pl.col("category_l") == pl.col("category_r"), both.is_in(pair_keys), pl.lit(True)],
                pl.col("category_l").is_null() | pl.col("category_r").is_null(),
            )
        )
    if "victim_kind" in comparisons:
        expressions.append(
            _levels(
                "victim_kind",
                [pl.col("kind_l") == pl.col("kind_r"), pl.lit(True)],
                pl.col("kind_l").is_null() | pl.col("kind_r").is_null(),
            )
        )
    if "narrative" in comparisons:
        cuts = [float(level["threshold"]) for level in comparisons["narrative"]["levels"] if "threshold" in level]
        cosine = pl.col("narrative_cosine")
        expressions.append(
            _levels("narrative", [cosine >= cut for cut in cuts] + [pl.lit(True)], cosine.is_null())
        )
    if "force" in comparisons:
        # a report whose force CST could not tell competes with every force's crimes
        expressions.append(
            _levels(
                "force",
                [pl.col("force_l") == pl.col("force_r"), pl.col("force_l").is_null(), pl.lit(True)],
                pl.col("force_r").is_null(),
            )
        )
    if "reported_to_police" in comparisons:
        told = pl.col("told_police_l")
        expressions.append(
            _levels(
                "reported_to_police",
                [told == "yes", told == "unknown", pl.lit(True)],
                told.is_null(),
            )
        )
    if "crime_ref" in comparisons:
        levels = comparisons["crime_ref"]["levels"]
        exact_max = int(levels[0].get("max_frequency", 3))
        near_max = int(levels[1].get("max_frequency", 12))
        expressions.append(
            _levels(
                "crime_ref",
                [
                    pl.col("exact_frequency").fill_null(10**9) <= exact_max,
                    pl.col("near_frequency").fill_null(10**9) <= near_max,
                    pl.col("exact_frequency").is_not_null() | pl.col("near_frequency").is_not_null(),
                    pl.lit(True),
                ],
                ~pl.col("cited_l").fill_null(False),
            )
        )
    if "identity" in comparisons:
        names = pl.col("identity_names_shared").fill_null(0)
        contact = pl.col("identity_contact_shared").fill_null(False)
        body = pl.col("identity_body_shared").fill_null(False)
        expressions.append(
            _levels(
                "identity",
                [contact, names >= 2, body, names == 1, pl.lit(True)],
                ~pl.col("identity_comparable").fill_null(False) & ~contact & ~body & (names == 0),
            )
        )
    return frame.with_columns(expressions).select(
        "report_key",
        "crime_key",
        "rule",
        "date_gap_days",
        "time_gap_minutes",
        "narrative_cosine",
        "offender_jaccard",
        *[gamma(c["name"]) for c in settings["comparisons"]],
        *[floor for floor in ("report_floor", "crime_floor") if floor in frame.columns],
    )

