"""Capture-recapture: incidents reported to neither CST nor the police (pure functions).

Two lists cover the same area and period: CST's incidents (n1) and the
force's (n2); m incidents are on both. Chapman's estimator of the whole
population, nearly unbiased once m >= 7 (Robson and Regier 1964):

    N = (n1 + 1)(n2 + 1) / (m + 1) - 1
    Var(N) = (n1 + 1)(n2 + 1)(n1 - m)(n2 - m) / ((m + 1)^2 (m + 2))

The 95% interval is the normal one, N +/- 1.96 sqrt(Var), its lower end
raised to the incidents actually seen (n1 + n2 - m): the population cannot be
smaller than what was counted. Incidents reported to neither are N minus
those seen.

The estimate assumes the two lists are independent (being reported to CST
does not change the chance of being reported to the police) and that every
incident has the same chance of being reported. Neither holds exactly:
victims are told to report to both (positive dependence, so N is too low),
and serious incidents are more often reported to both. Read it as an order
of magnitude with its interval, not a count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054
MIN_OVERLAP = 7  # below this Chapman's estimator is noticeably biased

INDEPENDENCE_CAVEAT = (
    "The estimate assumes that being reported to CST and being reported to the police are "
    "independent, and that every incident is equally likely to be reported. Neither is quite true: "
    "victims are often advised to report to both, which makes the overlap larger than chance and "
    "the estimate too low; serious incidents are reported more often to both. Treat it as an "
    "indication of scale with its 95% interval, not as a count."
)


@dataclass(frozen=True)
class ChapmanEstimate:
    n1: int
    n2: int
    m: int
    population: float  # N
    variance: float
    lower: float  # 95% interval of N, lower end >= observed
    upper: float
    z: float = Z_95

    @property
    def observed(self) -> int:
        """Incidents known to at least one list."""
        return self.n1 + self.n2 - self.m

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.variance)

    @property
    def unreported(self) -> float:
        """Estimated incidents known to neither list."""
        return self.population - self.observed

    @property
    def unreported_lower(self) -> float:
        return self.lower - self.observed

    @property
    def unreported_upper(self) -> float:
        return self.upper - self.observed


def chapman(n1: int, n2: int, m: int, z: float = Z_95) -> ChapmanEstimate:
    """Chapman's estimate of the population from two lists of sizes n1, n2 sharing m."""
    if min(n1, n2, m) < 0:
        raise ValueError("counts cannot be negative")
    if m > min(n1, n2):
        raise ValueError(f"the overlap m={m} cannot exceed either list (n1={n1}, n2={n2})")
    population = (n1 + 1) * (n2 + 1) / (m + 1) - 1
    variance = (n1 + 1) * (n2 + 1) * (n1 - m) * (n2 - m) / ((m + 1) ** 2 * (m + 2))
    half_width = z * math.sqrt(variance)
    observed = n1 + n2 - m
    return ChapmanEstimate(
        n1=n1,
        n2=n2,
        m=m,
        population=population,
        variance=variance,
        lower=max(float(observed), population - half_width),
        upper=population + half_width,
        z=z,
    )


def enough_data(n1: int, n2: int, m: int, min_overlap: int = MIN_OVERLAP) -> bool:
    """True when both lists are non-empty and share at least `min_overlap` incidents."""
    return n1 > 0 and n2 > 0 and m >= min_overlap
