"""Exchange packs: what one partner has that the other does not, in the agreed anonymised shape.

Pure functions: staged frames, linkage pairs and the pseudonym -> reference
lookup in, one pack frame out. No I/O (flows/exchange.py reads and writes).

The agreed shape replaces the spreadsheet the partners used to bring to their
meetings. One row per record the receiving partner does not hold:

| column | meaning |
|---|---|
| reference | the sender's own reference (CST Incident Ref, or the force's crime ref), so the receiver can ask about it |
| source | `cst` or the force id the record comes from |
| date, date_to | when it happened (`date_to` = end of a police date range, else `date`) |
| street | street name without house or flat number |
| town | town / borough |
| postcode_sector | `M7 4` (sector), or `M7` (district) when only that is known; never a full postcode |
| category | CST category (for police crimes: the nearest CST category of the offence) |
| offence | Home Office offence code and description (police crimes only) |
| summary | the redacted narrative |

- pack **for a force** (`--for gmp`): CST reports in that force's area
  (`force_id`), in the period, with no `matched` crime of that force;
- pack **for CST** (`--for cst`): the forces' crimes in the period, not
  cancelled, that no CST report is `matched` to, directly or through another
  crime of the same police incident group.

Records dated before a force joined the arrangement are left out of both
(there is nothing to compare them with).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

PACK_COLUMNS = [
    "reference",
    "source",
    "date",
    "date_to",
    "street",
    "town",
    "postcode_sector",
    "category",
    "offence",
    "summary",
]
PACK_SCHEMA = {
    "reference": pl.String,
    "source": pl.String,
    "date": pl.Date,
    "date_to": pl.Date,
    "street": pl.String,
    "town": pl.String,
    "postcode_sector": pl.String,
    "category": pl.String,
    "offence": pl.String,
    "summary": pl.String,
}


@dataclass(frozen=True)
class Period:
    """An inclusive date range with a label used in folder and file names."""

    start: date
    end: date
    label: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period {self.label}: end {self.end} is before start {self.start}")


def period_from_label(label: str) -> Period:
    """`2026-H1`, `2026-H2`, `2026-Q3`, `2026-10` (a month) or `2026` (a year)."""
    text = label.strip().upper()
    if m := re.fullmatch(r"(\d{4})-H([12])", text):
        year, half = int(m[1]), int(m[2])
        start = date(year, 1 if half == 1 else 7, 1)
        end = date(year, 6, 30) if half == 1 else date(year, 12, 31)
        return Period(start, end, f"{year}-H{half}")
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", text):
        year, quarter = int(m[1]), int(m[2])
        start = date(year, 3 * quarter - 2, 1)
        return Period(start, _month_end(year, 3 * quarter), f"{year}-Q{quarter}")
    if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise ValueError(f"not a month: {label!r}")
        return Period(date(year, month, 1), _month_end(year, month), f"{year}-{month:02d}")
    if m := re.fullmatch(r"(\d{4})", text):
        year = int(m[1])
        return Period(date(year, 1, 1), date(year, 12, 31), str(year))
    raise ValueError(f"unknown period {label!r}: use 2026-H1, 2026-Q3, 2026-10 or 2026")


def period_between(start: date, end: date) -> Period:
    """An explicit range (`--from/--to`), labelled `<start>_<end>`."""
    return Period(start, end, f"{start.isoformat()}_{end.isoformat()}")


def _month_end(year: int, month: int) -> date:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def _place_sector() -> pl.Expr:
    return pl.coalesce(pl.col("postcode_sector"), pl.col("postcode_district")).alias("postcode_sector")


def _empty_keys(column: str) -> pl.DataFrame:
    return pl.DataFrame(schema={column: pl.String})


def matched_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    """The `matched` pairs (report_key, crime_key) of `link_pairs`."""
    if pairs.is_empty():
        return pl.DataFrame(schema={"report_key": pl.String, "crime_key": pl.String})
    return pairs.filter(pl.col("status") == "matched").select("report_key", "crime_key").unique()


def reports_unknown_to_force(
    cst: pl.DataFrame,
    police: pl.DataFrame,
    pairs: pl.DataFrame,
    force_id: str,
    period: Period,
    participating_from: date | None = None,
) -> pl.DataFrame:
    """CST reports (stg_cst_reports rows) in the force's area and period with no matched crime of that force."""
    start = max(period.start, participating_from) if participating_from else period.start
    force_crimes = police.filter(pl.col("force_id") == force_id).select("crime_key")
    known = matched_pairs(pairs).join(force_crimes, on="crime_key", how="semi").select("report_key").unique()
    return (
        cst.filter(
            (pl.col("force_id") == force_id)
            & pl.col("incident_date").is_between(start, period.end, closed="both")
        )
        .join(known, on="report_key", how="anti")
    )


def crimes_unknown_to_cst(
    police: pl.DataFrame,
    pairs: pl.DataFrame,
    groups: pl.DataFrame | None,
    forces: dict[str, date | None],
    period: Period,
) -> pl.DataFrame:
    """Police crimes (stg_police_crimes rows) of `forces` in the period, not cancelled, known to no CST report.

    `forces` maps each force id to the date it joined (None: no limit). A crime
    is known to CST when it is matched, or when another crime of its police
    incident group is (one incident recorded as one crime per victim).
    """
    matched_crimes = matched_pairs(pairs).select("crime_key").unique()
    if groups is not None and not groups.is_empty():
        matched_groups = groups.join(matched_crimes, on="crime_key", how="semi").select("police_incident_id").unique()
        matched_crimes = pl.concat(
            [matched_crimes, groups.join(matched_groups, on="police_incident_id", how="semi").select("crime_key")]
        ).unique()
    frames = []
    for force_id, joined in forces.items():
        start = max(period.start, joined) if joined else period.start
        frames.append(
            police.filter(
                (pl.col("force_id") == force_id)
                & (pl.col("status") != "cancelled")
                & pl.col("occurred_from").dt.date().is_between(start, period.end, closed="both")
            )
        )
    selected = pl.concat(frames, how="vertical_relaxed") if frames else police.clear()
    return selected.join(matched_crimes, on="crime_key", how="anti")


def _with_refs(frame: pl.DataFrame, key: str, refs: pl.DataFrame) -> pl.DataFrame:
    lookup = refs.select(pl.col("pseudonym").alias(key), pl.col("ref").alias("reference")).unique(key, keep="first")
    return frame.join(lookup, on=key, how="left")


def pack_from_reports(reports: pl.DataFrame, refs: pl.DataFrame) -> pl.DataFrame:
    """CST reports in the agreed shape, with CST's own references from `refs` (pseudonym, ref)."""
    frame = _with_refs(reports, "report_key", refs)
    return frame.select(
        pl.col("reference"),
        pl.lit("cst").alias("source"),
        pl.col("incident_date").alias("date"),
        pl.col("incident_date").alias("date_to"),
        pl.col("street"),
        pl.col("town"),
        _place_sector(),
        pl.col("category"),
        pl.lit(None, dtype=pl.String).alias("offence"),
        pl.col("description_redacted").alias("summary"),
    ).cast(PACK_SCHEMA).sort("date", "reference", nulls_last=True)


def pack_from_crimes(crimes: pl.DataFrame, refs: pl.DataFrame) -> pl.DataFrame:
    """Police crimes in the agreed shape, with each force's own crime references from `refs`."""
    frame = _with_refs(crimes, "crime_key", refs)
    offence = pl.concat_str(
        [pl.col("offence_code"), pl.col("offence_desc")], separator=" ", ignore_nulls=True
    ).replace("", None)
    return frame.select(
        pl.col("reference"),
        pl.col("force_id").alias("source"),
        pl.col("occurred_from").dt.date().alias("date"),
        pl.coalesce(pl.col("occurred_to"), pl.col("occurred_from")).dt.date().alias("date_to"),
        pl.col("street"),
        pl.col("town"),
        _place_sector(),
        pl.col("offence_category").alias("category"),
        offence.alias("offence"),
        pl.col("summary_redacted").alias("summary"),
    ).cast(PACK_SCHEMA).sort("date", "source", "reference", nulls_last=True)


def pack_for_force(
    cst: pl.DataFrame,
    police: pl.DataFrame,
    pairs: pl.DataFrame,
    refs: pl.DataFrame,
    force_id: str,
    period: Period,
    participating_from: date | None = None,
) -> pl.DataFrame:
    """The pack a force receives: CST reports in its area it has no matched crime for."""
    reports = reports_unknown_to_force(cst, police, pairs, force_id, period, participating_from)
    return pack_from_reports(reports, refs)


def pack_for_cst(
    police: pl.DataFrame,
    pairs: pl.DataFrame,
    groups: pl.DataFrame | None,
    refs: pl.DataFrame,
    forces: dict[str, date | None],
    period: Period,
) -> pl.DataFrame:
    """The pack CST receives: the forces' crimes no CST report is matched to (cancelled ones left out)."""
    crimes = crimes_unknown_to_cst(police, pairs, groups, forces, period)
    return pack_from_crimes(crimes, refs)


def missing_references(pack: pl.DataFrame) -> int:
    """Rows whose reference could not be found in the re-identification store."""
    return pack.filter(pl.col("reference").is_null()).height
