"""Reference data the standardisation needs, as frames (loaded by the flow, extended by config)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

BUILTIN_REFERENCE_DIR = Path(__file__).parent / "reference"


@dataclass(frozen=True)
class ReferenceData:
    """Lookup tables used by staging.

    force_areas: postcode_prefix, force_id (longest prefix wins)
    forces: force_id, name, aliases (`|`-separated)
    towns: town, force_id
    categories: variant, category (CST category spellings)
    offence_categories: offence_code, category
    """

    force_areas: pl.DataFrame
    forces: pl.DataFrame
    towns: pl.DataFrame
    categories: pl.DataFrame
    offence_categories: pl.DataFrame


def force_names(forces: pl.DataFrame) -> pl.DataFrame:
    """Every spelling of every force (name and aliases), folded, with its force id."""
    return (
        forces.with_columns(
            pl.concat_list(
                pl.col("name"), pl.col("aliases").fill_null("").str.split("|")
            ).alias("spelling")
        )
        .explode("spelling")
        .with_columns(folded_name(pl.col("spelling")).alias("spelling"))
        .filter(pl.col("spelling") != "")
        .select("spelling", "force_id")
        .unique("spelling", keep="first")
    )


def folded_name(expr: pl.Expr) -> pl.Expr:
    """Lower case letters and single spaces only: for matching free-text names."""
    return (
        expr.cast(pl.String)
        .str.to_lowercase()
        .str.replace_all("&", " and ")
        .str.replace_all(r"[^a-z0-9]+", " ")
        .str.strip_chars()
    )


def postcode_force_areas(raw: pl.DataFrame, forces: pl.DataFrame) -> pl.DataFrame:
    """The shared postcode -> force-area table (names) as postcode_prefix, force_id."""
    names = force_names(forces)
    return (
        raw.with_columns(folded_name(pl.col("police_force_area")).alias("spelling"))
        .join(names, on="spelling", how="left")
        .with_columns(pl.col("force_id").fill_null(pl.col("spelling").str.replace_all(" ", "_")))
        .select(pl.col("postcode_prefix").str.to_uppercase(), "force_id")
    )
