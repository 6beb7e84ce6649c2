"""The classifier: recordlinkage's ECM (unsupervised) or logistic regression (supervised).

recordlinkage does what it is good at here: fitting. `ECMClassifier` runs the
Fellegi-Sunter EM on the categorical comparison vectors (each comparison one
categorical feature, its levels binarised by recordlinkage's kernel), started
from the m/u priors of the settings file instead of its fixed 'jaro' start
(which only accepts binary features and can lock onto the wrong class).
`LogisticRegressionClassifier` takes over once analysts have reviewed enough
pairs: reviewed pairs (weighted) plus the ECM model's confident extremes as
labels.

Either fit becomes one additive table: a base weight plus a weight per
(comparison, level), in bits (log2 odds). Scoring a pair is a lookup and a
sum in Polars, so a night's new pairs are scored with the stored parameters
without refitting, and the parameters stored with each run reproduce every
probability. Null levels (-1: missing on either side) weigh 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from transforms.linkage_compare import NULL_LEVEL, gamma

if TYPE_CHECKING:
    from recordlinkage.algorithms.nb_sklearn import ECM

# recordlinkage (with scikit-learn and pandas) is imported where a model is fitted, not here:
# a normal night only scores with the stored model, and the import costs it 1.2 s.

_FLOOR = 1e-6


@dataclass
class LevelWeight:
    level: int
    label: str
    weight: float  # bits: log2 (m / u), or the logistic coefficient / ln 2
    m: float | None = None
    u: float | None = None


@dataclass
class FittedModel:
    """Additive match weights; `to_dict()` is what link_model_runs stores."""

    method: str
    base_weight: float
    comparisons: dict[str, list[LevelWeight]]
    iterations: int = 0
    trained_on: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "base_weight": self.base_weight,
            "iterations": self.iterations,
            "trained_on": self.trained_on,
            "comparisons": {name: [asdict(lw) for lw in levels] for name, levels in self.comparisons.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> FittedModel:
        return cls(
            method=data["method"],
            base_weight=float(data["base_weight"]),
            iterations=int(data.get("iterations", 0)),
            trained_on=dict(data.get("trained_on", {})),
            comparisons={
                name: [LevelWeight(**lw) for lw in levels] for name, levels in data["comparisons"].items()
            },
        )

    def weight_of(self, name: str, level: int) -> float:
        for lw in self.comparisons.get(name, []):
            if lw.level == level:
                return lw.weight
        return 0.0


def _comparison_names(settings: Mapping) -> list[str]:
    return [c["name"] for c in settings["comparisons"]]


def _labels(settings: Mapping) -> dict[str, dict[int, str]]:
    return {
        c["name"]: {index: level["label"] for index, level in enumerate(c["levels"])} | {NULL_LEVEL: "null"}
        for c in settings["comparisons"]
    }


def _matrix(vectors: pl.DataFrame, names: Sequence[str]) -> np.ndarray:
    return vectors.select([pl.col(gamma(n)).cast(pl.Int16) for n in names]).to_numpy()


def _level_weights(
    settings: Mapping, vectors: pl.DataFrame, posterior: np.ndarray
) -> dict[str, list[LevelWeight]]:
    """m/u of every level of every comparison from a match posterior (one M-step).

    m = share of the expected matches at the level, u = share of the expected
    non-matches; the null level gets weight 0 (missing is not disagreement).
    """
    training = settings.get("training", {})
    labels = _labels(settings)
    matches = max(float(posterior.sum()), _FLOOR)
    non_matches = max(float((1 - posterior).sum()), _FLOOR)
    comparisons: dict[str, list[LevelWeight]] = {}
    for comparison in settings["comparisons"]:
        name = comparison["name"]
        values = vectors.get_column(gamma(name)).to_numpy()
        present = set(values.tolist()) | set(range(len(comparison["levels"])))
        levels = []
        for level in sorted(present):
            hit = values == level
            m = float((posterior * hit).sum()) / matches
            u = float(((1 - posterior) * hit).sum()) / non_matches
            if level == NULL_LEVEL and training.get("neutral_null_levels", True):
                weight = 0.0
            else:
                weight = math.log2(max(m, _FLOOR) / max(u, _FLOOR))
            levels.append(LevelWeight(int(level), labels[name].get(int(level), str(level)), weight, m, u))
        comparisons[name] = levels
    return comparisons


def prior_model(settings: Mapping) -> FittedModel:
    """The settings' declared m/u priors as a model (the starting point of training)."""
    labels = _labels(settings)
    prior = float(settings.get("training", {}).get("prior_match_probability", 0.05))
    comparisons = {}
    for comparison in settings["comparisons"]:
        name = comparison["name"]
        levels = [LevelWeight(NULL_LEVEL, "null", 0.0, None, None)]
        for index, level in enumerate(comparison["levels"]):
            m, u = float(level["m"]), float(level["u"])
            levels.append(LevelWeight(index, labels[name][index], math.log2(max(m, _FLOOR) / max(u, _FLOOR)), m, u))
        comparisons[name] = levels
    return FittedModel("prior", math.log2(prior / (1 - prior)), comparisons)


def with_priors_for_unobserved(model: FittedModel, vectors: pl.DataFrame, settings: Mapping) -> FittedModel:
    """`model` with the settings' prior weights for every comparison no training pair observed.

    A comparison that is null on every pair (its columns empty in the warehouse:
    identity tokens before any extract carried them) trains to weight 0 on all
    its levels; its priors let it count once records carry it, until the next
    full re-link learns it from them.
    """
    prior = prior_model(settings)
    unobserved = [
        name for name in model.comparisons
        if gamma(name) in vectors.columns and not (vectors.get_column(gamma(name)) != NULL_LEVEL).any()
    ]
    if not unobserved or vectors.is_empty():
        return model
    comparisons = {name: prior.comparisons[name] if name in unobserved else levels
                   for name, levels in model.comparisons.items()}
    trained_on = {**model.trained_on, "priors_for_unobserved": unobserved}
    return FittedModel(model.method, model.base_weight, comparisons, model.iterations, trained_on)


def mutual_best(vectors: pl.DataFrame, model: FittedModel, groups: pl.DataFrame | None) -> pl.Series:
    """Per pair (aligned with `vectors`): is its (report, incident group) edge both the report's
    best group and the group's best report?

    An edge's weight is its best pair's, and the best edge of a report (or group)
    is its best pair's: so an edge is mutual-best exactly when one of its pairs
    weighs both its report's best and its group's best. Needs every candidate
    pair: on a random sample of pairs a report's true match is often missing,
    and its best look-alike is taken for a match.
    """
    # 64-bit hashes of the keys, not tens of millions of 64-character strings (a collision
    # among a million keys is a one-in-10^7 chance, and would only move one pair in or out
    # of the training subset). Maxima per report and per group, not windows over every pair,
    # and no group-by on (report, group): at 17M pairs those took 3.7 GB, this about 1 GB.
    keyed = vectors.select(
        _weight(model, vectors.columns).alias("match_weight"),
        pl.col("report_key").hash().alias("report"),
        pl.col("crime_key").hash().alias("crime"),
    )
    group = pl.col("crime")
    if groups is not None:
        group_of = groups.select(
            pl.col("crime_key").hash().alias("crime"), pl.col("police_incident_id").hash().alias("group")
        ).unique("crime")  # a crime is in one group; unique so a hash collision cannot stop the run
        group = group.replace_strict(group_of["crime"], group_of["group"], default=pl.col("crime"))
    keyed = keyed.select("match_weight", "report", group.alias("group"))
    weight = pl.col("match_weight")
    edge = pl.struct("report", "group").hash()
    mutual_edges = (
        keyed.join(keyed.group_by("report").agg(weight.max().alias("report_best")), on="report")
        .filter(weight == pl.col("report_best"))
        .join(keyed.group_by("group").agg(weight.max().alias("group_best")), on="group")
        .filter(weight == pl.col("group_best"))
        .select(edge.unique())
        .to_series()
    )
    return keyed.select(edge.is_in(mutual_edges.implode()).alias("mutual_best")).to_series()


def _em_columns(settings: Mapping, include_aux: bool = False) -> tuple[list[dict], list[pl.Expr]]:
    em_settings = [c for c in settings["comparisons"] if c.get("em", True) or include_aux]
    columns = []
    for comparison in em_settings:
        column = pl.col(gamma(comparison["name"]))
        if "em_null_level" in comparison:  # nulls count as this level in EM (else they are neutral)
            column = column.replace(NULL_LEVEL, int(comparison["em_null_level"]))
        columns.append(column.cast(pl.Int16))
    return em_settings, columns


def _kernel_parameters(kernel: ECM) -> list[dict[int, tuple[float, float]]]:
    """Per comparison column: level -> (m, u) of a fitted recordlinkage ECM kernel."""
    log_prob = np.maximum(kernel.feature_log_prob_, math.log(_FLOOR))
    out, offset = [], 0
    for binarizer in kernel._binarizers:
        classes = [int(c) for c in binarizer.classes_]
        if len(classes) == 1:
            out.append({classes[0]: (1.0, 1.0)})
            offset += 1
            continue
        out.append(
            {level: (float(np.exp(log_prob[1, offset + i])), float(np.exp(log_prob[0, offset + i])))
             for i, level in enumerate(classes)}
        )
        offset += len(classes)
    return out


def _sample_rows(X: np.ndarray, size: int, seed: int) -> np.ndarray | None:  # noqa: N803
    """`size` random row numbers of X (sorted), plus a row of every level of every column.

    recordlinkage's kernel learns each column's levels from the rows it is
    fitted on, and can only score rows whose levels it has seen.
    """
    if X.shape[0] <= size:
        return None
    rows = np.random.default_rng(seed).choice(X.shape[0], size, replace=False)
    firsts = [np.unique(X[:, j], return_index=True)[1] for j in range(X.shape[1])]
    return np.unique(np.concatenate([rows, *firsts]))


def _run_ecm(
    X: np.ndarray, names: list[str], start: list[dict[int, tuple[float, float]]], prior: float, settings: Mapping
) -> ECM:
    import pandas as pd
    import recordlinkage as rl

    from transforms.linkage_ecm import InformedECM

    training = settings.get("training", {})
    classifier = rl.ECMClassifier(use_col_names=False)
    classifier.kernel = InformedECM(
        start, prior, max_iter=int(training.get("max_iterations", 60)), atol=float(training.get("tolerance", 1e-5))
    )
    classifier.fit(pd.DataFrame(X, columns=names))
    return classifier.kernel


def _em_posterior(
    vectors: pl.DataFrame,
    settings: Mapping,
    prior: float,
    outside: pl.DataFrame | None = None,
    fit_sample: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, int]:
    """recordlinkage's ECMClassifier on `vectors`; the match posterior of each row and the iterations.

    Starts from the settings' m and, when `outside` (pairs known to be almost
    all non-matches) is given, from its level shares as u. Comparisons marked
    `"em": false` (report-level attributes, which EM would use to split the
    pairs by report) join in a second ECM run started from the first run's
    fit, so they can sharpen the match class but no longer define it.
    With `fit_sample` the EM runs on that many rows only (see `_sample_rows`)
    and the fitted kernel gives the posterior of every row.
    """
    em_settings, columns = _em_columns(settings)
    names = [c["name"] for c in em_settings]
    start = []
    outside_levels = outside.select(columns) if outside is not None and outside.height else None
    for position, comparison in enumerate(em_settings):
        levels = {index: (float(level["m"]), float(level["u"])) for index, level in enumerate(comparison["levels"])}
        if outside_levels is not None:
            counts = outside_levels.get_column(outside_levels.columns[position]).value_counts()
            total = float(outside_levels.height)
            shares = dict(zip(counts[:, 0].to_list(), (counts[:, 1] / total).to_list(), strict=True))
            levels = {index: (m, max(shares.get(index, 0.0), _FLOOR)) for index, (m, _) in levels.items()}
        start.append(levels)
    X = vectors.select(columns).to_numpy()
    all_settings, all_columns = _em_columns(settings, include_aux=True)
    X_all = vectors.select(all_columns).to_numpy()
    fit_rows = _sample_rows(X_all, fit_sample, seed) if fit_sample else None
    kernel = _run_ecm(X if fit_rows is None else X[fit_rows], names, start, prior, settings)
    posterior = kernel.predict_proba(X)[:, 1]
    iterations = int(kernel._logging_class_log_prior.shape[0] - 1)
    aux_settings = [c for c in settings["comparisons"] if not c.get("em", True)]
    if not aux_settings:
        return posterior, iterations
    fitted = dict(zip(names, _kernel_parameters(kernel), strict=True))
    second_start = []
    for position, comparison in enumerate(all_settings):
        if comparison["name"] in fitted:
            second_start.append(fitted[comparison["name"]])
            continue
        values = X_all[:, position]
        matches, non_matches = max(posterior.sum(), _FLOOR), max((1 - posterior).sum(), _FLOOR)
        second_start.append(
            {int(level): (max(float((posterior * (values == level)).sum() / matches), _FLOOR),
                          max(float(((1 - posterior) * (values == level)).sum() / non_matches), _FLOOR))
             for level in np.unique(values)}
        )
    kernel = _run_ecm(
        X_all if fit_rows is None else X_all[fit_rows],
        [c["name"] for c in all_settings],
        second_start,
        float(np.exp(kernel.class_log_prior_[1])),
        settings,
    )
    return kernel.predict_proba(X_all)[:, 1], iterations + int(kernel._logging_class_log_prior.shape[0] - 1)


def fit_ecm(
    vectors: pl.DataFrame,
    settings: Mapping,
    groups: pl.DataFrame | None = None,
    em_sample: int | None = None,
    seed: int = 0,
) -> FittedModel:
    """Fellegi-Sunter weights with recordlinkage's ECMClassifier at the core.

    EM on every candidate pair drifts: look-alikes (the same kind of incident
    at the same place a few days apart) agree on much and form a cluster of
    their own, which EM happily calls matches. So, in `training.rounds` rounds:

    1. score the pairs with the current model (first: the settings' priors)
       and keep the mutual-best edges: the report's best incident group that
       also has the report as its best - where almost every match is;
    2. run recordlinkage's ECMClassifier there (informed start; a null level
       weighs nothing in the E-step, see `linkage_ecm.InformedECM`, unless the comparison
       names an `em_null_level` to count its nulls as);
    3. m of every level (full resolution, nulls apart) from the EM posterior,
       M = expected matches; u of every level from all candidate pairs with
       the expected matches taken out: u_k = (n_k - M m_k) / (N - M);
       the prior is M / N. Null levels weigh 0.

    Steps 1 and 3 read every candidate pair (window maxima and level counts:
    cheap); only the EM itself runs on a sample of `em_sample` mutual-best
    pairs (`training.em_sample_pairs`), the fitted kernel then scoring them all.
    Sampling the candidate pairs instead broke step 1: a sampled report often
    lacks its true match, so its best look-alike became a mutual-best
    'match' and EM learnt look-alikes (F1 0.97 -> 0.12 at a million records).
    """
    training = settings.get("training", {})
    em_sample = int(em_sample or training.get("em_sample_pairs", 250_000))
    model = prior_model(settings)
    if vectors.height < int(training.get("min_pairs", 50)):
        # too few candidate pairs to learn from (a first delivery, one source only): the declared priors
        model.trained_on = {"pairs": vectors.height, "note": "too few candidate pairs: settings priors used"}
        return model
    rounds = max(1, int(training.get("rounds", 2)))
    iterations = 0
    subset_size = 0
    labels = _labels(settings)
    gammas = [c for c in vectors.columns if c.startswith("gamma_")]
    for _ in range(rounds):
        best = mutual_best(vectors, model, groups)
        if best.sum() < 10:
            best = pl.Series("mutual_best", [True] * vectors.height)
        subset = vectors.select(gammas).filter(best)
        subset_size = subset.height
        posterior, iterations = _em_posterior(
            subset,
            settings,
            prior=float(training.get("mutual_best_match_share", 0.7)),
            outside=vectors.select(gammas).filter(~best),
            fit_sample=em_sample,
            seed=seed,
        )
        matches = max(float(posterior.sum()), 1.0)
        total = float(vectors.height)
        non_matches = max(total - matches, 1.0)
        comparisons: dict[str, list[LevelWeight]] = {}
        for comparison in settings["comparisons"]:
            name = comparison["name"]
            sub_values = subset.get_column(gamma(name)).to_numpy()
            all_values = vectors.get_column(gamma(name)).to_numpy()
            present = {int(v) for v in np.unique(all_values)} | set(range(len(comparison["levels"])))
            levels = []
            for level in sorted(present):
                m = float((posterior * (sub_values == level)).sum()) / matches
                n_level = float((all_values == level).sum())
                u = max(n_level - matches * m, _FLOOR * non_matches) / non_matches
                if level == NULL_LEVEL and training.get("neutral_null_levels", True):
                    weight = 0.0
                else:
                    weight = math.log2(max(m, _FLOOR) / max(u, _FLOOR))
                levels.append(LevelWeight(int(level), labels[name].get(int(level), str(level)), weight, m, u))
            comparisons[name] = levels
        prior = min(max(matches / total, 1e-6), 1 - 1e-6)
        model = FittedModel(
            method="ecm",
            base_weight=math.log2(prior / (1 - prior)),
            comparisons=comparisons,
            iterations=iterations,
            trained_on={"pairs": int(total), "em_pairs": subset_size, "expected_matches": matches, "match_prior": prior},
        )
    return model


def _one_hot(vectors: pl.DataFrame, columns: Sequence[tuple[str, int]]) -> np.ndarray:
    return np.column_stack(
        [(vectors.get_column(gamma(name)) == level).cast(pl.Int8).to_numpy() for name, level in columns]
    ) if columns else np.zeros((vectors.height, 0), dtype=np.int8)


def fit_supervised(
    vectors: pl.DataFrame,
    labelled: pl.DataFrame,
    settings: Mapping,
    unsupervised: FittedModel,
    sample: int = 200_000,
    seed: int = 0,
) -> FittedModel | None:
    """Logistic regression (recordlinkage) on reviewed pairs plus the ECM model's confident extremes.

    `labelled` has report_key, crime_key, label (1 = accept, 0 = reject). Returns
    None when there are too few reviewed pairs of either class.
    """
    import pandas as pd
    import recordlinkage as rl

    options = settings.get("training", {}).get("supervised", {})
    reviewed = vectors.join(labelled, on=["report_key", "crime_key"], how="inner")
    positives = int(reviewed["label"].sum()) if reviewed.height else 0
    negatives = reviewed.height - positives
    if reviewed.height < int(options.get("min_reviewed_pairs", 30)) or min(positives, negatives) < int(
        options.get("min_each_class", 5)
    ):
        return None
    names = _comparison_names(settings)
    parts = [pl.concat([reviewed] * int(options.get("reviewed_weight", 5)))]
    if options.get("confident_labels_from_model", True):
        scored = score(vectors.join(labelled, on=["report_key", "crime_key"], how="anti"), unsupervised)
        confident = scored.filter((pl.col("match_probability") >= 0.99) | (pl.col("match_probability") <= 0.01))
        if confident.height > sample:
            confident = confident.sample(sample, seed=seed)
        parts.append(
            confident.with_columns((pl.col("match_probability") >= 0.5).cast(pl.Int64).alias("label")).select(
                reviewed.columns
            )
        )
    training = pl.concat(parts, how="vertical_relaxed")
    columns = [
        (name, level)
        for name in names
        for level in sorted(training.get_column(gamma(name)).unique().to_list())
    ]
    features = pd.DataFrame(
        _one_hot(training, columns),
        index=pd.MultiIndex.from_arrays([np.arange(training.height), np.arange(training.height)]),
    )
    truth = features.index[training["label"].to_numpy() == 1]
    classifier = rl.LogisticRegressionClassifier(C=float(options.get("C", 1.0)), max_iter=1000)
    classifier.fit(features, truth)
    coefficients = np.asarray(classifier.coefficients).ravel()
    labels = _labels(settings)
    comparisons: dict[str, list[LevelWeight]] = {name: [] for name in names}
    for (name, level), coefficient in zip(columns, coefficients, strict=True):
        comparisons[name].append(
            LevelWeight(level, labels[name].get(level, str(level)), float(coefficient) / math.log(2))
        )
    return FittedModel(
        method="logistic_regression",
        base_weight=float(np.asarray(classifier.intercept).ravel()[0]) / math.log(2),
        comparisons=comparisons,
        trained_on={
            "reviewed_pairs": reviewed.height,
            "reviewed_accepts": positives,
            "reviewed_rejects": negatives,
            "pseudo_labelled_pairs": training.height - reviewed.height * int(options.get("reviewed_weight", 5)),
        },
    )


def weight_table(model: FittedModel) -> pl.DataFrame:
    """(comparison, level, weight) rows of a fitted model."""
    rows = [
        (name, lw.level, lw.weight) for name, levels in model.comparisons.items() for lw in levels
    ]
    return pl.DataFrame(rows, schema={"comparison": pl.String, "level": pl.Int8, "weight": pl.Float64}, orient="row")


def _weight(model: FittedModel, columns: Sequence[str]) -> pl.Expr:
    """The match weight (bits) of a comparison vector: the prior's plus each level's."""
    total = pl.lit(model.base_weight)
    for name, levels in model.comparisons.items():
        if gamma(name) not in columns:
            continue
        mapping = {lw.level: lw.weight for lw in levels}
        total = total + pl.col(gamma(name)).replace_strict(mapping, default=0.0, return_dtype=pl.Float64)
    return total


def score(vectors: pl.DataFrame, model: FittedModel) -> pl.DataFrame:
    """Adds match_weight (bits) and match_probability to comparison vectors."""
    return vectors.with_columns(_weight(model, vectors.columns).alias("match_weight")).with_columns(
        (1.0 / (1.0 + (2.0 ** (-pl.col("match_weight"))))).alias("match_probability")
    )


def evidence(model: FittedModel, levels: Mapping[str, int]) -> list[tuple[str, str, float]]:
    """(comparison, level label, weight) for one pair, strongest evidence first (for reviewers)."""
    out = []
    for name, level in levels.items():
        for lw in model.comparisons.get(name, []):
            if lw.level == level:
                out.append((name, lw.label, lw.weight))
    return sorted(out, key=lambda item: -abs(item[2]))
