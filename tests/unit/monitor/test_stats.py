"""Drift statistics against scipy, on shifted and unshifted samples, and their
false-alarm rate over repeated A/A draws."""

import numpy as np
import pytest
from modelrail.monitor.stats import (
    FeatureDrift,
    Grid,
    categorical_test,
    chi2_from_counts,
    numeric_test,
    psi,
)
from modelrail.multiple_testing import holm
from scipy import stats as scipy_stats

ALPHA = 0.05


def _numeric(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> FeatureDrift:
    grid = Grid.of(reference)
    counts = grid.count(current[: len(current) // 2]) + grid.count(current[len(current) // 2:])
    return numeric_test(grid, counts, bins=bins)


@pytest.mark.parametrize("shift", [0.0, 0.3])
@pytest.mark.parametrize("rounded", [False, True])
def test_ks_matches_scipy(shift: float, rounded: bool) -> None:
    rng = np.random.default_rng(7)
    reference = rng.normal(size=3000)
    current = rng.normal(loc=shift, size=5000)
    if rounded:  # ties on both sides, and current values between reference values
        reference, current = np.round(reference, 1), np.round(current, 2)
    result = _numeric(reference, current)
    expected = scipy_stats.ks_2samp(reference, current, method="asymp")
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert (result.p_value < 1e-6) == (shift > 0)


def test_ks_values_outside_the_reference_range() -> None:
    reference = np.array([1.0, 2.0, 3.0])
    current = np.array([-5.0, 0.5, 2.5, 9.0])
    result = _numeric(reference, current)
    assert result.statistic == pytest.approx(
        scipy_stats.ks_2samp(reference, current).statistic)
    assert result.current_n == 4


def _psi_by_hand(reference: np.ndarray, current: np.ndarray, bins: int) -> float:
    edges = np.unique(np.quantile(reference, np.arange(1, bins) / bins, method="inverted_cdf"))
    edges = edges[edges < reference.max()]
    ref = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=len(edges) + 1)
    cur = np.bincount(np.searchsorted(edges, current, side="left"), minlength=len(edges) + 1)
    r = np.maximum(ref / ref.sum(), 1e-4)
    c = np.maximum(cur / cur.sum(), 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))


@pytest.mark.parametrize(("shift", "low", "high"), [(0.0, 0.0, 0.02), (1.0, 0.5, 5.0)])
def test_psi_quantile_bins(shift: float, low: float, high: float) -> None:
    rng = np.random.default_rng(11)
    reference = rng.normal(size=4000)
    current = rng.normal(loc=shift, size=4000)
    result = _numeric(reference, current)
    assert result.psi == pytest.approx(_psi_by_hand(reference, current, 10), rel=1e-9)
    assert low <= result.psi <= high


def test_psi_with_heavy_ties_merges_bins() -> None:
    reference = np.array([0.0] * 70 + [1.0] * 20 + [2.0] * 10)
    current = np.array([0.0] * 20 + [1.0] * 20 + [2.0] * 60)
    result = _numeric(reference, current)
    assert result.psi == pytest.approx(_psi_by_hand(reference, current, 10), rel=1e-9)


def test_psi_epsilon_keeps_an_empty_bin_finite() -> None:
    value = psi([50, 50, 0], [40, 40, 20])
    assert np.isfinite(value)
    assert value == pytest.approx(2 * (0.4 - 0.5) * np.log(0.8) + (0.2 - 1e-4) * np.log(0.2 / 1e-4))


@pytest.mark.parametrize("shifted", [False, True])
def test_chi2_matches_scipy(shifted: bool) -> None:
    rng = np.random.default_rng(3)
    reference = rng.choice(["a", "b", "c", "d"], p=[0.4, 0.3, 0.2, 0.1], size=3000)
    weights = [0.25, 0.25, 0.25, 0.25] if shifted else [0.4, 0.3, 0.2, 0.1]
    current = rng.choice(["a", "b", "c", "d"], p=weights, size=2000)
    ref = dict(zip(*np.unique(reference, return_counts=True), strict=True))
    cur = dict(zip(*np.unique(current, return_counts=True), strict=True))
    result = categorical_test(ref, cur)
    table = np.array([[ref[k] for k in "abcd"], [cur[k] for k in "abcd"]])
    expected = scipy_stats.chi2_contingency(table, correction=False)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert (result.p_value < 1e-6) == shifted


def test_chi2_new_category_in_current() -> None:
    statistic, p = chi2_from_counts([10, 10, 0], [10, 10, 10])
    expected = scipy_stats.chi2_contingency([[10, 10, 0], [10, 10, 10]], correction=False)
    assert statistic == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue)


def test_holm_matches_definition() -> None:
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.9, 0.9]) == [1.0, 1.0]
    assert holm([0.6, 0.01]) == [0.6, 0.02]


def test_aa_false_alarm_rate_at_the_configured_level() -> None:
    """Over A/A draws, single tests reject at ≈ alpha and Holm keeps the family-wise rate
    at or below alpha (binomial 3-sigma slack on 400 draws)."""
    rng = np.random.default_rng(20261127)
    draws, features = 400, 4
    single = family = 0
    for _ in range(draws):
        p_values = []
        for _feature in range(features - 1):
            reference = rng.normal(size=800)
            p_values.append(_numeric(reference, rng.normal(size=800)).p_value)
        categories = rng.multinomial(800, [0.5, 0.3, 0.2]), rng.multinomial(800, [0.5, 0.3, 0.2])
        p_values.append(categorical_test(dict(zip("abc", categories[0].tolist(), strict=True)),
                                         dict(zip("abc", categories[1].tolist(),
                                                  strict=True))).p_value)
        single += sum(p < ALPHA for p in p_values)
        family += any(p < ALPHA for p in holm(p_values))
    slack = 3 * np.sqrt(ALPHA * (1 - ALPHA) / draws)
    assert single / (draws * features) <= ALPHA + slack / 2
    assert single / (draws * features) >= ALPHA / 3  # the tests are not vacuous
    assert family / draws <= ALPHA + slack
