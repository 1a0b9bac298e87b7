"""The stats engine: pure functions over per-variant sufficient statistics.

Nothing here sees a row of data: every estimate comes from counts, sums, sums of squares
and sums of cross-products, so the aggregation can run anywhere (DuckDB, a warehouse) and
ship a few numbers per variant. The methods follow GrowthBook's frequentist engine
(gbstats), whose formulas each function cites; the summary: docs/statistics.md.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from scipy.special import stdtr, stdtrit
from scipy.stats import chi2

Alternative = Literal["two-sided", "greater", "less"]
SRM_ALPHA = 0.001


class StatsError(ValueError):
    """Statistics that admit no estimate or test; `field` names the culprit if one does."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class MeanStats:
    """A per-unit value y: n, sum y, sum y^2.

    With CUPED, x is the unit's pre-period covariate: sum x, sum x^2 and sum x*y.
    """

    n: int
    sum: float
    sum_squares: float
    covariate_sum: float | None = None
    covariate_sum_squares: float | None = None
    covariate_sum_products: float | None = None


@dataclass(frozen=True)
class ProportionStats:
    """A per-unit 0/1 outcome: n units, `sum` of them with a 1."""

    n: int
    sum: float


@dataclass(frozen=True)
class RatioStats:
    """A ratio of per-unit sums (clicks / impressions): both sums, squares and products."""

    n: int
    numerator_sum: float
    numerator_sum_squares: float
    denominator_sum: float
    denominator_sum_squares: float
    numerator_denominator_sum_products: float


MetricStats = MeanStats | ProportionStats | RatioStats
STATS_TYPES: Mapping[str, type[MetricStats]] = {
    "mean": MeanStats, "proportion": ProportionStats, "ratio": RatioStats}


@dataclass(frozen=True)
class SufficientStats:
    """Everything the engine reads, from any source (a STATS.json file, a SQL aggregation).

    `units` counts the units exposed per variant (the SRM check); `metrics` maps a metric
    name to its statistics per variant. `source` prefixes every error about them.
    """

    source: str
    variants: tuple[str, ...]
    units: Mapping[str, int]
    metrics: Mapping[str, Mapping[str, MetricStats]]


@dataclass(frozen=True)
class Arm:
    """One variant's estimate of a metric, in the terms the tests need.

    `variance` is the unit-level variance of the estimate (its standard error is
    sqrt(variance / n)). `baseline` is the unadjusted mean, with its unit-level variance
    and its covariance with the estimate: a relative lift divides by the control's
    baseline. Without CUPED the baseline is the estimate itself.
    """

    n: int
    mean: float
    variance: float
    baseline: float
    baseline_variance: float
    baseline_covariance: float

    @classmethod
    def unadjusted(cls, n: int, mean: float, variance: float) -> "Arm":
        return cls(n, mean, variance, mean, variance, variance)


@dataclass(frozen=True)
class Effect:
    """Treatment minus control (absolute or relative), its variance, Welch's df, total n."""

    estimate: float
    variance: float
    df: float
    n: int

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.variance)


@dataclass(frozen=True)
class TestResult:
    """A test of the effect against `null`: the interval (+-inf on an open side) and p."""

    estimate: float
    low: float
    high: float
    p_value: float


def covariance(n: int, sum_x: float, sum_y: float, sum_xy: float) -> float:
    """Unbiased sample covariance from sums; with x = y, the sample variance."""
    return (sum_xy - sum_x * sum_y / n) / (n - 1)


def ratio_variance(mean_m: float, var_m: float, mean_d: float, var_d: float,
                   cov_md: float) -> float:
    """Delta-method variance of M/D (gbstats utils.variance_of_ratios)."""
    return var_m / mean_d**2 + var_d * mean_m**2 / mean_d**4 - 2 * cov_md * mean_m / mean_d**3


def arm(stats: MetricStats) -> Arm:
    """A variant's unadjusted estimate: its mean, proportion or ratio, and unit variance."""
    n = checked_n(stats.n)
    match stats:
        case MeanStats():
            return Arm.unadjusted(n, stats.sum / n,
                                  covariance(n, stats.sum, stats.sum, stats.sum_squares))
        case ProportionStats():
            p = stats.sum / n
            return Arm.unadjusted(n, p, p * (1 - p))
        case RatioStats():
            mean_m = stats.numerator_sum / n
            mean_d = stats.denominator_sum / n
            if mean_d == 0:
                raise StatsError("the denominator sums to 0: the ratio is undefined",
                                 "denominator_sum")
            variance = ratio_variance(
                mean_m, covariance(n, stats.numerator_sum, stats.numerator_sum,
                                   stats.numerator_sum_squares),
                mean_d, covariance(n, stats.denominator_sum, stats.denominator_sum,
                                   stats.denominator_sum_squares),
                covariance(n, stats.numerator_sum, stats.denominator_sum,
                           stats.numerator_denominator_sum_products))
            return Arm.unadjusted(n, stats.numerator_sum / stats.denominator_sum,
                                  max(variance, 0.0))


def checked_n(n: int) -> int:
    """A variant's unit count, if it allows an estimate: every estimate here needs a
    variance, and a variance needs two units."""
    if n < 2:
        raise StatsError("the variant has no units" if n < 1 else
                         "one unit gives no variance: at least 2 are needed", "n")
    return n


def covariate_sums(stats: MeanStats) -> tuple[float, float, float]:
    """sum x, sum x^2 and sum x*y of the pre-period covariate x; CUPED needs all three."""
    if stats.covariate_sum is None or stats.covariate_sum_squares is None \
            or stats.covariate_sum_products is None:
        raise StatsError("CUPED is enabled but the pre-period covariate sums are missing",
                         "covariate_sum")
    return stats.covariate_sum, stats.covariate_sum_squares, stats.covariate_sum_products


def cuped_theta(control: MeanStats, treatment: MeanStats) -> float:
    """theta = cov(y, x) / var(x) over both variants pooled (gbstats compute_theta).

    Pooling keeps one theta for both arms, so the adjustment cancels in expectation and
    the difference stays unbiased. A covariate without variance gives theta 0: no
    adjustment.
    """
    n = checked_n(control.n) + checked_n(treatment.n)
    x_c, xx_c, xy_c = covariate_sums(control)
    x_t, xx_t, xy_t = covariate_sums(treatment)
    var_x = covariance(n, x_c + x_t, x_c + x_t, xx_c + xx_t)
    if var_x <= 0:
        return 0.0
    return covariance(n, control.sum + treatment.sum, x_c + x_t, xy_c + xy_t) / var_x


def cuped_arm(stats: MeanStats, theta: float) -> Arm:
    """The variant's mean of y - theta*x: same expectation difference, less variance.

    var(y - theta x) = var y + theta^2 var x - 2 theta cov(x, y) (gbstats
    RegressionAdjustedStatistic); the baseline stays the unadjusted mean of y.
    """
    x, xx, xy = covariate_sums(stats)
    n = checked_n(stats.n)
    var_y = covariance(n, stats.sum, stats.sum, stats.sum_squares)
    var_x = covariance(n, x, x, xx)
    cov_xy = covariance(n, stats.sum, x, xy)
    mean_y = stats.sum / n
    return Arm(n=n, mean=mean_y - theta * x / n,
               variance=max(var_y + theta**2 * var_x - 2 * theta * cov_xy, 0.0),
               baseline=mean_y, baseline_variance=var_y,
               baseline_covariance=var_y - theta * cov_xy)


def welch_df(control: Arm, treatment: Arm) -> float:
    """Welch-Satterthwaite degrees of freedom from the unit-level variances."""
    a = treatment.variance / treatment.n
    b = control.variance / control.n
    return (a + b) ** 2 / (a**2 / (treatment.n - 1) + b**2 / (control.n - 1))


def absolute_effect(control: Arm, treatment: Arm) -> Effect:
    """uT - uC with variance sT^2/nT + sC^2/nC."""
    variance = treatment.variance / treatment.n + control.variance / control.n
    return _effect(treatment.mean - control.mean, variance, control, treatment)


def relative_effect(control: Arm, treatment: Arm) -> Effect:
    """(uT - uC) / |uC| with its delta-method variance.

    Without CUPED the variance is sT^2/(uC^2 nT) + sC^2 uT^2/(uC^4 nC) (gbstats
    frequentist_variance). With CUPED the numerator is the adjusted difference d and the
    denominator the control's unadjusted mean m; the delta method over (d's control part,
    m) adds their covariance: [sC'^2/m^2 + d^2 var(m)/m^4 + 2 d cov/m^3] / nC, which is the
    formula above when nothing is adjusted (gbstats frequentist_variance_relative_cuped).
    """
    base = control.baseline
    if base == 0:
        raise StatsError("the control mean is 0: a relative lift is undefined "
                         "(use difference: absolute)")
    diff = treatment.mean - control.mean
    variance = treatment.variance / (treatment.n * base**2) + (
        control.variance / base**2
        + diff**2 * control.baseline_variance / base**4
        + 2 * diff * control.baseline_covariance / base**3
    ) / control.n
    return _effect(diff / abs(base), variance, control, treatment)


def effect(control: Arm, treatment: Arm, relative: bool) -> Effect:
    return relative_effect(control, treatment) if relative \
        else absolute_effect(control, treatment)


def _effect(estimate: float, variance: float, control: Arm, treatment: Arm) -> Effect:
    if not variance > 0:
        raise StatsError("zero variance in every variant: no test is possible")
    return Effect(estimate, variance, welch_df(control, treatment), control.n + treatment.n)


def fixed_test(result: Effect, alpha: float, alternative: Alternative,
               null: float = 0.0) -> TestResult:
    """Welch's t-test of the effect against `null`, and its 1-alpha interval.

    scipy.special's Student t CDF (stdtr) and its inverse (stdtrit) rather than
    scipy.stats.t: the same numbers, a hundred times faster, which simulations need.
    """
    se = result.standard_error
    statistic = (result.estimate - null) / se
    df = result.df
    if alternative == "two-sided":
        half = float(stdtrit(df, 1 - alpha / 2)) * se
        return TestResult(result.estimate, result.estimate - half, result.estimate + half,
                          float(2 * stdtr(df, -abs(statistic))))
    half = float(stdtrit(df, 1 - alpha)) * se
    if alternative == "greater":
        return TestResult(result.estimate, result.estimate - half, math.inf,
                          float(stdtr(df, -statistic)))
    return TestResult(result.estimate, -math.inf, result.estimate + half,
                      float(stdtr(df, statistic)))


def sequential_rho(alpha: float, tuning: float) -> float:
    """The mixing parameter from N* (Waudby-Smith et al. eq. 161, as gbstats uses it):
    rho = sqrt((-2 ln a + ln(1 - 2 ln a)) / N*), with a = alpha (two-sided) or 2 alpha
    (one-sided)."""
    log_alpha = math.log(alpha)
    return math.sqrt((-2 * log_alpha + math.log(1 - 2 * log_alpha)) / tuning)


def _mixture(per_unit_variance: float, n: float, alpha: float, two_sided: bool,
             tuning: float) -> tuple[float, float, float]:
    """rho, n rho^2 + 1 and s2 * 2(n rho^2 + 1)/(n rho)^2: the sequence's terms at n."""
    rho = sequential_rho(alpha if two_sided else 2 * alpha, tuning)
    spread = n * rho**2 + 1
    return rho, spread, per_unit_variance * 2 * spread / (n * rho) ** 2


def sequential_test(result: Effect, alpha: float, alternative: Alternative, tuning: float,
                    null: float = 0.0) -> TestResult:
    """The always-valid version of `fixed_test`: the interval holds at every look at once.

    With n the total units, s2 = n * var(effect) the per-unit variance, r = rho:
      two-sided half-width  sqrt(s2 * 2(n r^2 + 1)/(n r)^2 * ln(sqrt(n r^2 + 1)/alpha))
      one-sided half-width  sqrt(s2 * 2(n r^2 + 1)/(n r)^2 * ln(1 + sqrt(n r^2 + 1)/(2 alpha)))
    (Waudby-Smith et al. eq. 9 and its one-sided form, as in gbstats' sequential tests).
    The p-value is the smallest alpha whose interval excludes `null`: for two sides
    min(1, sqrt(n r^2 + 1) exp(-r^2 S / (2(n r^2 + 1)))) with S = n (estimate - null)^2 /
    var(effect), the squared standardised sum (eq. 155); for one side the same duality,
    solved in closed form with rho held fixed.
    """
    n = result.n
    two_sided = alternative == "two-sided"
    rho, spread, scale = _mixture(result.variance * n, n, alpha, two_sided, tuning)
    estimate = result.estimate
    half = sequential_half_width(result.variance * n, n, alpha, alternative, tuning)
    if two_sided:
        standardised = n * (estimate - null) ** 2 / result.variance
        exponent = rho**2 * standardised / (2 * spread)
        p_value = min(1.0, math.sqrt(spread) * math.exp(-exponent))
        return TestResult(estimate, estimate - half, estimate + half, p_value)
    gain = estimate - null if alternative == "greater" else null - estimate
    p_value = 1.0
    if gain > 0:
        # ln(1 + sqrt(spread)/(2p)) = gain^2/scale  <=>  p = sqrt(spread) / (2 (e^x - 1))
        x = gain**2 / scale
        p_value = min(1.0, math.sqrt(spread) / 2 * math.exp(-x) / -math.expm1(-x))
    if alternative == "greater":
        return TestResult(estimate, estimate - half, math.inf, p_value)
    return TestResult(estimate, -math.inf, estimate + half, p_value)


def sequential_half_width(per_unit_variance: float, n: float, alpha: float,
                          alternative: Alternative, tuning: float) -> float:
    """The always-valid interval's half-width at n units in all (`sequential_test`)."""
    two_sided = alternative == "two-sided"
    _, spread, scale = _mixture(per_unit_variance, n, alpha, two_sided, tuning)
    boundary = math.sqrt(spread) / alpha if two_sided \
        else 1 + math.sqrt(spread) / (2 * alpha)
    return math.sqrt(scale * math.log(boundary))


def srm_p_value(units: Sequence[int], weights: Sequence[float]) -> float:
    """Pearson's chi-squared test of the observed split against the configured weights
    (gbstats check_srm); below SRM_ALPHA the assignment is broken and no metric is read."""
    total = sum(units)
    weight_sum = math.fsum(weights)
    expected = [w / weight_sum * total for w in weights]
    statistic = sum((o - e) ** 2 / e for o, e in zip(units, expected, strict=True))
    return float(chi2.sf(statistic, len(units) - 1))
