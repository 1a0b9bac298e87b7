"""A canary run as gauges (docs/openmetrics.md): per look x metric the values the judge saw
on each side, the bound, the p-value and alpha, the effect and the verdict; per look the
step's verdict. Stamped with the look's evaluation time (the step's end when it has none).

Verdicts are numbers so they can be graphed: pass 1, inconclusive 0, fail -1, error -2
(a step whose look never happened); the `verdict` label says it in words.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from modelrail.canary.config import AnalysisConfig, CompareMetric, MetricSpec, ThresholdMetric
from modelrail.canary.judge import Number, Verdict
from modelrail.canary.loop import CanaryResult, StepRecord
from modelrail.plumbing.openmetrics import Gauge

VERDICT_VALUES = {"pass": 1.0, "inconclusive": 0.0, "fail": -1.0, "error": -2.0}


@dataclass(frozen=True)
class Where:
    """What every sample is labelled with: the rollout and the model being rolled out."""

    rollout: str
    namespace: str
    model: str


def _families() -> dict[str, Gauge]:
    return {family.name: family for family in (
        Gauge("modelrail_canary_step_verdict",
              "Verdict of a canary step's look: 1 pass, 0 inconclusive, -1 fail, -2 error"),
        Gauge("modelrail_canary_verdict",
              "Verdict of one metric at a look: 1 pass, 0 inconclusive, -1 fail"),
        Gauge("modelrail_canary_value",
              "A value the judge saw for one side (canary or baseline), pooled over the "
              "steps so far; stat names it (rate, p99, mean, count, ...)"),
        Gauge("modelrail_canary_bound",
              "The limit of a metric: min or max (threshold), allowed_ratio (compare)"),
        Gauge("modelrail_canary_p_value", "p-value of a compare metric's test at a look"),
        Gauge("modelrail_canary_alpha",
              "Significance level a compare metric's test spent at a look"),
        Gauge("modelrail_canary_effect", "Canary / baseline ratio of a compare metric"),
    )}


def canary_gauges(result: CanaryResult, analysis: AnalysisConfig, where: Where) -> list[Gauge]:
    """Every step of `result` as gauge samples (no step judged: no samples)."""
    families = _families()
    specs = {metric.name: metric for metric in analysis.metrics}
    for number, step in enumerate(result.steps, start=1):
        step_labels = {"rollout": where.rollout, "namespace": where.namespace,
                       "model": where.model, "version": result.plan.version,
                       "baseline": result.plan.baseline, "step": str(number),
                       "weight": str(step.weight)}
        stamp = _timestamp(step)
        families["modelrail_canary_step_verdict"].add(
            {**step_labels, "verdict": step.verdict}, VERDICT_VALUES[step.verdict], stamp)
        for verdict in step.analysis.verdicts if step.analysis else ():
            labels = {**step_labels, "metric": verdict.name}
            _add_verdict(families, labels, verdict, specs.get(verdict.name), stamp)
    return list(families.values())


def _add_verdict(families: Mapping[str, Gauge], labels: Mapping[str, str], verdict: Verdict,
                 spec: MetricSpec | None, stamp: int) -> None:
    families["modelrail_canary_verdict"].add({**labels, "verdict": verdict.outcome},
                                             VERDICT_VALUES[verdict.outcome], stamp)
    for side, values in (("canary", verdict.canary), ("baseline", verdict.baseline)):
        for stat, value in _finite(values):
            families["modelrail_canary_value"].add({**labels, "side": side, "stat": stat},
                                                   value, stamp)
    for bound, value in _bounds(spec):
        families["modelrail_canary_bound"].add({**labels, "bound": bound}, value, stamp)
    tested = {"p_value": verdict.p_value, "alpha": verdict.alpha, "effect": verdict.effect}
    for name, result in _finite(tested):
        families[f"modelrail_canary_{name}"].add(labels, result, stamp)


def _finite(values: Mapping[str, Number]) -> list[tuple[str, float]]:
    return [(key, float(value)) for key, value in values.items()
            if value is not None and math.isfinite(value)]


def _bounds(spec: MetricSpec | None) -> list[tuple[str, float]]:
    if isinstance(spec, ThresholdMetric):
        return [(name, value) for name, value in (("min", spec.minimum), ("max", spec.maximum))
                if value is not None]
    if isinstance(spec, CompareMetric):
        return [("allowed_ratio", spec.allowed_ratio)]
    return []


def _timestamp(step: StepRecord) -> int:
    """When the look was evaluated, in whole Unix seconds; the step's end without one."""
    if step.analysis is not None:
        return int(step.analysis.request.time)
    return int(datetime.strptime(step.ended, "%Y-%m-%dT%H:%M:%S%z").timestamp())
