"""Quality bars on small generated data: pairwise precision/recall/F1 against the ground truth.

Small versions of the benchmark's two settings (`benchmarks/linkage.py` runs the
full-size ones against Splink): the default density, and many look-alikes in the
same streets over a few months. No timing asserts.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from benchmarks.linkage_data import pairwise_quality, staged_demo, truth_pairs
from demo.generator import generate_landing
from transforms.linkage import (
    comparison_vectors_for,
    fitted_model,
    linkage_settings,
    linked_pairs,
    narrative_model,
    police_incident_groups,
)
from transforms.linkage_resolve import DECISION_SCHEMA


def linked(out: Path, **generate) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    generate_landing(out / "landing", out / "truth", seed=11, **generate)
    demo = staged_demo(out / "landing")
    settings = linkage_settings()
    groups = police_incident_groups(demo.police, settings)
    vectors = comparison_vectors_for(demo.cst, demo.police, settings, narrative_model(demo.cst, demo.police, settings))
    model, _ = fitted_model(vectors, settings, None, groups)
    resolved = linked_pairs(vectors, model, groups, demo.police, pl.DataFrame(schema=DECISION_SCHEMA), settings)
    return resolved, truth_pairs(out / "truth", demo.pseudonyms, demo.police), demo.police


def check_cardinality(resolved: pl.DataFrame) -> None:
    matched = resolved.filter(pl.col("status") == "matched")
    assert matched.group_by("crime_key").len()["len"].max() == 1  # a crime: at most one report
    assert matched.group_by("report_key").agg(pl.col("police_incident_id").n_unique())["police_incident_id"].max() == 1


@pytest.mark.parametrize(
    ("generate", "min_f1"),
    [
        ({"incidents": 1500, "density": 1.0}, 0.95),
        ({"incidents": 800, "density": 10.0, "start": date(2026, 5, 1)}, 0.93),
    ],
    ids=["default-density", "dense-look-alikes"],
)
def test_quality_bars(tmp_path, generate, min_f1):
    resolved, truth, police = linked(tmp_path, **generate)
    quality = pairwise_quality(resolved.filter(pl.col("status") == "matched"), truth)
    assert quality["f1"] >= min_f1, quality
    assert quality["precision"] >= min_f1 - 0.02 and quality["recall"] >= min_f1 - 0.02, quality
    review = resolved.filter(pl.col("status") == "review").height
    assert review < 0.05 * police.filter(pl.col("status") != "cancelled").height
    check_cardinality(resolved)
