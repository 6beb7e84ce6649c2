"""recordlinkage's ECM kernel with an informed start and neutral nulls (see `linkage_model.fit_ecm`).

A module of its own so that only fitting imports recordlinkage (and scikit-learn, pandas).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from recordlinkage.algorithms.nb_sklearn import ECM

from transforms.linkage_compare import NULL_LEVEL
from transforms.linkage_model import _FLOOR


class InformedECM(ECM):
    """recordlinkage's ECM kernel, started from the settings' m/u priors, nulls neutral.

    A null level (missing on either side) stays a category of its own, but the
    E-step gives it no weight in either class, as scoring does (Splink's
    treatment of nulls): an online crime has no postcode or street, and
    counting that as disagreement made EM call most online pairs non-matches
    (and learn that agreeing on the platform, seen only online, is evidence
    against a match).
    """

    def __init__(self, start: Sequence[Mapping[int, tuple[float, float]]], prior: float, **kwargs) -> None:
        super().__init__(init="jaro", binarize=None, **kwargs)
        self._start = start
        self._prior = prior
        self._null_columns: list[int] = []

    def _init_parameters_jaro(self, X_bin):  # noqa: N803 - recordlinkage's signature
        columns: list[tuple[float, float]] = []
        self._null_columns = []
        for binarizer, start in zip(self._binarizers, self._start, strict=True):
            classes = [int(c) for c in binarizer.classes_]
            pairs = [start.get(c, (0.3, 0.3)) for c in classes]
            m_total = sum(m for m, _ in pairs) or 1.0
            u_total = sum(u for _, u in pairs) or 1.0
            scaled = [(max(m / m_total, _FLOOR), max(u / u_total, _FLOOR)) for m, u in pairs]
            # recordlinkage encodes a 1-class column as one indicator and a
            # 2-class column as two: the same layout as classes here, except 1 class.
            if NULL_LEVEL in classes and len(classes) > 1:
                self._null_columns.append(len(columns) + classes.index(NULL_LEVEL))
            columns.extend(scaled)
        feature_prob = np.array([[u for _, u in columns], [m for m, _ in columns]])
        return np.log([1.0 - self._prior, self._prior]), np.log(feature_prob)

    def _joint_log_likelihood(self, X):  # noqa: N803 - recordlinkage's signature
        # A level whose probability reached 0 in one class gives log 0 = -inf,
        # and 0 * -inf = NaN in recordlinkage's dot product: floor it instead.
        self.feature_log_prob_ = np.maximum(self.feature_log_prob_, math.log(_FLOOR))
        fitted = self.feature_log_prob_
        neutral = fitted.copy()
        neutral[:, self._null_columns] = 0.0  # log 1: a null level says nothing either way
        self.feature_log_prob_ = neutral
        try:
            return super()._joint_log_likelihood(X)
        finally:
            self.feature_log_prob_ = fitted
