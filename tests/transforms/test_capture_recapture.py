"""Chapman's estimator against cases worked out by hand."""

from __future__ import annotations

import math

import pytest

from transforms.capture_recapture import MIN_OVERLAP, Z_95, chapman, enough_data


def test_chapman_matches_a_hand_computed_case() -> None:
    # n1 = 100 CST incidents, n2 = 80 police incidents, m = 40 on both.
    # N   = (101 x 81) / 41 - 1             = 8181 / 41 - 1          = 198.5366
    # Var = (101 x 81 x 60 x 40) / (41^2 x 42) = 19,634,400 / 70,602  = 278.0998
    # SE  = 16.6763; 95% interval 198.5366 +/- 1.96 x 16.6763          = 165.85 to 231.22
    # seen = 100 + 80 - 40 = 140, reported to neither = 58.54 (25.85 to 91.22)
    est = chapman(100, 80, 40)
    assert est.population == pytest.approx(8181 / 41 - 1)
    assert est.population == pytest.approx(198.5366, abs=1e-4)
    assert est.variance == pytest.approx(19_634_400 / 70_602)
    assert est.variance == pytest.approx(278.0998, abs=1e-4)
    assert est.standard_error == pytest.approx(16.6763, abs=1e-4)
    assert est.lower == pytest.approx(165.85, abs=0.01)
    assert est.upper == pytest.approx(231.22, abs=0.01)
    assert est.observed == 140
    assert est.unreported == pytest.approx(58.54, abs=0.01)
    assert (est.unreported_lower, est.unreported_upper) == (pytest.approx(25.85, abs=0.01), pytest.approx(91.22, abs=0.01))


def test_lower_end_is_never_below_the_incidents_seen() -> None:
    # n1 = 10, n2 = 8, m = 2: N = 11 x 9 / 3 - 1 = 32, Var = 11 x 9 x 8 x 6 / (9 x 4) = 132,
    # 32 - 1.96 x 11.49 = 9.5 < 16 seen, so the interval starts at 16.
    est = chapman(10, 8, 2)
    assert est.population == pytest.approx(32.0)
    assert est.variance == pytest.approx(132.0)
    assert est.lower == 16.0
    assert est.upper == pytest.approx(32 + Z_95 * math.sqrt(132))


def test_complete_overlap_has_no_variance() -> None:
    est = chapman(50, 50, 50)
    assert est.population == pytest.approx(50.0)
    assert est.variance == 0.0
    assert est.unreported == pytest.approx(0.0)


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        chapman(5, 10, 6)
    with pytest.raises(ValueError):
        chapman(-1, 10, 0)


def test_enough_data_needs_the_overlap() -> None:
    assert enough_data(100, 80, MIN_OVERLAP)
    assert not enough_data(100, 80, MIN_OVERLAP - 1)
    assert not enough_data(0, 80, 0)
