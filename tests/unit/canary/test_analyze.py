"""One look of the analysis (modelrail.canary.analyze) against a scripted Prometheus: what
Prometheus answers that is not a usable number (+Inf, -Inf, NaN, out of range, a negative
count) is a data problem judged by the metric's `no_data`, never an exception."""

import math

import pytest
from modelrail.canary.analyze import AnalysisRequest, analyze
from modelrail.canary.config import (
    AnalysisConfig,
    CounterMetric,
    GaugeMetric,
    HistogramMetric,
    MetricSpec,
    NoData,
    ThresholdMetric,
)

from tests.unit.canary.fakes import Answer, ScriptedPrometheus

NOW = 1_800_000_000.0


def _look(metric: MetricSpec, values: dict[str, Answer],
          look: int = 2) -> tuple[str, str, str]:
    request = AnalysisRequest(canary="2", baseline="1", time=NOW, window="60s", look=look,
                              looks=3)
    result = analyze(AnalysisConfig(metrics=(metric,)), request, ScriptedPrometheus(values))
    verdict = result.verdicts[0]
    return verdict.outcome, verdict.reason, result.decision.outcome


def _counter(no_data: NoData = "inconclusive") -> CounterMetric:
    return CounterMetric(name="error_rate", query="canary_errors{version='{{version}}'}",
                         total="canary_requests{version='{{version}}'}", min_samples=10,
                         no_data=no_data)


def _both_sides(errors: float, requests: float = 1000.0) -> dict[str, Answer]:
    return {"canary_errors": errors, "canary_requests": requests}


BAD = [math.inf, -math.inf, 1e300, -5.0]


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("no_data", ["inconclusive", "fail"])
def test_a_counter_value_that_is_not_a_count_takes_the_no_data_outcome(
        value: float, no_data: NoData) -> None:
    outcome, reason, _ = _look(_counter(no_data), _both_sides(value))
    assert outcome == no_data
    assert f"(no_data: {no_data})" in reason
    assert "canary" in reason  # which query said it


def test_a_huge_total_is_not_a_count_either() -> None:
    outcome, reason, _ = _look(_counter(), _both_sides(3.0, requests=1e300))
    assert outcome == "inconclusive"
    assert "canary_total" in reason


def test_nan_points_are_steps_without_data_as_before() -> None:
    outcome, reason, _ = _look(_counter(), _both_sides(math.nan, requests=math.nan))
    assert outcome == "inconclusive"
    assert "no requests in the window" in reason


def test_finite_counts_up_to_the_largest_exact_one_are_judged() -> None:
    outcome, _, _ = _look(_counter(), _both_sides(2.0**52, requests=2.0**53))
    assert outcome == "pass"
    outcome, _, _ = _look(_counter(), _both_sides(2.0**53, requests=2.0**53))
    assert outcome == "pass"


@pytest.mark.parametrize("value", [math.inf, -math.inf, 1e300])
def test_a_threshold_value_that_is_not_a_number_takes_the_no_data_outcome(
        value: float) -> None:
    metric = ThresholdMetric(name="slo", query="canary_rate{version='{{version}}'}",
                             maximum=0.05, no_data="fail")
    outcome, reason, decision = _look(metric, {"canary_rate": value})
    assert (outcome, decision) == ("fail", "fail")
    assert "no data" in reason


def test_a_threshold_nan_is_no_value_as_before() -> None:
    metric = ThresholdMetric(name="slo", query="canary_rate{version='{{version}}'}",
                             maximum=0.05)
    outcome, reason, _ = _look(metric, {"canary_rate": math.nan})
    assert outcome == "inconclusive"
    assert "NaN" in reason


@pytest.mark.parametrize("value", [math.inf, -math.inf, 1e300, -1.0])
def test_a_histogram_bucket_that_is_not_a_count_takes_the_no_data_outcome(
        value: float) -> None:
    metric = HistogramMetric(name="latency", query="canary_bucket{version='{{version}}'}",
                             min_samples=10)
    buckets = [("0.1", 500.0), ("0.5", value), ("+Inf", 1000.0)]
    outcome, reason, _ = _look(metric, {"canary_bucket": buckets})
    assert outcome == "inconclusive"
    assert "le=0.5" in reason or "0.5" in reason


@pytest.mark.parametrize("value", [math.inf, -math.inf, 1e300])
def test_a_gauge_sample_that_is_not_a_number_takes_the_no_data_outcome(value: float) -> None:
    metric = GaugeMetric(name="score", query="canary_score{version='{{version}}'}",
                         min_samples=1, no_data="fail")
    outcome, _, _ = _look(metric, {"canary_score": value})
    assert outcome == "fail"


def test_large_finite_gauge_samples_are_judged() -> None:
    metric = GaugeMetric(name="bytes", query="canary_bytes{version='{{version}}'}",
                         min_samples=1)
    outcome, _, _ = _look(metric, {"canary_bytes": 1e149})
    assert outcome == "pass"
