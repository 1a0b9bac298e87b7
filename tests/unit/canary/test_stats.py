"""The judge's statistics against scipy: exact tails, rank test, interval, spending."""

import math

import numpy as np
import pytest
from modelrail.canary.stats import (
    Stratum,
    conditional_rate_test,
    fisher_exact,
    mann_whitney,
    normal_quantile,
    normal_sf,
    spent_alpha,
    wilson_interval,
)
from scipy import stats


def null_pmf(strata: list[Stratum], ratio: float) -> np.ndarray:
    """The canary's event count given each stratum's events, convolved with numpy."""
    pmf = np.array([1.0])
    for s in strata:
        n = s.canary_events + s.baseline_events
        share = ratio * s.canary_total / (ratio * s.canary_total + s.baseline_total)
        pmf = np.convolve(pmf, stats.binom.pmf(np.arange(n + 1), n, share))
    return pmf


def random_strata(rng: np.random.Generator, scale: int) -> list[Stratum]:
    return [Stratum(int(rng.integers(0, scale)), float(rng.integers(1, 3000)),
                    int(rng.integers(0, 2 * scale)), float(rng.integers(1, 9000)))
            for _ in range(int(rng.integers(1, 5)))]


@pytest.mark.parametrize("seed", range(25))
def test_exact_tails_match_a_scipy_convolution(seed: int) -> None:
    rng = np.random.default_rng(seed)
    strata = random_strata(rng, 40)
    ratio = float(rng.choice([1.0, 1.25, 0.8]))
    pmf = null_pmf(strata, ratio)
    observed = sum(s.canary_events for s in strata)

    upper = conditional_rate_test(strata, ratio, "upper")
    lower = conditional_rate_test(strata, ratio, "lower")

    assert upper.method == lower.method == "exact"
    assert upper.observed == observed
    assert upper.p_value == pytest.approx(pmf[observed:].sum(), rel=1e-9, abs=1e-13)
    assert lower.p_value == pytest.approx(pmf[:observed + 1].sum(), rel=1e-9, abs=1e-13)
    assert upper.expected == pytest.approx(float(np.dot(np.arange(len(pmf)), pmf)))


def test_one_stratum_is_scipys_binomial_test() -> None:
    stratum = Stratum(24, 1200.0, 108, 10800.0)  # 2% vs 1%: 24 of 132 events

    result = conditional_rate_test([stratum], 1.0, "upper")

    assert result.p_value == pytest.approx(
        stats.binomtest(24, 132, 0.1, alternative="greater").pvalue, rel=1e-12)


def test_allowed_ratio_moves_the_null() -> None:
    stratum = Stratum(30, 1000.0, 100, 5000.0)  # canary rate 1.5x the baseline's

    assert conditional_rate_test([stratum], 1.0, "upper").p_value < 0.05
    assert conditional_rate_test([stratum], 1.5, "upper").p_value == pytest.approx(
        stats.binomtest(30, 130, 1500 / 6500, alternative="greater").pvalue)


def test_large_counts_use_the_corrected_normal_approximation() -> None:
    strata = [Stratum(2200, 1e5, 19100, 9e5), Stratum(5440, 2.5e5, 15660, 7.5e5)]
    pmf = null_pmf(strata, 1.0)
    observed = 7640  # 3 standard deviations above the 7405 expected

    result = conditional_rate_test(strata, 1.0, "upper")

    assert result.method == "normal"
    assert result.p_value == pytest.approx(pmf[observed:].sum(), rel=0.01)
    assert 1e-4 < result.p_value < 0.05
    lower = conditional_rate_test(strata, 1.0, "lower")
    assert lower.p_value == pytest.approx(pmf[:observed + 1].sum(), rel=0.01)


def test_a_window_without_baseline_traffic_is_left_out() -> None:
    step = Stratum(10, 1000.0, 90, 9000.0)

    with_full_step = conditional_rate_test([step, Stratum(500, 20000.0, 0, 0.0)], 1.0, "upper")

    assert with_full_step == conditional_rate_test([step], 1.0, "upper")


def test_strata_keep_a_shared_change_between_steps_from_looking_like_the_canary() -> None:
    """Both versions go from 1% to 3% errors while the canary's share grows: pooled
    counts make the canary look 56% worse, the steps show it is identical."""
    steps = [Stratum(10, 1000.0, 90, 9000.0), Stratum(150, 5000.0, 150, 5000.0)]
    pooled = Stratum(160, 6000.0, 240, 14000.0)

    assert conditional_rate_test([pooled], 1.0, "upper").p_value < 1e-4
    assert conditional_rate_test(steps, 1.0, "upper").p_value > 0.3


def mw_samples(seed: int, ties: bool) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    canary, baseline = rng.normal(10.3, 1, 23), rng.normal(10, 1, 31)
    if ties:
        canary, baseline = np.round(canary), np.round(baseline)
    return canary.tolist(), baseline.tolist()


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_mann_whitney_matches_scipy(seed: int, ties: bool) -> None:
    canary, baseline = mw_samples(seed, ties)

    result = mann_whitney(canary, baseline, 0.01)

    greater = stats.mannwhitneyu(canary, baseline, alternative="greater", method="asymptotic")
    less = stats.mannwhitneyu(canary, baseline, alternative="less", method="asymptotic")
    assert result.u == pytest.approx(greater.statistic)
    assert result.p_greater == pytest.approx(greater.pvalue, rel=1e-9)
    assert result.p_less == pytest.approx(less.pvalue, rel=1e-9)
    differences = np.subtract.outer(canary, baseline).ravel()
    assert result.shift == pytest.approx(float(np.median(differences)))


@pytest.mark.parametrize("seed", range(5))
def test_shift_interval_inverts_scipys_test(seed: int) -> None:
    """Shifting the canary by less than the lower bound is still rejected at alpha;
    by more, it is not (and the mirror image at the upper bound)."""
    canary, baseline = mw_samples(seed, ties=False)
    alpha = 0.01
    result = mann_whitney(canary, baseline, alpha)
    eps = 1e-9

    def p(shift: float, alternative: str) -> float:
        moved = [c - shift for c in canary]
        return float(stats.mannwhitneyu(moved, baseline, alternative=alternative,
                                        method="asymptotic").pvalue)

    assert p(result.lower - eps, "greater") < alpha <= p(result.lower + eps, "greater")
    assert p(result.upper + eps, "less") < alpha <= p(result.upper - eps, "less")
    assert result.lower < result.shift < result.upper


def test_too_few_samples_give_an_unbounded_interval() -> None:
    result = mann_whitney([1.0, 2.0], [1.5, 2.5], 0.001)

    assert result.lower == -math.inf
    assert result.upper == math.inf


def test_normal_helpers_match_scipy() -> None:
    for z in (-3.0, 0.0, 1.5, 8.0):
        assert normal_sf(z) == pytest.approx(stats.norm.sf(z), rel=1e-12)
    assert normal_quantile(0.999) == pytest.approx(stats.norm.ppf(0.999), rel=1e-9)


def test_spending_adds_up_to_alpha_and_is_front_loaded() -> None:
    looks = [spent_alpha(0.01, k, 4) for k in range(1, 5)]

    assert sum(looks) == pytest.approx(0.01)
    assert looks == sorted(looks, reverse=True)
    assert looks[0] == pytest.approx(0.01 * math.log1p((math.e - 1) / 4))
    assert spent_alpha(0.01, 1, 1) == pytest.approx(0.01)


@pytest.mark.parametrize(("table"), [(20, 120, 5, 120), (0, 30, 4, 50), (7, 7, 0, 3),
                                     (3, 200, 3, 200), (15, 40, 30, 45)])
def test_fisher_exact_matches_scipy(table: tuple[int, int, int, int]) -> None:
    a, m, b, n = table
    contingency = [[a, m - a], [b, n - b]]

    result = fisher_exact(a, m, b, n)

    assert result.p_greater == pytest.approx(
        stats.fisher_exact(contingency, alternative="greater").pvalue, rel=1e-9)
    assert result.p_less == pytest.approx(
        stats.fisher_exact(contingency, alternative="less").pvalue, rel=1e-9)
    assert (result.canary_share, result.baseline_share) == (a / m, b / n)


@pytest.mark.parametrize(("hits", "total"), [(0, 50), (3, 200), (190, 200), (50, 50)])
def test_wilson_interval_matches_scipy(hits: int, total: int) -> None:
    z = normal_quantile(0.995)
    expected = stats.binomtest(hits, total).proportion_ci(0.99, method="wilson")

    low, high = wilson_interval(hits, total, z)

    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)
