"""The stats engine against independent computations: numpy on raw data, scipy's tests,
and simulations of many repeated experiments for the delta-method standard errors."""

import math
from collections.abc import Callable

import numpy as np
import pytest
from modelrail.ab.stats import (
    Alternative,
    Arm,
    Effect,
    MeanStats,
    MetricStats,
    ProportionStats,
    RatioStats,
    StatsError,
    absolute_effect,
    arm,
    cuped_arm,
    cuped_theta,
    effect,
    fixed_test,
    relative_effect,
    sequential_test,
    srm_p_value,
)
from modelrail.multiple_testing import holm
from scipy import integrate, stats

from tests.support.builders.ab_sufficient import Array, mean_stats, proportion_stats, ratio_stats

ALTERNATIVES: list[Alternative] = ["two-sided", "greater", "less"]


def rng(seed: int = 7) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- one variant ------------------------------------------------------------------------

def test_mean_arm_is_the_sample_mean_and_unbiased_variance() -> None:
    y = rng().lognormal(3, 0.8, 777)
    result = arm(mean_stats(y))
    assert result.mean == pytest.approx(y.mean(), rel=1e-12)
    assert result.variance == pytest.approx(y.var(ddof=1), rel=1e-9)


def test_proportion_arm_variance_is_p_times_one_minus_p() -> None:
    y = (rng().random(1000) < 0.23).astype(float)
    result = arm(proportion_stats(y))
    assert result.mean == y.mean()
    assert result.variance == pytest.approx(y.mean() * (1 - y.mean()))


def clicks_and_impressions(generator: np.random.Generator, shape: tuple[int, ...],
                           ctr: float = 0.1) -> tuple[Array, Array]:
    """Heavy users see more impressions and click more of them: numerator and denominator
    are strongly correlated, so the covariance term of the delta method matters."""
    activity = generator.gamma(2.0, 1.0, shape)
    impressions = generator.poisson(4 * activity) + 1
    clicks = generator.binomial(impressions, np.clip(ctr * activity, 0, 1))
    return clicks.astype(np.float64), impressions.astype(np.float64)


def test_ratio_arm_delta_method_matches_repeated_experiments() -> None:
    generator = rng(11)
    clicks, impressions = clicks_and_impressions(generator, (3000, 400))
    estimates = clicks.sum(axis=1) / impressions.sum(axis=1)
    analytic = [arm(ratio_stats(c, d)) for c, d in zip(clicks[:200], impressions[:200],
                                                       strict=True)]
    standard_error = np.mean([math.sqrt(a.variance / a.n) for a in analytic])
    assert standard_error == pytest.approx(estimates.std(ddof=1), rel=0.06)
    assert analytic[0].mean == clicks[0].sum() / impressions[0].sum()
    # Without the numerator-denominator covariance the standard error would be far off.
    c, d = clicks[0], impressions[0]
    no_covariance = math.sqrt((c.var(ddof=1) / d.mean() ** 2 + d.var(ddof=1) * c.mean() ** 2
                               / d.mean() ** 4) / len(c))
    assert no_covariance > 1.3 * estimates.std(ddof=1)


def test_one_unit_or_none_cannot_give_a_variance() -> None:
    with pytest.raises(StatsError, match="no units") as none:
        arm(MeanStats(n=0, sum=0, sum_squares=0))
    assert none.value.field == "n"
    with pytest.raises(StatsError, match="at least 2"):
        arm(ProportionStats(n=1, sum=1))


def test_a_ratio_whose_denominator_sums_to_zero_is_refused() -> None:
    with pytest.raises(StatsError, match="denominator") as caught:
        arm(RatioStats(n=3, numerator_sum=0, numerator_sum_squares=0, denominator_sum=0,
                       denominator_sum_squares=0, numerator_denominator_sum_products=0))
    assert caught.value.field == "denominator_sum"


# --- fixed-horizon tests: Welch ------------------------------------------------------------

@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_absolute_test_is_welchs_t_test(alternative: Alternative) -> None:
    generator = rng(3)
    control, treatment = generator.normal(10, 2, 300), generator.normal(10.4, 3.5, 260)
    result = absolute_effect(arm(mean_stats(control)), arm(mean_stats(treatment)))
    test = fixed_test(result, 0.05, alternative)
    reference = stats.ttest_ind(treatment, control, equal_var=False, alternative=alternative)
    assert test.p_value == pytest.approx(reference.pvalue, rel=1e-8)
    assert result.df == pytest.approx(reference.df, rel=1e-9)
    interval = reference.confidence_interval(confidence_level=0.95)
    assert (test.low, test.high) == pytest.approx((interval.low, interval.high), rel=1e-8)
    from_stats = stats.ttest_ind_from_stats(
        treatment.mean(), treatment.std(ddof=1), 260, control.mean(), control.std(ddof=1),
        300, equal_var=False, alternative=alternative)
    assert test.p_value == pytest.approx(from_stats.pvalue, rel=1e-8)


def test_proportions_are_tested_with_variance_p_one_minus_p() -> None:
    control = ProportionStats(n=4000, sum=400)
    treatment = ProportionStats(n=4100, sum=480)
    test = fixed_test(absolute_effect(arm(control), arm(treatment)), 0.05, "two-sided")
    p_c, p_t = 0.1, 480 / 4100
    reference = stats.ttest_ind_from_stats(p_t, math.sqrt(p_t * (1 - p_t)), 4100, p_c,
                                           math.sqrt(p_c * (1 - p_c)), 4000, equal_var=False)
    assert test.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    # ... which for large n is the classic unpooled two-proportion z-test.
    z = (p_t - p_c) / math.sqrt(p_t * (1 - p_t) / 4100 + p_c * (1 - p_c) / 4000)
    assert test.p_value == pytest.approx(2 * stats.norm.sf(z), rel=3e-3)


def test_the_interval_is_relative_to_the_estimate_and_the_p_value_to_the_null() -> None:
    result = absolute_effect(Arm.unadjusted(500, 1.0, 4.0), Arm.unadjusted(500, 1.3, 4.0))
    greater = fixed_test(result, 0.05, "greater", null=-0.2)
    assert greater.low == fixed_test(result, 0.05, "greater").low
    t_statistic = (0.3 + 0.2) / result.standard_error
    assert greater.p_value == pytest.approx(stats.t.sf(t_statistic, result.df))


# --- relative lift: the delta method against repeated experiments --------------------------

Simulation = Callable[[np.random.Generator, int, int, float], list[MetricStats]]


def simulate_means(generator: np.random.Generator, reps: int, n: int,
                   lift: float) -> list[MetricStats]:
    y = generator.lognormal(0, 1, (reps, n)) * (1 + lift)
    return [mean_stats(row) for row in y]


def simulate_proportions(generator: np.random.Generator, reps: int, n: int,
                         lift: float) -> list[MetricStats]:
    y = (generator.random((reps, n)) < 0.2 * (1 + lift)).astype(float)
    return [proportion_stats(row) for row in y]


def simulate_ratios(generator: np.random.Generator, reps: int, n: int,
                    lift: float) -> list[MetricStats]:
    clicks, impressions = clicks_and_impressions(generator, (reps, n), 0.1 * (1 + lift))
    return [ratio_stats(c, d) for c, d in zip(clicks, impressions, strict=True)]


@pytest.mark.parametrize(("simulate", "true_lift"), [
    (simulate_means, 0.05), (simulate_proportions, 0.10), (simulate_ratios, 0.05)])
def test_relative_lift_standard_error_matches_repeated_experiments(
        simulate: Simulation, true_lift: float) -> None:
    generator = rng(21)
    controls = simulate(generator, 1500, 400, 0.0)
    treatments = simulate(generator, 1500, 400, true_lift)
    effects = [relative_effect(arm(c), arm(t))
               for c, t in zip(controls, treatments, strict=True)]
    estimates = np.array([e.estimate for e in effects])
    errors = np.array([e.standard_error for e in effects])
    assert errors.mean() == pytest.approx(estimates.std(ddof=1), rel=0.07)
    covered = np.abs(estimates - estimates.mean()) <= 1.96 * errors
    assert covered.mean() == pytest.approx(0.95, abs=0.02)


def test_relative_variance_is_the_published_formula_without_cuped() -> None:
    control, treatment = Arm.unadjusted(900, 2.0, 9.0), Arm.unadjusted(1100, 2.5, 16.0)
    result = relative_effect(control, treatment)
    assert result.estimate == pytest.approx(0.25)
    assert result.variance == pytest.approx(16.0 / (2.0**2 * 1100)
                                            + 9.0 * 2.5**2 / (2.0**4 * 900))


def test_relative_lift_divides_by_the_absolute_control_mean() -> None:
    result = relative_effect(Arm.unadjusted(100, -2.0, 1.0), Arm.unadjusted(100, -1.0, 1.0))
    assert result.estimate == pytest.approx(0.5)  # less negative is an increase


def test_relative_lift_needs_a_non_zero_control_mean() -> None:
    with pytest.raises(StatsError, match="control mean is 0"):
        relative_effect(Arm.unadjusted(10, 0.0, 1.0), Arm.unadjusted(10, 1.0, 1.0))


def test_zero_variance_everywhere_admits_no_test() -> None:
    constant = arm(MeanStats(n=10, sum=30, sum_squares=90))
    with pytest.raises(StatsError, match="zero variance"):
        effect(constant, constant, relative=False)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("relative", [True, False])
def test_p_below_alpha_exactly_when_the_interval_excludes_the_null(
        alternative: Alternative, relative: bool) -> None:
    control = Arm.unadjusted(800, 10.0, 25.0)
    for shift in np.linspace(-1.5, 1.5, 31):
        treatment = Arm.unadjusted(800, 10.0 + shift, 25.0)
        result = effect(control, treatment, relative)
        for test in (fixed_test(result, 0.05, alternative),
                     sequential_test(result, 0.05, alternative, 2000)):
            assert (test.p_value < 0.05) == (test.low > 0 or test.high < 0)


# --- sequential: the asymptotic confidence sequence --------------------------------------

def mean_effect(n: int, seed: int = 5) -> tuple[MeanStats, MeanStats]:
    generator = rng(seed)
    return (mean_stats(generator.normal(5, 2, n)), mean_stats(generator.normal(5.1, 2, n)))


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_sequential_intervals_are_wider_than_fixed_ones(alternative: Alternative) -> None:
    control, treatment = mean_effect(3000)
    result = absolute_effect(arm(control), arm(treatment))
    fixed = fixed_test(result, 0.05, alternative)
    sequential = sequential_test(result, 0.05, alternative, tuning=6000)
    for fixed_bound, sequential_bound, outward in ((fixed.low, sequential.low, -1),
                                                   (fixed.high, sequential.high, 1)):
        if math.isfinite(fixed_bound):
            assert outward * (sequential_bound - fixed_bound) > 0
        else:
            assert sequential_bound == fixed_bound
    assert sequential.p_value > fixed.p_value


def test_sequential_intervals_shrink_as_data_accrue() -> None:
    widths = []
    for n in (500, 2000, 8000, 32000):
        control, treatment = mean_effect(n, seed=n)
        test = sequential_test(absolute_effect(arm(control), arm(treatment)), 0.05,
                               "two-sided", tuning=10000)
        widths.append(test.high - test.low)
    assert widths == sorted(widths, reverse=True)
    assert widths[-1] < widths[0] / 4


def test_sequential_interval_is_narrowest_relative_to_fixed_near_the_tuning_size() -> None:
    def ratio(n: int, tuning: float) -> float:
        result = absolute_effect(Arm.unadjusted(n // 2, 0.0, 1.0),
                                 Arm.unadjusted(n // 2, 0.0, 1.0))
        sequential = sequential_test(result, 0.05, "two-sided", tuning)
        return (sequential.high - sequential.low) / (2 * 1.959964 * result.standard_error)
    near, far = ratio(10_000, 10_000), ratio(10_000, 500)
    assert near < far


@pytest.mark.parametrize(("alternative", "half_width"), [
    ("two-sided", 0.030352089903762525), ("greater", 0.027790942353135218)])
def test_sequential_half_widths_are_growthbooks(alternative: Alternative,
                                                half_width: float) -> None:
    # Per-unit variance 1, n = N* = 10000, alpha 0.05, worked by hand from gbstats'
    # formulas: rho = sqrt((-2 ln a + ln(1 - 2 ln a)) / N*) with a = alpha two-sided and
    # 2 alpha one-sided; two-sided sqrt(2(n rho^2 + 1)/(n rho)^2 ln(sqrt(n rho^2 + 1)/alpha)),
    # one-sided sqrt(2(n rho^2 + 1)/(n rho)^2 ln(1 + sqrt(n rho^2 + 1)/(2 alpha))).
    test = sequential_test(Effect(0.0, 1.0 / 10_000, 100.0, 10_000), 0.05, alternative,
                           10_000)
    assert -test.low == pytest.approx(half_width, rel=1e-9)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_sequential_p_value_equals_alpha_when_the_bound_touches_the_null(
        alternative: Alternative) -> None:
    base = absolute_effect(Arm.unadjusted(2000, 0.0, 4.0), Arm.unadjusted(2000, 0.0, 4.0))
    interval = sequential_test(base, 0.05, alternative, 3000)
    touching = Effect(-interval.high if alternative == "less" else -interval.low,
                      base.variance, base.df, base.n)
    assert sequential_test(touching, 0.05, alternative, 3000).p_value == pytest.approx(0.05)


def test_sequential_two_sided_p_value_is_one_over_the_normal_mixture_martingale() -> None:
    # Independent check of the closed form: integrate the mixture of exp(l S - l^2 n / 2)
    # over l ~ N(0, rho^2) numerically (S: the standardised sum, rho from N* and alpha).
    result = absolute_effect(Arm.unadjusted(3000, 1.0, 4.0), Arm.unadjusted(3000, 1.25, 4.0))
    alpha, tuning, n = 0.05, 5000.0, result.n
    rho = math.sqrt((-2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha))) / tuning)
    sigma = math.sqrt(result.variance * n)
    standardised_sum = n * result.estimate / sigma
    martingale, _ = integrate.quad(
        lambda lam: math.exp(lam * standardised_sum - lam**2 * n / 2)
        * stats.norm.pdf(lam, 0, rho), -1, 1, points=[0.0], limit=200)
    test = sequential_test(result, alpha, "two-sided", tuning)
    assert test.p_value == pytest.approx(min(1.0, 1 / martingale), rel=1e-6)
    assert test.p_value < 0.05


# --- SRM, Holm ---------------------------------------------------------------------------

@pytest.mark.parametrize(("units", "weights"), [
    ([5000, 5050], [0.5, 0.5]), ([5000, 5400], [0.5, 0.5]), ([1000, 3900], [0.2, 0.8]),
    ([300, 310, 420], [0.25, 0.25, 0.5])])
def test_srm_is_pearsons_chi_squared_against_the_weights(units: list[int],
                                                         weights: list[float]) -> None:
    expected = [w * sum(units) for w in weights]
    assert srm_p_value(units, weights) == pytest.approx(
        stats.chisquare(units, expected).pvalue, rel=1e-9)


def test_srm_flags_a_lost_few_percent_of_one_arm() -> None:
    assert srm_p_value([10_000, 10_000], [0.5, 0.5]) == pytest.approx(1.0)
    assert srm_p_value([10_000, 9_400], [0.5, 0.5]) < 0.001


def test_holm_adjusted_p_values() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.2]) == [0.2]
    assert holm([0.6, 0.7]) == [1.0, 1.0]


# --- CUPED ---------------------------------------------------------------------------------

def cuped_data(generator: np.random.Generator, shape: tuple[int, ...],
               lift: float) -> tuple[Array, Array]:
    """Post-period y strongly explained by the pre-period x (correlation ~0.8)."""
    pre = generator.gamma(4.0, 25.0, shape)
    post = (0.8 * pre + generator.normal(0, 35, shape) + 20) * (1 + lift)
    return post, pre


def test_theta_is_the_pooled_regression_slope_and_variance_drops() -> None:
    generator = rng(9)
    post_c, pre_c = cuped_data(generator, (2000,), 0.0)
    post_t, pre_t = cuped_data(generator, (2100,), 0.03)
    control, treatment = mean_stats(post_c, pre_c), mean_stats(post_t, pre_t)
    theta = cuped_theta(control, treatment)
    slope = np.polyfit(np.concatenate([pre_c, pre_t]), np.concatenate([post_c, post_t]), 1)[0]
    assert theta == pytest.approx(slope, rel=1e-9)
    adjusted = cuped_arm(control, theta)
    assert adjusted.variance == pytest.approx((post_c - theta * pre_c).var(ddof=1), rel=1e-9)
    assert adjusted.mean == pytest.approx((post_c - theta * pre_c).mean(), rel=1e-9)
    assert adjusted.variance < 0.5 * arm(control).variance
    assert adjusted.baseline == pytest.approx(post_c.mean())


@pytest.mark.parametrize("relative", [False, True])
def test_cuped_effects_are_unbiased_and_their_errors_match_repeated_experiments(
        relative: bool) -> None:
    generator = rng(13)
    lift = 0.04
    post_c, pre_c = cuped_data(generator, (1500, 300), 0.0)
    post_t, pre_t = cuped_data(generator, (1500, 300), lift)
    effects, plain = [], []
    for row in range(1500):
        control = mean_stats(post_c[row], pre_c[row])
        treatment = mean_stats(post_t[row], pre_t[row])
        theta = cuped_theta(control, treatment)
        effects.append(effect(cuped_arm(control, theta), cuped_arm(treatment, theta), relative))
        plain.append(effect(arm(control), arm(treatment), relative))
    estimates = np.array([e.estimate for e in effects])
    errors = np.array([e.standard_error for e in effects])
    truth = lift if relative else lift * (0.8 * 100 + 20)
    assert estimates.mean() == pytest.approx(truth, abs=3 * estimates.std() / math.sqrt(1500))
    assert errors.mean() == pytest.approx(estimates.std(ddof=1), rel=0.07)
    assert errors.mean() < 0.7 * np.mean([e.standard_error for e in plain])


def test_cuped_without_covariate_sums_is_an_error() -> None:
    with pytest.raises(StatsError, match="covariate") as caught:
        cuped_theta(MeanStats(n=5, sum=5, sum_squares=7), MeanStats(n=5, sum=5, sum_squares=7))
    assert caught.value.field == "covariate_sum"
