"""Staging: each sender's raw rows become the canonical, anonymised shape.

Rename, cast, parse, pseudonymise and redact; nothing else. Deduplication of
versions and linkage happen later, in the warehouse and in linkage.py.
Direct identifiers never leave this module: the output holds no column that
the mapping lists as personal, and free text only redacted.
"""

from __future__ import annotations

import polars as pl

from transforms.categories import (
    canonical_word,
    normalised_category,
    normalised_hate_flags,
    normalised_offence_code,
    offence_category,
)
from transforms.crime_refs import crime_ref_tokens
from transforms.dates import parsed_date, parsed_datetime, parsed_time
from transforms.identity_tokens import identity_tokens
from transforms.mapping import SourceMapping
from transforms.postcodes import parsed_postcodes, with_force_from_postcode
from transforms.pseudonyms import keyed_hashes, keyed_token_lists
from transforms.redaction import redact_frame
from transforms.reference_data import ReferenceData, folded_name, force_names

# Where a record happened, in the same columns on both sides (what linkage compares).
PLACE_COLUMNS = [
    "street",
    "town",
    "postcode_unit_key",
    "postcode_sector",
    "postcode_district",
    "postcode_area",
    "postcode_quality",
]
CST_COLUMNS = [
    "report_key",
    "source_row",
    "last_updated",
    "incident_date",
    "incident_time",
    "reported_date",
    "category",
    "method",
    "location_type",
    "victim_type",
    *PLACE_COLUMNS,
    "force_id",
    "force_id_basis",
    "reported_to_police",
    "cited_crime_ref_tokens",
    "identity_tokens",
    "description_redacted",
    "offender_description_redacted",
]
POLICE_COLUMNS = [
    "crime_key",
    "force_id",
    "source_row",
    "crime_ref_tokens",
    "identity_tokens",
    "offence_code",
    "offence_desc",
    "offence_category",
    "occurred_from",
    "occurred_to",
    "reported_date",
    *PLACE_COLUMNS,
    "hate_flags",
    "victim_count",
    "status",
    "summary_redacted",
]


def _source(frame: pl.DataFrame, mapping: SourceMapping, field: str) -> pl.Expr:
    """The sender's column for a canonical field, or a typed null when unmapped or absent."""
    column = mapping.column(field)
    if column is None or column not in frame.columns:
        return pl.lit(None, dtype=pl.String)
    return pl.col(column).cast(pl.String).str.strip_chars().replace("", None)


def _formats(mapping: SourceMapping, field: str, default: list[str]) -> list[str]:
    return mapping.date_formats.get(field, default)


def street_name(expr: pl.Expr) -> pl.Expr:
    """The street of an address without house/flat numbers (`Flat 2, 12 Bury New Rd` -> `Bury New Rd`)."""
    last_part = expr.cast(pl.String).str.split(",").list.eval(
        pl.element().str.strip_chars().filter(pl.element().str.contains(r"[A-Za-z]{3,}"))
    ).list.last()
    return (
        last_part.str.replace(r"(?i)^(?:(?:flat|apartment|apt|unit|number)\b|no\b\.?)\s*\w+\s*", "")
        .str.replace(r"^\d+[A-Za-z]?(\s*-\s*\d+[A-Za-z]?)?\s+", "")
        .str.replace_all(r"\d", "")
        .str.strip_chars()
        .str.to_titlecase()
        .replace("", None)
    )


def _with_redacted_text(frame: pl.DataFrame, mapping: SourceMapping) -> pl.DataFrame:
    text_columns = {
        column: f"{field}_redacted"
        for field, column in mapping.free_text_columns.items()
        if column in frame.columns
    }
    for field in mapping.free_text_columns:
        if mapping.free_text_columns[field] not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(f"{field}_redacted"))
    if not text_columns:
        return frame
    identifiers = [c for c in mapping.identifier_columns if c in frame.columns]
    return redact_frame(frame, text_columns, identifier_columns=identifiers)


# HMAC namespaces of the token lists (flows/keys.py re-keys them with the same)
CRIME_NAMESPACE = "crime:"
IDENTITY_NAMESPACE = "identity:"


def plain_identity_tokens(raw: pl.DataFrame, mapping: SourceMapping) -> pl.Series:
    """Each row's identity tokens (names, contacts) in plaintext: from the mapping's identifier and free-text columns."""
    return identity_tokens(raw, mapping.identifier_columns, list(mapping.free_text_columns.values()))


def keyed_identity_tokens(raw: pl.DataFrame, mapping: SourceMapping, key: bytes) -> pl.Series:
    """Each row's identity tokens, keyed-hashed with their tag in clear."""
    return keyed_token_lists(plain_identity_tokens(raw, mapping), key, IDENTITY_NAMESPACE)


def _with_location(
    frame: pl.DataFrame, mapping: SourceMapping, reference: ReferenceData, key: bytes
) -> pl.DataFrame:
    parsed = parsed_postcodes(
        frame.with_columns(_source(frame, mapping, "postcode").alias("__postcode")), "__postcode"
    )
    parsed = with_force_from_postcode(parsed, reference.force_areas)
    return parsed.with_columns(
        keyed_hashes(parsed["postcode_unit"], key, "postcode:").alias("postcode_unit_key"),
        street_name(_source(frame, mapping, "address")).alias("street"),
        _source(frame, mapping, "town").str.to_titlecase().alias("town"),
    ).drop("postcode_unit", "__postcode")


def staged_cst_reports(
    raw: pl.DataFrame, mapping: SourceMapping, reference: ReferenceData, key: bytes
) -> pl.DataFrame:
    """CST rows in the canonical `stg_cst_report_versions` shape (without file columns)."""
    frame = _with_redacted_text(raw, mapping)
    frame = _with_location(frame, mapping, reference, key)
    force_spellings = force_names(reference.forces).rename({"force_id": "__area_force"})
    towns = reference.towns.select(
        folded_name(pl.col("town")).alias("__town_folded"), pl.col("force_id").alias("__town_force")
    ).unique("__town_folded", keep="first")
    frame = (
        frame.with_columns(
            folded_name(_source(frame, mapping, "force_area")).alias("spelling"),
            folded_name(pl.col("town")).alias("__town_folded"),
        )
        .join(force_spellings, on="spelling", how="left")
        .join(towns, on="__town_folded", how="left")
    )
    ref = _source(frame, mapping, "ref")
    return frame.with_columns(
        keyed_hashes(frame.select(ref.alias("r"))["r"], key, "cst:").alias("report_key"),
        pl.col("_row").alias("source_row"),
        parsed_datetime(mapping.columns["last_updated"], _formats(mapping, "last_updated", ["%Y-%m-%dT%H:%M:%S"])).alias("last_updated"),
        parsed_date(mapping.columns["incident_date"], _formats(mapping, "incident_date", ["%d/%m/%Y"])).alias("incident_date"),
        (
            parsed_time(mapping.columns["incident_time"], _formats(mapping, "incident_time", ["%H:%M"]))
            if "incident_time" in mapping.columns and mapping.columns["incident_time"] in frame.columns
            else pl.lit(None, dtype=pl.Time)
        ).alias("incident_time"),
        (
            parsed_date(mapping.columns["reported_date"], _formats(mapping, "reported_date", ["%d/%m/%Y"]))
            if "reported_date" in mapping.columns and mapping.columns["reported_date"] in frame.columns
            else pl.lit(None, dtype=pl.Date)
        ).alias("reported_date"),
        normalised_category(mapping.columns["category"], reference.categories).alias("category"),
        canonical_word_of(frame, mapping, "method").alias("method"),
        canonical_word_of(frame, mapping, "location_type").alias("location_type"),
        canonical_word_of(frame, mapping, "victim_type").alias("victim_type"),
        pl.coalesce("__area_force", "postcode_force_id", "__town_force", pl.lit("unknown")).alias("force_id"),
        pl.when(pl.col("__area_force").is_not_null())
        .then(pl.lit("force_area"))
        .when(pl.col("postcode_force_id").is_not_null())
        .then(pl.lit("postcode"))
        .when(pl.col("__town_force").is_not_null())
        .then(pl.lit("town"))
        .otherwise(pl.lit("unknown"))
        .alias("force_id_basis"),
        _source(frame, mapping, "reported_to_police")
        .str.to_lowercase()
        .replace_strict({"y": "yes", "yes": "yes", "n": "no", "no": "no"}, default="unknown")
        .alias("reported_to_police"),
        keyed_token_lists(
            crime_ref_tokens(frame.select(_source(frame, mapping, "police_reference").alias("r"))["r"]),
            key,
            CRIME_NAMESPACE,
        ).alias("cited_crime_ref_tokens"),
        keyed_identity_tokens(frame, mapping, key).alias("identity_tokens"),
    ).select(CST_COLUMNS)


def canonical_word_of(frame: pl.DataFrame, mapping: SourceMapping, field: str) -> pl.Expr:
    column = mapping.column(field)
    if column is None or column not in frame.columns:
        return pl.lit(None, dtype=pl.String)
    return canonical_word(column)


def staged_police_crimes(
    raw: pl.DataFrame, mapping: SourceMapping, reference: ReferenceData, key: bytes
) -> pl.DataFrame:
    """One force's rows in the canonical `stg_police_crime_versions` shape (without file columns)."""
    frame = _with_redacted_text(raw, mapping)
    frame = _with_location(frame, mapping, reference, key)
    refs = frame.select(_source(frame, mapping, "ref").alias("r"))["r"]
    cancelled = [v.lower() for v in mapping.cancelled_values]
    occurred_from = parsed_datetime(
        mapping.columns["occurred_from"], _formats(mapping, "occurred_from", ["%Y-%m-%d %H:%M:%S"])
    )
    occurred_to = (
        parsed_datetime(mapping.columns["occurred_to"], _formats(mapping, "occurred_to", ["%Y-%m-%d %H:%M:%S"]))
        if mapping.column("occurred_to") in frame.columns
        else pl.lit(None, dtype=pl.Datetime("us"))
    )
    victims = _source(frame, mapping, "victims")
    return (
        frame.with_columns(
            keyed_hashes(refs, key, f"{mapping.id}:").alias("crime_key"),
            pl.lit(mapping.id).alias("force_id"),
            pl.col("_row").alias("source_row"),
            keyed_token_lists(crime_ref_tokens(refs), key, CRIME_NAMESPACE).alias("crime_ref_tokens"),
            keyed_identity_tokens(frame, mapping, key).alias("identity_tokens"),
            normalised_offence_code(mapping.columns["offence_code"]).alias("offence_code"),
            _source(frame, mapping, "offence_desc").alias("offence_desc"),
            occurred_from.alias("occurred_from"),
            occurred_to.alias("occurred_to"),
            (
                parsed_date(mapping.columns["reported_date"], _formats(mapping, "reported_date", ["%Y-%m-%d"]))
                if mapping.column("reported_date") in frame.columns
                else pl.lit(None, dtype=pl.Date)
            ).alias("reported_date"),
            (
                normalised_hate_flags(mapping.columns["hate_flags"])
                if mapping.column("hate_flags") in frame.columns
                else pl.lit([], dtype=pl.List(pl.String))
            ).alias("hate_flags"),
            (
                victims.str.split("|").list.eval(pl.element().str.strip_chars().filter(pl.element() != "")).list.len().cast(pl.Int32).clip(lower_bound=1).fill_null(1)
                if mapping.column("victims") is not None
                else pl.lit(1, dtype=pl.Int32)
            ).alias("victim_count"),
            pl.when(_source(frame, mapping, "status").str.to_lowercase().is_in(cancelled))
            .then(pl.lit("cancelled"))
            .otherwise(pl.lit("confirmed"))
            .alias("status"),
        )
        .with_columns(
            offence_category("offence_code", reference.offence_categories).alias("offence_category"),
            pl.coalesce("occurred_to", "occurred_from").alias("occurred_to"),
        )
        .select(POLICE_COLUMNS)
    )


def reference_pseudonyms(raw: pl.DataFrame, mapping: SourceMapping, key: bytes) -> pl.DataFrame:
    """pseudonym -> original reference, for the re-identification store (never the warehouse)."""
    refs = raw.select(_source(raw, mapping, "ref").alias("ref"))["ref"]
    namespace = "cst:" if mapping.kind == "cst" else f"{mapping.id}:"
    return (
        pl.DataFrame(
            {
                "pseudonym": keyed_hashes(refs, key, namespace),
                "source": mapping.id,
                "ref": refs,
            }
        )
        .drop_nulls("pseudonym")
        .unique("pseudonym", keep="last", maintain_order=True)
    )
