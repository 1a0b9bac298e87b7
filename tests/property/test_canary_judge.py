"""Property: whatever bucket layout, counts and samples Prometheus returns (after
`canary/analyze.py`'s checks: finite, counts non-negative), the histogram and gauge judges
give a verdict that serialises, never an exception; and the same data on both sides is
never a failure."""

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st
from modelrail.canary.config import GaugeMetric, HistogramMetric
from modelrail.canary.judge import Histogram, Verdict, judge_gauge, judge_histogram

from tests.property.strategies import examples

BOUNDS = st.lists(st.floats(min_value=-10.0, max_value=1e6, allow_nan=False)
                  .filter(lambda v: v != 0.0) | st.just(0.0), min_size=1, max_size=12,
                  unique=True).map(sorted)
COUNTS = st.lists(st.integers(min_value=0, max_value=2000) | st.floats(0.0, 1e5),
                  min_size=13, max_size=13)
HISTOGRAMS = st.builds(
    lambda bounds, counts: Histogram.from_counts(dict(zip([*bounds, math.inf], counts,
                                                          strict=False))),
    BOUNDS, COUNTS)
HISTOGRAM_METRICS = st.builds(
    HistogramMetric, name=st.just("latency"), query=st.just("q{{version}}"),
    quantile=st.floats(0.01, 0.999), direction=st.sampled_from(["increase", "decrease",
                                                                "either"]),
    allowed_ratio=st.floats(1.0, 5.0), min_samples=st.integers(0, 50))
SAMPLES = st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.01, 1.0]) |
                   st.floats(-1e6, 1e6, allow_nan=False), min_size=0, max_size=40)
GAUGE_METRICS = st.builds(
    GaugeMetric, name=st.just("score"), query=st.just("q{{version}}"),
    direction=st.sampled_from(["increase", "decrease", "either"]),
    allowed_ratio=st.floats(1.0, 5.0), tolerance=st.floats(0.0, 2.0),
    min_samples=st.integers(0, 10))
ALPHAS = st.floats(1e-6, 0.5)


def assert_serialises(verdict: Verdict) -> None:
    assert verdict.outcome in ("pass", "fail", "inconclusive")
    json.dumps(verdict.to_json(), allow_nan=False)


@settings(max_examples=examples(300))
@given(HISTOGRAM_METRICS, st.lists(st.tuples(HISTOGRAMS, HISTOGRAMS), min_size=1,
                                   max_size=3), ALPHAS)
def test_histogram_judge_always_gives_a_verdict(metric: HistogramMetric,
                                                steps: list[tuple[Histogram, Histogram]],
                                                alpha: float) -> None:
    verdict = judge_histogram(metric, [c for c, _ in steps], [b for _, b in steps], alpha)

    assert_serialises(verdict)


@settings(max_examples=examples(200))
@given(HISTOGRAM_METRICS, st.lists(HISTOGRAMS, min_size=1, max_size=3), ALPHAS)
def test_the_same_histograms_never_fail(metric: HistogramMetric, steps: list[Histogram],
                                        alpha: float) -> None:
    assert judge_histogram(metric, steps, steps, min(alpha, 0.2)).outcome != "fail" or \
        metric.no_data == "fail"


@settings(max_examples=examples(300))
@given(GAUGE_METRICS, SAMPLES, SAMPLES, ALPHAS)
def test_gauge_judge_always_gives_a_verdict(metric: GaugeMetric, canary: list[float],
                                            baseline: list[float], alpha: float) -> None:
    assert_serialises(judge_gauge(metric, canary, baseline, alpha))


@settings(max_examples=examples(200))
@given(GAUGE_METRICS, SAMPLES, ALPHAS)
def test_the_same_samples_never_fail(metric: GaugeMetric, samples: list[float],
                                     alpha: float) -> None:
    assert judge_gauge(metric, samples, samples, min(alpha, 0.2)).outcome != "fail"
