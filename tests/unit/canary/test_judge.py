"""The judge: each kind of metric's verdict, and Kayenta's rules for the decision."""

import math

import pytest
from modelrail.canary.config import (
    AnalysisConfig,
    CounterMetric,
    GaugeMetric,
    HistogramMetric,
    ThresholdMetric,
)
from modelrail.canary.judge import (
    Histogram,
    Verdict,
    decide,
    judge_counter,
    judge_gauge,
    judge_histogram,
    judge_threshold,
    metric_alpha,
    pooled,
)
from modelrail.canary.stats import Stratum

INF = math.inf
COUNTER = CounterMetric(name="errors", query="e{{version}}", total="t{{version}}",
                        min_samples=100)
HISTOGRAM = HistogramMetric(name="latency", query="h{{version}}", min_samples=100)
GAUGE = GaugeMetric(name="score", query="g{{version}}", min_samples=5)


def histogram(**cumulative: float) -> Histogram:
    """histogram(le_0_1=10, le_inf=20) -> buckets {0.1: 10, +Inf: 20}."""
    return Histogram.from_counts({
        INF if key == "le_inf" else float(key[3:].replace("_", ".")): value
        for key, value in cumulative.items()})


def latency(total: float, beyond_0_25: float, beyond_0_3: float) -> Histogram:
    """A latency histogram with `beyond_*` of `total` requests above 0.25 s and 0.3 s."""
    return histogram(le_0_1=0.6 * total, le_0_2=0.95 * total, le_0_25=total - beyond_0_25,
                     le_0_3=total - beyond_0_3, le_0_5=total, le_inf=total)


class TestHistogram:
    BUCKETS = histogram(le_0_1=10, le_0_2=30, le_0_4=60, le_inf=60)

    @pytest.mark.parametrize(("q", "expected"), [(0.5, 0.2), (0.25, 0.125), (0.99, 0.396),
                                                 (0.0, 0.0), (1.0, 0.4)])
    def test_quantile_interpolates_like_histogram_quantile(self, q: float,
                                                           expected: float) -> None:
        assert self.BUCKETS.quantile(q) == pytest.approx(expected)

    def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound(self) -> None:
        assert histogram(le_0_1=10, le_inf=20).quantile(0.9) == 0.1

    def test_empty_histogram_has_no_quantile(self) -> None:
        assert math.isnan(Histogram(()).quantile(0.99))
        assert math.isnan(histogram(le_0_1=0, le_inf=0).quantile(0.99))

    def test_counts_are_made_monotonic(self) -> None:
        bumpy = histogram(le_0_1=10.2, le_0_2=10.1, le_inf=12)

        assert bumpy.buckets == ((0.1, 10.2), (0.2, 10.2), (INF, 12.0))
        assert bumpy.count_at(0.15) == 10.2  # the last bound below
        assert bumpy.count_at(0.05) == 0.0

    def test_pooled_adds_windows(self) -> None:
        total = pooled([self.BUCKETS, histogram(le_0_1=5, le_inf=8)])

        assert total.buckets == ((0.1, 15.0), (0.2, 30.0), (0.4, 60.0), (INF, 68.0))


class TestThreshold:
    METRIC = ThresholdMetric(name="error_rate", query="q", maximum=0.01)

    def test_within_and_outside(self) -> None:
        assert judge_threshold(self.METRIC, [0.004]).outcome == "pass"
        failed = judge_threshold(self.METRIC, [0.004, 0.02, 0.003])
        assert failed.outcome == "fail"
        assert failed.canary == {"value": 0.02, "series": 3}  # the worst series
        assert failed.reason == "canary value 0.02 is outside <= 0.01"

    def test_nan_is_dropped_and_inf_is_a_value(self) -> None:
        assert judge_threshold(self.METRIC, [math.nan, 0.004]).outcome == "pass"
        assert judge_threshold(self.METRIC, [INF]).outcome == "fail"
        low = ThresholdMetric(name="traffic", query="q", minimum=1.0, no_data="fail")
        assert judge_threshold(low, [-INF]).outcome == "fail"

    @pytest.mark.parametrize(("values", "why"), [([], "returned no value"),
                                                 ([math.nan], "every value")])
    def test_no_value_follows_no_data(self, values: list[float], why: str) -> None:
        verdict = judge_threshold(self.METRIC, values)
        assert verdict.outcome == "inconclusive"
        assert why in verdict.reason
        failing = ThresholdMetric(name="e", query="q", maximum=1, no_data="fail")
        assert judge_threshold(failing, values).outcome == "fail"

    def test_range_bounds(self) -> None:
        metric = ThresholdMetric(name="score", query="q", minimum=0.2, maximum=0.8)
        assert judge_threshold(metric, [0.5]).reason == "canary value 0.5 is within [0.2, 0.8]"
        assert judge_threshold(metric, [0.1]).outcome == "fail"


class TestCounter:
    def test_doubled_error_rate_fails(self) -> None:
        strata = [Stratum(24, 1200.0, 108, 10800.0), Stratum(60, 3000.0, 90, 9000.0)]

        verdict = judge_counter(COUNTER, strata, alpha=0.001)

        assert verdict.outcome == "fail"
        assert verdict.effect == pytest.approx(2.0)
        assert verdict.canary == {"events": 84, "total": 4200.0, "rate": 0.02}
        assert verdict.details["steps"] == 2
        assert verdict.p_value is not None
        assert verdict.p_value < 0.001
        assert verdict.test.endswith("(exact)")

    def test_same_rate_passes(self) -> None:
        verdict = judge_counter(COUNTER, [Stratum(12, 1200.0, 108, 10800.0)], alpha=0.001)

        assert verdict.outcome == "pass"
        assert "no evidence that the canary rate is above 1x" in verdict.reason

    def test_allowed_ratio_tolerates_that_much(self) -> None:
        strata = [Stratum(150, 10000.0, 100, 10000.0)]  # 1.5x
        assert judge_counter(COUNTER, strata, 0.001).outcome == "fail"
        tolerant = CounterMetric(name="e", query="q{{version}}", total="t{{version}}",
                                 allowed_ratio=1.6, min_samples=100)
        assert judge_counter(tolerant, strata, 0.001).outcome == "pass"

    @pytest.mark.parametrize(("direction", "outcome"),
                             [("increase", "pass"), ("decrease", "fail"), ("either", "fail")])
    def test_direction(self, direction: str, outcome: str) -> None:
        fewer = [Stratum(40, 10000.0, 100, 10000.0)]
        metric = CounterMetric(name="conversions", query="q{{version}}", total="t{{version}}",
                               direction=direction, min_samples=100)  # type: ignore[arg-type]

        assert judge_counter(metric, fewer, 0.001).outcome == outcome

    def test_too_few_requests_or_no_baseline_is_no_data(self) -> None:
        few = judge_counter(COUNTER, [Stratum(1, 40.0, 100, 10000.0)], 0.01)
        assert few.outcome == "inconclusive"
        assert few.reason == ("no data: too few requests: canary 40, baseline 10000 "
                              "(min_samples 100) (no_data: inconclusive)")
        alone = judge_counter(COUNTER, [Stratum(10, 1000.0, 0, 0.0)], 0.01)
        assert "the canary has no requests" in alone.reason


class TestHistogramMetric:
    def test_a_slower_tail_fails(self) -> None:
        canary = [latency(1200, beyond_0_25=36, beyond_0_3=30)]  # 3% beyond 0.25 s
        baseline = [latency(10800, beyond_0_25=119, beyond_0_3=54)]  # 1.1%

        verdict = judge_histogram(HISTOGRAM, canary, baseline, alpha=0.001)

        assert verdict.outcome == "fail"
        # 0.25 s (the last with >= 1% of the baseline beyond) and 0.3 s are compared; 0.5 s
        # has nothing beyond it, so it could never reject and takes no share of alpha.
        assert verdict.details["boundaries"] == 2
        assert verdict.alpha == pytest.approx(0.0005)
        assert verdict.details["baseline_boundary"] == verdict.details["canary_boundary"] \
            == 0.3  # 30 of 84 beyond 0.3 s are the canary's: more extreme than 36 of 155
        assert verdict.canary["beyond"] == 30
        assert verdict.canary["p99"] == pytest.approx(canary[0].quantile(0.99))

    def test_allowed_ratio_moves_the_canary_boundary(self) -> None:
        canary = [latency(1200, beyond_0_25=36, beyond_0_3=12)]  # 1% beyond 0.3 s
        baseline = [latency(10800, beyond_0_25=119, beyond_0_3=54)]
        tolerant = HistogramMetric(name="latency", query="h{{version}}", allowed_ratio=1.2,
                                   min_samples=100)

        verdict = judge_histogram(tolerant, canary, baseline, alpha=0.001)

        assert verdict.outcome == "pass"
        assert verdict.details["canary_boundary"] == 0.3  # >= 1.2 x 0.25

    def test_buckets_too_coarse_for_the_ratio_is_no_data(self) -> None:
        tolerant = HistogramMetric(name="latency", query="h{{version}}", allowed_ratio=3,
                                   min_samples=100, no_data="fail")
        canary = [latency(1200, beyond_0_25=36, beyond_0_3=12)]
        baseline = [latency(10800, beyond_0_25=119, beyond_0_3=54)]

        verdict = judge_histogram(tolerant, canary, baseline, alpha=0.001)

        assert verdict.outcome == "fail"
        assert "too coarse" in verdict.reason

    def test_less_than_one_observation_is_too_few(self) -> None:
        tiny = histogram(le_0_1=0.0, le_inf=1e-300)  # what rate() extrapolation can leave
        verdict = judge_histogram(HistogramMetric(name="l", query="h{{version}}"),
                                  [tiny], [latency(10800, 119, 54)], alpha=0.001)

        assert verdict.outcome == "inconclusive"
        assert "too few observations: canary 0" in verdict.reason

    def test_a_step_with_a_vanishing_baseline_does_not_break_the_arithmetic(self) -> None:
        canary = [latency(1200, 36, 30), latency(1e5, 3000, 2000)]
        baseline = [latency(10800, 119, 54), histogram(le_0_25=0, le_0_3=0, le_inf=1e-300)]
        either = HistogramMetric(name="l", query="h{{version}}", direction="either")

        verdict = judge_histogram(either, canary, baseline, alpha=0.001)

        assert verdict.outcome == "fail"
        assert verdict.details["steps"] == 2

    def test_steps_without_both_sides_are_left_out(self) -> None:
        steps = [latency(1200, 13, 6), latency(12000, 500, 400)]
        baseline = [latency(10800, 119, 54), Histogram(())]

        verdict = judge_histogram(HISTOGRAM, steps, baseline, alpha=0.001)

        assert verdict.outcome == "pass"
        assert verdict.details["steps"] == 1


CLIENT_DEFAULT = (.005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10, INF)


def lognormal(total: int, *, factor: float = 1.0, tail: float = 1.0,
              bounds: tuple[float, ...] = CLIENT_DEFAULT, median: float = 0.05) -> Histogram:
    """Expected bucket counts of `total` lognormal latencies (sigma 0.5, p99 = 3.2 x the
    median: 160 ms by default, inside the client default 0.1-0.25 s bucket), the whole
    distribution scaled by `factor`, and the slowest 10% stretched so that the p99 is
    `tail` times as high (as in bench/canary_judge.py)."""
    sigma, z90, z99 = 0.5, 1.2815515655446004, 2.3263478740408408
    p90, p99 = median * math.exp(sigma * z90), median * math.exp(sigma * z99)
    stretch = (tail * p99 - p90) / (p99 - p90)

    def below(le: float) -> float:
        x = le / factor
        x = p90 + (x - p90) / stretch if x > p90 else x
        return 0.5 * math.erfc(-math.log(x / median) / (sigma * math.sqrt(2)))

    return Histogram(tuple((le, float(total if le == INF else round(total * below(le))))
                           for le in bounds))


class TestHistogramWithClientDefaultBuckets:
    """p99 160 ms inside the 0.1-0.25 s bucket; 4,200 canary and 19,800 baseline requests
    (10-minute steps at 10% and 25% of 20 req/s)."""

    BASELINE = (lognormal(19800),)

    def test_a_30_percent_slower_p99_fails(self) -> None:
        """Only 0.1 s was compared before (9.0% vs 8.3% beyond: p = 0.08, a pass)."""
        verdict = judge_histogram(HISTOGRAM, [lognormal(4200, tail=1.3)], self.BASELINE,
                                  alpha=0.001)

        assert verdict.outcome == "fail"
        assert (verdict.details["canary_boundary"], verdict.details["baseline_boundary"]) \
            == (0.25, 0.25)  # 0.45% beyond it vs 0.07%
        assert verdict.p_value is not None
        assert verdict.p_value < 1e-6

    @pytest.mark.parametrize("factor", [1.2, 1.5])
    def test_a_slower_distribution_fails(self, factor: float) -> None:
        verdict = judge_histogram(HISTOGRAM, [lognormal(4200, factor=factor)],
                                  self.BASELINE, alpha=0.001)

        assert verdict.outcome == "fail"

    def test_the_same_distribution_passes(self) -> None:
        verdict = judge_histogram(HISTOGRAM, [lognormal(4200)], self.BASELINE, alpha=0.001)

        assert verdict.outcome == "pass"
        assert "cannot resolve" not in verdict.reason
        assert verdict.details["resolved_ratio"] == 1.0

    def test_the_ratio_interval_is_the_quantiles_buckets(self) -> None:
        verdict = judge_histogram(HISTOGRAM, [lognormal(4200)], self.BASELINE, alpha=0.001)

        assert verdict.details["ratio_low"] == pytest.approx(0.1 / 0.25)
        assert verdict.details["ratio_high"] == pytest.approx(0.25 / 0.1)
        assert "(from the buckets: between 0.4 and 2.5)" in verdict.reason

    def test_an_allowed_ratio_the_buckets_cannot_resolve_is_said_with_buckets_to_add(
            self) -> None:
        tolerant = HistogramMetric(name="latency", query="h{{version}}", allowed_ratio=1.2,
                                   min_samples=100)

        verdict = judge_histogram(tolerant, [lognormal(4200, factor=1.5)], self.BASELINE,
                                  alpha=0.001)

        assert verdict.outcome == "pass"
        assert verdict.details["resolved_ratio"] == pytest.approx(2.5)
        assert ("the buckets cannot resolve 1.2x at the baseline p99 (0.2329): the nearest "
                "boundaries compare the canary beyond 0.25 with the baseline beyond 0.1, "
                "2.5x, so only a change above about that can fail; add buckets at 0.12, "
                "0.3, 0.6") in verdict.reason

    def test_a_lower_score_distribution_fails_on_the_lower_tail(self) -> None:
        scores = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
                  0.75, 1.0, INF)  # example-model's score buckets
        metric = HistogramMetric(name="score", query="s{{version}}", quantile=0.9,
                                 direction="either", allowed_ratio=1.5, min_samples=100)
        baseline = [lognormal(19800, bounds=scores)]

        lower = judge_histogram(metric, [lognormal(4200, factor=0.5, bounds=scores)],
                                baseline, alpha=0.001)
        same = judge_histogram(metric, [lognormal(4200, bounds=scores)], baseline,
                               alpha=0.001)

        assert lower.outcome == "fail"
        assert "canary p90 is below 0.667x the baseline's" in lower.reason
        assert same.outcome == "pass"


class TestGauge:
    BASELINE = (0.60, 0.61, 0.59, 0.62, 0.58, 0.60, 0.61, 0.59, 0.60, 0.62)

    def test_shifted_scores_fail(self) -> None:
        canary = [v + 0.1 for v in self.BASELINE]

        verdict = judge_gauge(GAUGE, canary, self.BASELINE, alpha=0.01)

        assert verdict.outcome == "fail"
        assert verdict.details["shift"] == pytest.approx(0.1)
        assert verdict.effect == pytest.approx(1.1666, rel=1e-3)

    def test_significant_but_within_the_allowed_ratio_passes(self) -> None:
        canary = [v + 0.03 for v in self.BASELINE]
        tolerant = GaugeMetric(name="score", query="g{{version}}", allowed_ratio=1.1,
                               min_samples=5)

        assert judge_gauge(GAUGE, canary, self.BASELINE, 0.01).outcome == "fail"
        assert judge_gauge(tolerant, canary, self.BASELINE, 0.01).outcome == "pass"

    def test_tolerance_needs_the_interval_clear_of_a_fraction_of_the_shift(self) -> None:
        canary = [v + 0.012 for v in self.BASELINE]
        strict = GaugeMetric(name="s", query="g{{version}}", tolerance=0.0, min_samples=5)
        loose = GaugeMetric(name="s", query="g{{version}}", tolerance=1.0, min_samples=5)

        assert judge_gauge(strict, canary, self.BASELINE, 0.05).outcome == "fail"
        assert judge_gauge(loose, canary, self.BASELINE, 0.05).outcome == "pass"

    def test_decrease_only_fails_lower(self) -> None:
        lower = [v - 0.1 for v in self.BASELINE]
        decrease = GaugeMetric(name="s", query="g{{version}}", direction="decrease",
                               min_samples=5)

        assert judge_gauge(decrease, lower, self.BASELINE, 0.01).outcome == "fail"
        assert judge_gauge(GAUGE, lower, self.BASELINE, 0.01).outcome == "pass"

    def test_identical_and_constant_samples_pass(self) -> None:
        assert judge_gauge(GAUGE, self.BASELINE, self.BASELINE, 0.01).outcome == "pass"
        same = judge_gauge(GAUGE, [1.0] * 6, [1.0] * 8, 0.01)
        assert same.outcome == "pass"
        assert same.reason == "canary and baseline samples are all the same value"

    def test_nan_and_inf_are_removed_before_counting(self) -> None:
        canary = (math.nan, INF, *self.BASELINE[:4])

        verdict = judge_gauge(GAUGE, canary, self.BASELINE, 0.01)

        assert verdict.outcome == "inconclusive"
        assert "too few samples: canary 4" in verdict.reason


class TestZeroHeavyGauge:
    """Per-interval error rates, mostly exactly 0: 120 samples a side."""

    BASELINE = (0.0,) * 115 + (0.01, 0.02, 0.01, 0.03, 0.01)  # 5 non-zero

    def test_four_times_as_many_non_zero_intervals_fail(self) -> None:
        canary = (0.0,) * 100 + (0.01, 0.02, 0.01, 0.03, 0.01) * 4  # 20 non-zero

        verdict = judge_gauge(GAUGE, canary, self.BASELINE, alpha=0.01)

        assert verdict.outcome == "fail"
        assert verdict.reason.startswith("canary is higher than baseline: non-zero in 16.7% "
                                         "of canary samples vs 4.2% of baseline")
        assert verdict.details["share_p_value"] == pytest.approx(
            0.001232, rel=1e-3)  # scipy.stats.fisher_exact(..., alternative="greater")
        assert verdict.effect == pytest.approx(4.0)

    def test_kayentas_classifier_alone_passes_it_on_a_zero_interval(self) -> None:
        canary = (0.0,) * 100 + (0.01, 0.02, 0.01, 0.03, 0.01) * 4

        verdict = judge_gauge(GAUGE, canary, self.BASELINE, alpha=0.01, kayenta_only=True)

        assert verdict.outcome == "pass"
        assert (verdict.details["shift"], verdict.details["shift_lower"],
                verdict.details["shift_upper"]) == (0.0, 0.0, 0.0)

    def test_same_share_and_values_pass(self) -> None:
        canary = (0.0,) * 114 + (0.02, 0.01, 0.01, 0.03, 0.01, 0.02)

        verdict = judge_gauge(GAUGE, canary, self.BASELINE, alpha=0.01)

        assert verdict.outcome == "pass"
        assert verdict.reason.startswith("no change beyond tolerance")

    def test_larger_non_zero_values_fail_on_the_second_part(self) -> None:
        baseline = (0.0,) * 60 + tuple(0.01 + 0.001 * i for i in range(30))
        canary = (0.0,) * 60 + tuple(0.03 + 0.001 * i for i in range(30))

        verdict = judge_gauge(GAUGE, canary, baseline, alpha=0.01)

        assert verdict.outcome == "fail"
        assert verdict.details["share_p_value"] == pytest.approx(0.56, abs=0.01)  # same share
        assert verdict.details["shift"] == pytest.approx(0.02)

    def test_more_non_zero_intervals_within_the_allowed_ratio_pass(self) -> None:
        canary = (0.0,) * 100 + (0.01, 0.02, 0.01, 0.03, 0.01) * 4
        tolerant = GaugeMetric(name="e", query="g{{version}}", allowed_ratio=5,
                               min_samples=5)

        assert judge_gauge(tolerant, canary, self.BASELINE, 0.01).outcome == "pass"

    def test_a_baseline_without_non_zero_samples_does_not_hide_the_canary(self) -> None:
        canary = (0.0,) * 100 + (0.01,) * 20

        verdict = judge_gauge(GAUGE, canary, (0.0,) * 120, alpha=0.01)

        assert verdict.outcome == "fail"
        assert verdict.effect == math.inf

    def test_ordinary_samples_with_a_few_zeros_keep_kayentas_classifier(self) -> None:
        baseline = (0.0, *TestGauge.BASELINE[1:])
        canary = [v + 0.1 for v in TestGauge.BASELINE]

        verdict = judge_gauge(GAUGE, canary, baseline, alpha=0.01)

        assert verdict.test == "Mann-Whitney U, Hodges-Lehmann shift interval"
        assert verdict.outcome == "fail"
        assert "share_p_value" not in verdict.details


def verdict(name: str, outcome: str, critical: bool = False) -> Verdict:
    return Verdict(name=name, test="t", outcome=outcome, reason="r",  # type: ignore[arg-type]
                   critical=critical)


class TestDecide:
    def test_all_pass(self) -> None:
        decision = decide([verdict("a", "pass"), verdict("b", "pass")], 100)
        assert (decision.outcome, decision.score) == ("pass", 100.0)

    def test_a_critical_failure_sinks_even_with_no_data_around(self) -> None:
        decision = decide([verdict("a", "fail", critical=True), verdict("b", "inconclusive"),
                           verdict("c", "inconclusive")], 0)
        assert decision.outcome == "fail"
        assert decision.reason == "critical metric a failed"

    def test_half_the_metrics_without_data_is_inconclusive(self) -> None:
        decision = decide([verdict("a", "fail"), verdict("b", "inconclusive")], 100)
        assert (decision.outcome, decision.score) == ("inconclusive", 0.0)
        assert decision.reason.startswith("1 of 2 metrics have no data")

    def test_a_critical_metric_without_data_is_inconclusive(self) -> None:
        decision = decide([verdict("a", "pass"), verdict("b", "pass"),
                           verdict("c", "inconclusive", critical=True)], 100)
        assert decision.outcome == "inconclusive"

    def test_score_against_pass_score(self) -> None:
        verdicts = [verdict("a", "pass"), verdict("b", "pass"), verdict("c", "pass"),
                    verdict("d", "fail"), verdict("e", "inconclusive")]
        assert decide(verdicts, 100).outcome == "fail"
        assert decide(verdicts, 75).outcome == "pass"
        assert decide(verdicts, 75).score == 75.0


    def test_a_metric_without_data_is_named_not_ignored(self) -> None:
        verdicts = [verdict("a", "pass"), verdict("b", "pass"), verdict("latency", "inconclusive")]
        decision = decide(verdicts, 100)
        assert (decision.outcome, decision.score, decision.unjudged) == \
            ("pass", 100.0, ("latency",))
        assert decision.reason == ("score 100 >= 100 (2 of 3 metrics judged; NOT JUDGED, no "
                                   "data: latency)")
        assert decide(verdicts[:2], 100).unjudged == ()
        assert decide(verdicts[:2], 100).reason == "score 100 >= 100"

    def test_require_all_judged_makes_a_metric_without_data_inconclusive(self) -> None:
        verdicts = [verdict("a", "pass"), verdict("b", "pass"), verdict("latency", "inconclusive")]
        decision = decide(verdicts, 100, require_all_judged=True)
        assert (decision.outcome, decision.score, decision.unjudged) == \
            ("inconclusive", None, ("latency",))
        assert "analysis.require_all_judged" in decision.reason
        assert decide(verdicts[:2], 100, require_all_judged=True).outcome == "pass"
        failing = [verdict("a", "fail", critical=True), *verdicts[1:]]
        assert decide(failing, 100, require_all_judged=True).outcome == "fail"


def test_alpha_is_split_over_compare_metrics_and_looks() -> None:
    config = AnalysisConfig(metrics=(COUNTER, HISTOGRAM,
                                     ThresholdMetric(name="t", query="q", maximum=1)),
                            false_rollback_rate=0.01, looks=4)

    per_look = [metric_alpha(config, k, 4) for k in range(1, 5)]

    assert sum(per_look) == pytest.approx(0.005)  # two compare metrics
    assert per_look[0] == pytest.approx(0.005 * math.log1p((math.e - 1) / 4))
