"""UK postcode parsing: unit, sector, district and area, whatever the case and spacing."""

from __future__ import annotations

import polars as pl

# Outward code: area letters, a digit, then an optional digit or letter.
_OUTWARD = r"[A-Z]{1,2}[0-9][0-9A-Z]?"
_INWARD = r"[0-9][A-Z]{2}"
_UNIT = rf"^({_OUTWARD})({_INWARD})$"
_DISTRICT = rf"^({_OUTWARD})$"


def parsed_postcodes(frame: pl.DataFrame, column: str, prefix: str = "postcode") -> pl.DataFrame:
    """Add `<prefix>_unit`, `_sector`, `_district`, `_area` and `_quality` parsed from `column`.

    `_unit` is the normalised full postcode (`M7 4AB`) and is personal data: callers
    must replace it by a keyed pseudonym before storing anything. `_quality` is
    `unit`, `district`, `invalid` or `missing`.
    """
    compact = (
        pl.col(column).cast(pl.String).str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    )
    unit_outward = compact.str.extract(_UNIT, 1)
    unit_inward = compact.str.extract(_UNIT, 2)
    district_only = compact.str.extract(_DISTRICT, 1)
    district = pl.coalesce(unit_outward, district_only)
    return (
        frame.with_columns(
            unit_outward.alias("__outward"),
            unit_inward.alias("__inward"),
            district.alias("__district"),
            compact.alias("__compact"),
        )
        .with_columns(
            pl.when(pl.col("__inward").is_not_null())
            .then(pl.col("__outward") + " " + pl.col("__inward"))
            .alias(f"{prefix}_unit"),
            pl.when(pl.col("__inward").is_not_null())
            .then(pl.col("__outward") + " " + pl.col("__inward").str.slice(0, 1))
            .alias(f"{prefix}_sector"),
            pl.col("__district").alias(f"{prefix}_district"),
            pl.col("__district").str.extract(r"^([A-Z]{1,2})", 1).alias(f"{prefix}_area"),
            pl.when(pl.col("__inward").is_not_null())
            .then(pl.lit("unit"))
            .when(pl.col("__district").is_not_null())
            .then(pl.lit("district"))
            .when(pl.col("__compact").fill_null("") == "")
            .then(pl.lit("missing"))
            .otherwise(pl.lit("invalid"))
            .alias(f"{prefix}_quality"),
        )
        .drop("__outward", "__inward", "__district", "__compact")
    )


def with_force_from_postcode(
    frame: pl.DataFrame,
    force_areas: pl.DataFrame,
    district_column: str = "postcode_district",
    area_column: str = "postcode_area",
    output: str = "postcode_force_id",
) -> pl.DataFrame:
    """Add the force id whose area covers the postcode: the longest prefix wins.

    `force_areas` has `postcode_prefix` (an area like `M` or a district like `EN6`)
    and `force_id`.
    """
    lookup = force_areas.select(
        pl.col("postcode_prefix").str.to_uppercase(), pl.col("force_id")
    ).unique("postcode_prefix", keep="last")
    by_district = lookup.rename({"postcode_prefix": district_column, "force_id": "__fd"})
    by_area = lookup.rename({"postcode_prefix": area_column, "force_id": "__fa"})
    return (
        frame.join(by_district, on=district_column, how="left", nulls_equal=False)
        .join(by_area, on=area_column, how="left", nulls_equal=False)
        .with_columns(pl.coalesce("__fd", "__fa").alias(output))
        .drop("__fd", "__fa")
    )
