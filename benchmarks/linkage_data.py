"""Demo data for the linkage benchmark and tests: generate, stage, and read the truth.

Staging runs the nightly flow's own readers and staging transforms (read,
standardise, pseudonymise, redact; the expectation suites only with
`validate=True`, as `flows.nightly.prepared_file`) on every landed file in
landing order, then keeps each record's latest version exactly as the staging
views do. No warehouse and no Prefect: the benchmark measures the linkage.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from flows.config import load_settings
from flows.landing import LocalLanding
from flows.nightly import prepared_file

KEY = bytes.fromhex("6b" * 32)


@dataclass
class StagedDemo:
    """Latest versions of every record, all versions, and pseudonym -> ref."""

    cst: pl.DataFrame
    police: pl.DataFrame
    cst_versions: pl.DataFrame
    police_versions: pl.DataFrame
    pseudonyms: pl.DataFrame


def _staged_without_validation(data: bytes, mapping, reference, key: bytes):  # noqa: ANN001, ANN202
    """read -> stage (no expectation suites: the linkage benchmark and tests need only the staged rows)."""
    from flows.nightly import sha256
    from flows.readers import read_extract
    from transforms.staging import reference_pseudonyms, staged_cst_reports, staged_police_crimes

    raw = read_extract(data, mapping).frame
    stage = staged_cst_reports if mapping.kind == "cst" else staged_police_crimes
    return sha256(data), stage(raw, mapping, reference, key), reference_pseudonyms(raw, mapping, key)


def staged_versions(
    landing: Path,
    key: bytes = KEY,
    keep: Callable[[str], bool] | None = None,
    with_files: bool = False,
    validate: bool = False,
) -> tuple[pl.DataFrame, ...]:
    """Every staged row version of every landed file (in landing order), with file_hash/ingest_seq.

    Returns (cst versions, police versions, pseudonyms) and, `with_files`, the
    files (ingest_seq, key, day = the file's delivery date from its mtime).
    """
    settings = load_settings()
    mappings = settings.mappings
    reference = settings.reference_data
    files = LocalLanding(landing).list_files()
    cst_parts, police_parts, pseudonyms, file_rows = [], [], [], []
    seq = 0
    seen: set[str] = set()
    for file in files:
        mapping = mappings.get(file.folder)
        if mapping is None or (keep is not None and not keep(file.key)):
            continue
        data = (landing / file.key).read_bytes()
        if validate:
            prepared = prepared_file(mapping.id, file, data, mapping, reference, key)
            file_hash, staged, refs = prepared.file_hash, prepared.staged, prepared.pseudonyms
        else:
            file_hash, staged, refs = _staged_without_validation(data, mapping, reference, key)
        if file_hash in seen or staged is None:
            continue
        seen.add(file_hash)
        seq += 1
        staged = staged.with_columns(pl.lit(file_hash).alias("file_hash"), pl.lit(seq, dtype=pl.Int64).alias("ingest_seq"))
        (cst_parts if mapping.kind == "cst" else police_parts).append(staged)
        file_rows.append((seq, file.key, date.fromtimestamp(file.modified)))
        if refs is not None:
            pseudonyms.append(refs)
    cst = pl.concat(cst_parts, how="vertical_relaxed")
    police = pl.concat(police_parts, how="vertical_relaxed")
    refs = pl.concat(pseudonyms).unique("pseudonym", keep="last")
    if with_files:
        files = pl.DataFrame(file_rows, schema={"ingest_seq": pl.Int64, "key": pl.String, "day": pl.Date}, orient="row")
        return cst, police, refs, files
    return cst, police, refs


def latest_cst(versions: pl.DataFrame) -> pl.DataFrame:
    """The `stg_cst_reports` view in Polars: latest last_updated, then ingest_seq, then row."""
    return versions.sort(
        ["report_key", "last_updated", "ingest_seq", "source_row"], nulls_last=False
    ).unique("report_key", keep="last", maintain_order=True)


def latest_police(versions: pl.DataFrame) -> pl.DataFrame:
    """The `stg_police_crimes` view in Polars: latest ingest_seq, then row."""
    return versions.sort(["crime_key", "ingest_seq", "source_row"]).unique("crime_key", keep="last", maintain_order=True)


def staged_demo(landing: Path, key: bytes = KEY) -> StagedDemo:
    cst_v, police_v, refs = staged_versions(landing, key)
    return StagedDemo(latest_cst(cst_v), latest_police(police_v), cst_v, police_v, refs)


def truth_pairs(truth: Path, pseudonyms: pl.DataFrame, police: pl.DataFrame) -> pl.DataFrame:
    """True (report_key, crime_key) pairs: a CST report and a live police crime of one incident.

    Cancelled crimes drop out of every count, so their pairs are not expected.
    """
    incidents = pl.read_csv(truth / "incidents.csv", infer_schema=False)
    refs = pseudonyms.rename({"pseudonym": "key"})
    cst = incidents.filter(pl.col("source") == "cst").join(
        refs.filter(pl.col("source") == "cst"), on="ref"
    ).select("incident_id", pl.col("key").alias("report_key"))
    crimes = incidents.filter(pl.col("source") == "police").join(
        refs.filter(pl.col("source") != "cst").rename({"source": "force"}),
        left_on=["force_id", "ref"], right_on=["force", "ref"],
    ).select("incident_id", pl.col("key").alias("crime_key"))
    live = police.filter(pl.col("status") != "cancelled").select("crime_key")
    return cst.join(crimes, on="incident_id").join(live, on="crime_key", how="semi").select("report_key", "crime_key")


def pairwise_quality(predicted: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float]:
    """Precision, recall and F1 of predicted (report_key, crime_key) pairs against the truth."""
    predicted = predicted.select("report_key", "crime_key").unique()
    hits = predicted.join(truth, on=["report_key", "crime_key"], how="semi").height
    precision = hits / predicted.height if predicted.height else 1.0
    recall = hits / truth.height if truth.height else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": truth.height,
            "predicted_pairs": predicted.height, "correct": hits}


def generated(out: Path, incidents: int | None = None, seed: int = 7, density: float = 1.0) -> Path:
    """Generate demo data into out/landing and out/truth (once: reused when present)."""
    from demo.generator import generate_landing

    landing, truth = out / "landing", out / "truth"
    if not (truth / "incidents.csv").exists():
        kwargs = {"seed": seed, "density": density}
        if incidents is not None:
            kwargs["incidents"] = incidents
        generate_landing(landing, truth, **kwargs)
    return out


os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
