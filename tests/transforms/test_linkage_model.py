"""The classifier: recordlinkage's ECM recovers m/u; logistic regression once pairs are reviewed."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from transforms.linkage_compare import gamma
from transforms.linkage_model import (
    FittedModel,
    evidence,
    fit_ecm,
    fit_supervised,
    mutual_best,
    prior_model,
    score,
)

SETTINGS = {
    "comparisons": [
        {"name": "date", "levels": [{"label": "same day", "m": 0.6, "u": 0.2}, {"label": "near", "m": 0.3, "u": 0.3},
                                     {"label": "far", "m": 0.1, "u": 0.5}]},
        {"name": "place", "levels": [{"label": "same", "m": 0.7, "u": 0.2}, {"label": "different", "m": 0.3, "u": 0.8}]},
        {"name": "text", "levels": [{"label": "high", "m": 0.6, "u": 0.1}, {"label": "mid", "m": 0.3, "u": 0.3},
                                     {"label": "low", "m": 0.1, "u": 0.6}]},
    ],
    "training": {"prior_match_probability": 0.1, "rounds": 1, "mutual_best_match_share": 0.5,
                 "supervised": {"min_reviewed_pairs": 20, "min_each_class": 5, "reviewed_weight": 3}},
}
TRUE_M = {"date": [0.85, 0.12, 0.03], "place": [0.9, 0.1], "text": [0.8, 0.15, 0.05]}
TRUE_U = {"date": [0.05, 0.25, 0.7], "place": [0.1, 0.9], "text": [0.03, 0.17, 0.8]}


def synthetic(n: int = 20_000, share: float = 0.1, seed: int = 1, null_place: float = 0.2) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    match = rng.random(n) < share
    columns = {"report_key": [f"r{i}" for i in range(n)], "crime_key": [f"c{i}" for i in range(n)]}
    for name in TRUE_M:
        m, u = np.array(TRUE_M[name]), np.array(TRUE_U[name])
        levels = np.where(match, rng.choice(len(m), n, p=m), rng.choice(len(u), n, p=u))
        if name == "place":
            levels = np.where(rng.random(n) < null_place, -1, levels)
        columns[gamma(name)] = levels.astype(np.int8)
    return pl.DataFrame(columns).with_columns(pl.Series("y", match.astype(np.int64)))


def test_ecm_recovers_the_weights_and_the_match_share():
    vectors = synthetic()
    model = fit_ecm(vectors.drop("y"), SETTINGS)
    assert model.method == "ecm"
    prior = 2 ** model.base_weight / (1 + 2 ** model.base_weight)
    assert prior == pytest.approx(0.1, abs=0.03)
    for name in TRUE_M:
        for level, (m, u) in enumerate(zip(TRUE_M[name], TRUE_U[name], strict=True)):
            assert model.weight_of(name, level) == pytest.approx(math.log2(m / u), abs=1.0)


def test_null_level_weighs_nothing():
    model = fit_ecm(synthetic().drop("y"), SETTINGS)
    assert model.weight_of("place", -1) == 0.0


def test_scores_rank_matches_first():
    vectors = synthetic(5_000, seed=2)
    scored = score(vectors, fit_ecm(vectors.drop("y"), SETTINGS))
    top = scored.sort("match_probability", descending=True).head(int(vectors["y"].sum()))
    assert top["y"].mean() > 0.85


def test_supervised_needs_enough_reviewed_pairs_of_both_kinds():
    vectors = synthetic(3_000, seed=3)
    ecm = fit_ecm(vectors.drop("y"), SETTINGS)
    few = vectors.head(10).select("report_key", "crime_key", pl.col("y").alias("label"))
    assert fit_supervised(vectors.drop("y"), few, SETTINGS, ecm) is None
    one_sided = vectors.filter(pl.col("y") == 1).head(40).select("report_key", "crime_key", pl.col("y").alias("label"))
    assert fit_supervised(vectors.drop("y"), one_sided, SETTINGS, ecm) is None


def test_supervised_logistic_regression_learns_from_reviews():
    vectors = synthetic(3_000, seed=4)
    ecm = fit_ecm(vectors.drop("y"), SETTINGS)
    reviewed = vectors.sample(200, seed=5).select("report_key", "crime_key", pl.col("y").alias("label"))
    model = fit_supervised(vectors.drop("y"), reviewed, SETTINGS, ecm)
    assert model is not None and model.method == "logistic_regression"
    assert model.trained_on["reviewed_pairs"] == 200
    assert model.weight_of("text", 0) > model.weight_of("text", 2)
    assert model.weight_of("date", 0) > model.weight_of("date", 2)
    again = FittedModel.from_dict(model.to_dict())
    assert_frame_equal(score(vectors, again), score(vectors, model))


def test_evidence_lists_the_strongest_first():
    model = fit_ecm(synthetic().drop("y"), SETTINGS)
    items = evidence(model, {"date": 0, "place": 1, "text": 0})
    assert [name for name, _, _ in items][0] == "text"
    assert all(isinstance(label, str) for _, label, _ in items)


def test_too_few_pairs_fall_back_to_the_declared_priors():
    empty = synthetic(0)
    model = fit_ecm(empty.drop("y"), SETTINGS)
    assert model.method == "prior"
    assert model.weight_of("date", 0) == pytest.approx(math.log2(0.6 / 0.2))
    assert score(empty, model).height == 0


def test_a_null_level_common_among_one_kind_of_match_does_not_turn_its_other_levels_against_it():
    # Online pairs: no place (null) but agreeing on the channel, which only they have. EM must not
    # read "no place" as disagreement and learn that agreeing on the channel is evidence against a match.
    settings = {
        **SETTINGS,
        "comparisons": [
            *SETTINGS["comparisons"],
            {"name": "channel", "levels": [{"label": "same", "m": 0.5, "u": 0.5}, {"label": "different", "m": 0.5, "u": 0.5}]},
        ],
    }
    rng = np.random.default_rng(4)
    vectors = synthetic(seed=3, null_place=0.0)
    online = rng.random(vectors.height) < 0.3
    match = vectors["y"].to_numpy() == 1
    channel = np.where(online, np.where(match, 0, rng.choice(2, vectors.height, p=[0.1, 0.9])), -1)
    place = np.where(online, -1, vectors[gamma("place")].to_numpy())
    vectors = vectors.with_columns(
        pl.Series(gamma("place"), place, dtype=pl.Int8), pl.Series(gamma("channel"), channel, dtype=pl.Int8)
    )
    model = fit_ecm(vectors.drop("y"), settings)
    assert model.weight_of("channel", 0) > 2.0
    assert model.weight_of("channel", 1) < 0.0
    assert model.weight_of("place", 0) == pytest.approx(math.log2(0.9 / 0.1), abs=1.0)


def test_mutual_best_is_read_from_every_pair_of_a_report_and_of_a_group():
    # r1's best crime is c1; c2 is r1's second best but r2's best; c3 shares c1's incident group.
    vectors = pl.DataFrame(
        {"report_key": ["r1", "r1", "r2", "r2", "r1"], "crime_key": ["c1", "c2", "c2", "c1", "c3"],
         gamma("date"): [0, 1, 0, 0, 2], gamma("place"): [0, 0, 0, 1, 1], gamma("text"): [0, 1, 1, 2, 2]},
        schema_overrides={gamma(n): pl.Int8 for n in ("date", "place", "text")},
    )
    groups = pl.DataFrame({"crime_key": ["c1", "c2", "c3"], "police_incident_id": ["g1", "g2", "g1"]})
    best = mutual_best(vectors, prior_model(SETTINGS), groups)
    # every pair of the mutual-best edge (r1, g1) - c3 too -, and (r2, g2); not r1-c2 nor r2-c1
    assert best.to_list() == [True, False, True, False, True]
    # without groups each crime is its own: c3 is not r1's best
    assert mutual_best(vectors, prior_model(SETTINGS), None).to_list() == [True, False, True, False, False]


def test_em_on_a_sample_of_the_mutual_best_pairs_learns_what_em_on_all_of_them_does():
    vectors = synthetic(20_000, seed=6).drop("y")
    full = fit_ecm(vectors, SETTINGS)
    sampled = fit_ecm(vectors, SETTINGS, em_sample=3_000)
    assert sampled.trained_on["pairs"] == full.trained_on["pairs"] == vectors.height
    for name, levels in full.comparisons.items():
        for lw in levels:
            assert sampled.weight_of(name, lw.level) == pytest.approx(lw.weight, abs=0.75)


def test_em_on_a_sample_still_scores_a_level_the_sample_would_miss():
    vectors = synthetic(5_000, seed=7).drop("y")
    rare = vectors.with_columns(  # a level seen in one pair only
        pl.when(pl.int_range(pl.len()) == 17).then(pl.lit(2, pl.Int8)).otherwise(pl.col(gamma("place"))).alias(gamma("place"))
    )
    settings = {**SETTINGS, "comparisons": [
        *SETTINGS["comparisons"][:1],
        {"name": "place", "levels": [*SETTINGS["comparisons"][1]["levels"], {"label": "rare", "m": 0.01, "u": 0.01}]},
        *SETTINGS["comparisons"][2:],
    ]}
    model = fit_ecm(rare, settings, em_sample=500)
    assert 2 in {lw.level for lw in model.comparisons["place"]}
