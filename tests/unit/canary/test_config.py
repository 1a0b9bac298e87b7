"""The analysis section: strict keys, errors naming the file and dotted key, templates."""

from pathlib import Path

import pytest
import yaml
from modelrail.canary.config import (
    AnalysisConfig,
    CounterMetric,
    GaugeMetric,
    HistogramMetric,
    ThresholdMetric,
    parse_analysis,
    placeholders,
    resolve,
)
from modelrail.config import load_config
from modelrail.errors import UsageError
from modelrail.plumbing.policy_section import Section, duration_seconds

EXAMPLE = """\
false_rollback_rate: 0.02
looks: 4
window: 10m
pass_score: 90
metrics:
  error_rate:
    kind: compare
    data: counter
    query: 'sum(increase(modelrail_requests_total{version="{{version}}",code=~"5.."}[{{window}}]))'
    total: 'sum(increase(modelrail_requests_total{version="{{version}}"}[{{window}}]))'
    critical: true
    min_samples: 500
  latency_p99:
    kind: compare
    data: histogram
    query: 'sum by (le) (increase(
      modelrail_request_duration_seconds_bucket{version="{{ version }}"}[{{window}}]))'
    allowed_ratio: 1.2
  prediction_score:
    kind: compare
    data: gauge
    query: 'avg(modelrail_prediction_score{namespace="{{namespace}}",version="{{version}}"})'
    direction: either
    step: 1m
    tolerance: 0.1
    no_data: fail
  error_rate_slo:
    kind: threshold
    query: 'sum(rate(x{version="{{version}}"}[{{window}}]))'
    max: 0.05
"""
SOURCE = Path("policy/modelrail.yaml")


def parse(text: str) -> AnalysisConfig:
    return parse_analysis(Section(yaml.safe_load(text), "analysis", SOURCE))


def error(text: str) -> str:
    with pytest.raises(UsageError) as caught:
        parse(text)
    message = str(caught.value)
    assert message.startswith(f"{SOURCE}: ")
    return message


def test_full_example() -> None:
    config = parse(EXAMPLE)

    assert (config.false_rollback_rate, config.looks, config.window, config.pass_score) == \
        (0.02, 4, "10m", 90.0)
    errors, latency, score, slo = config.metrics
    assert errors == CounterMetric(
        name="error_rate", critical=True, min_samples=500,
        query='sum(increase(modelrail_requests_total{version="{{version}}",code=~"5.."}'
              "[{{window}}]))",
        total='sum(increase(modelrail_requests_total{version="{{version}}"}[{{window}}]))')
    assert latency == HistogramMetric(name="latency_p99", query=latency.query,
                                      allowed_ratio=1.2, min_samples=100, quantile=0.99)
    assert score == GaugeMetric(name="prediction_score", query=score.query,
                                direction="either", step="1m", tolerance=0.1,
                                no_data="fail", min_samples=10)
    assert slo == ThresholdMetric(name="error_rate_slo", query=slo.query, maximum=0.05)
    assert config.compare_count() == 3


def test_defaults() -> None:
    config = parse("metrics: {e: {kind: threshold, query: 'up', min: 1}}")

    assert config == AnalysisConfig(
        metrics=(ThresholdMetric(name="e", query="up", minimum=1.0),), false_rollback_rate=0.01,
        looks=None, window=None, pass_score=100.0)
    assert config.metrics[0].no_data == "inconclusive"
    assert config.require_all_judged is False


def test_require_all_judged() -> None:
    text = "metrics: {e: {kind: threshold, query: 'up', min: 1}}\nrequire_all_judged: true"
    assert parse(text).require_all_judged is True


@pytest.mark.parametrize(("text", "expected"), [
    ("metrics: {e: {kind: threshold, query: up, max: 1, direction: increase}}",
     "unknown key 'analysis.metrics.e.direction' (allowed here: critical, kind, max, min, "
     "no_data, query)"),
    ("metrics: {e: {kind: compare, data: gauge, query: 'g{{version}}', total: x}}",
     "unknown key 'analysis.metrics.e.total'"),
    ("metrics: {e: {kind: threshold, query: up, max: 1}}\nlook: 3",
     "unknown key 'analysis.look'"),
    ("metrics: {e: {kind: thresold, query: up}}",
     "analysis.metrics.e.kind: expected one of threshold, compare, got 'thresold'"),
    ("metrics: {e: {query: up}}", "analysis.metrics.e.kind: is required (threshold, compare)"),
    ("metrics: {e: {kind: compare, query: 'q{{version}}'}}",
     "analysis.metrics.e.data: is required (counter, histogram, gauge)"),
    ("metrics: {e: {kind: threshold, query: up}}",
     "analysis.metrics.e.max: a threshold metric needs min, max or both"),
    ("metrics: {e: {kind: threshold, query: up, min: 2, max: 1}}",
     "analysis.metrics.e.min: 2 is above max 1"),
    ("metrics: {e: {kind: threshold, query: 'x{{versoin}}', max: 1}}",
     "analysis.metrics.e.query: unknown placeholder {{versoin}}"),
    ("metrics: {e: {kind: compare, data: gauge, query: 'avg(score)'}}",
     "analysis.metrics.e.query: a compare metric's query must select {{version}}"),
    ("metrics: {e: {kind: compare, data: counter, query: 'e{{version}}', total: 't'}}",
     "analysis.metrics.e.total: must select {{version}}"),
    ("metrics: {e: {kind: compare, data: counter, query: 'e{{version}}'}}",
     "analysis.metrics.e.total: is required"),
    ("metrics: {e: {kind: compare, data: gauge, query: 'g{{version}}', allowed_ratio: 0.9}}",
     "analysis.metrics.e.allowed_ratio: expected a ratio >= 1 (1 allows no change), got 0.9"),
    ("metrics: {e: {kind: compare, data: histogram, query: 'h{{version}}', quantile: 99}}",
     "analysis.metrics.e.quantile: expected a quantile in (0, 1), got 99"),
    ("metrics: {e: {kind: compare, data: gauge, query: 'g{{version}}', step: 30}}",
     "analysis.metrics.e.step: expected a non-empty string, got int 30"),
    ("metrics: {e: {kind: compare, data: gauge, query: 'g{{version}}', step: 5 min}}",
     "analysis.metrics.e.step: expected a Prometheus duration such as 30s, 5m or 1h"),
    ("metrics: {e: {kind: compare, data: gauge, query: 'g{{version}}', min_samples: 2.5}}",
     "analysis.metrics.e.min_samples: expected a whole number >= 0, got 2.5"),
    ("metrics: {e: {kind: threshold, query: up, max: 1, critical: 'yes'}}",
     "analysis.metrics.e.critical: expected true or false"),
    ("metrics: {e: {kind: threshold, query: up, max: 1, no_data: pass}}",
     "analysis.metrics.e.no_data: expected one of fail, inconclusive, got 'pass'"),
    ("metrics: {'bad name': {kind: threshold, query: up, max: 1}}",
     "analysis.metrics.bad name: is not a valid metric name"),
    ("metrics: {}", "analysis.metrics: needs at least one metric"),
    ("looks: 4", "analysis.metrics: expected a mapping, got nothing"),
    ("metrics: {e: {kind: threshold, query: up, max: 1}}\nlooks: 0",
     "analysis.looks: expected a whole number >= 1, got 0"),
    ("metrics: {e: {kind: threshold, query: up, max: 1}}\nfalse_rollback_rate: 0",
     "analysis.false_rollback_rate: expected a number in (0, 0.5], got 0"),
    ("metrics: {e: {kind: threshold, query: up, max: 1}}\npass_score: 101",
     "analysis.pass_score: expected a percentage from 0 to 100, got 101"),
    ("metrics: {e: {kind: threshold, query: up, max: 1}}\nwindow: forever",
     "analysis.window: expected a Prometheus duration"),
    ("metrics: {e: {kind: threshold, query: up, max: 1}}\nrequire_all_judged: 'yes'",
     "analysis.require_all_judged: expected true or false, got str"),
    ("metrics: {e: {kind: threshold, query: up, max: 1}}\nrequire_all_judge: true",
     "unknown key 'analysis.require_all_judge'"),
])
def test_errors_name_the_dotted_key(text: str, expected: str) -> None:
    assert expected in error(text)


def test_load_config_reads_the_analysis_section(tmp_path: Path) -> None:
    path = tmp_path / "modelrail.yaml"
    path.write_text("model: ranker\nanalysis:\n" + "".join(
        f"  {line}\n" for line in EXAMPLE.splitlines()), encoding="utf-8")

    config = load_config(path)

    assert config.require_analysis() == parse(EXAMPLE)
    no_analysis = tmp_path / "other.yaml"
    no_analysis.write_text("model: ranker\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"other\.yaml: analysis\.metrics is required"):
        load_config(no_analysis).require_analysis()


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400),
                                               ("1d", 86400), ("250ms", 0.25), ("2w", 1209600)])
def test_durations(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m", "5 m", "1.5h", "5mm", "-5m"])
def test_not_durations(text: str) -> None:
    assert duration_seconds(text) is None


def test_templates_resolve_every_placeholder() -> None:
    template = ('x{version="{{version}}",ns="{{ namespace }}",c="{{canary_version}}",'
                'b="{{baseline_version}}",r="{{rollout}}"}[{{window}}]')
    values: dict[str, str | None] = {
        "version": "12", "canary_version": "12", "baseline_version": "11", "namespace": "ml",
        "rollout": "ranker", "window": "5m"}

    assert placeholders(template) == set(values)
    assert resolve(template, values) == 'x{version="12",ns="ml",c="12",b="11",r="ranker"}[5m]'


def test_a_missing_value_names_its_flag() -> None:
    with pytest.raises(UsageError, match=r"uses \{\{namespace\}\} but no namespace was given "
                                         r"\(--namespace\)"):
        resolve('x{ns="{{namespace}}"}', {"namespace": None})


@pytest.mark.parametrize("value", ['12"}) or vector(1', "a\\b", "a\nb", "{x}", "", "a'b"])
def test_values_that_could_escape_a_label_string_are_refused(value: str) -> None:
    with pytest.raises(UsageError, match="cannot be placed in a PromQL label value"):
        resolve('x{version="{{version}}"}', {"version": value})
