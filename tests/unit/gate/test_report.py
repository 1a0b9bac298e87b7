"""The gate's Markdown (PR comment, job summary): data from the pull request's own files
(metric names, notes, reasons, the model name, the base sha) opens no Markdown."""

from modelrail.gate.config import MetricThreshold
from modelrail.gate.evaluate import evaluate_gate
from modelrail.gate.report import gate_markdown, metrics_diff_markdown

from tests.support.markdown_check import HOSTILE, assert_inert


def report(name: str) -> str:
    rules = {name: MetricThreshold(greater_is_better=True, threshold=0.8),
             "missing": MetricThreshold(greater_is_better=True, min_relative_change=0.1)}
    result = evaluate_gate(name, rules, {name: 0.7, f"{name} extra": 1.0}, {}, name)
    return gate_markdown(result)


def test_gate_markdown_with_hostile_names_and_reasons() -> None:
    hostile = report(HOSTILE)

    assert_inert(report("auc"), hostile)
    assert hostile.startswith("### ❌ Quality gate failed: <code>x\\|y")
    assert [line for line in hostile.splitlines() if line.startswith("#")] == \
        hostile.splitlines()[:1]


def test_metrics_diff_with_hostile_file_metric_and_base() -> None:
    def diff(name: str) -> str:
        return metrics_diff_markdown(
            {name: {name: {"old": 0.8, "new": 0.9, "diff": 0.1}}, "m.json": "skipped"}, name)

    assert_inert(diff("auc"), diff(HOSTILE))
