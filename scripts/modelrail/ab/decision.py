"""From per-metric verdicts to one decision: ship, no-ship, keep running, or invalid.

The rules and their exit codes: docs/statistics.md ("A/B engine", Decision).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from modelrail.ab.config import ExperimentConfig
from modelrail.ab.engine import MetricResult, Srm, check_srm, check_variants, evaluate
from modelrail.ab.looks import LookPlan, LookSummary
from modelrail.ab.power import Design, Outlook, outlook
from modelrail.ab.stats import SRM_ALPHA, Alternative, SufficientStats
from modelrail.errors import ExitCode

Verdict = Literal["ship", "no-ship", "keep-running", "invalid"]
_EXIT: dict[Verdict, ExitCode] = {"ship": ExitCode.OK, "no-ship": ExitCode.REJECTED,
                                  "invalid": ExitCode.REJECTED,
                                  "keep-running": ExitCode.INCONCLUSIVE}


@dataclass(frozen=True)
class Decision:
    experiment: str
    verdict: Verdict
    reason: str
    srm: Srm
    metrics: tuple[MetricResult, ...]
    alpha: float
    sequential: bool
    # keep-running only: each primary's outlook, and the units exposed per day so far
    outlook: Mapping[str, Outlook] = field(default_factory=dict)
    units_per_day: float | None = None
    looks: LookSummary | None = None  # group-sequential only: the look spent at

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT[self.verdict]

    def to_json(self) -> dict[str, object]:
        return {
            "experiment": self.experiment,
            "decision": self.verdict,
            "reason": self.reason,
            "alpha": self.alpha,
            "sequential": self.sequential,
            "srm": {"p_value": self.srm.p_value, "passed": self.srm.passed,
                    "units": dict(self.srm.units), "weights": dict(self.srm.weights)},
            "metrics": {m.name: _metric_json(m) for m in self.metrics},
            "outlook": {name: self._outlook_json(o) for name, o in self.outlook.items()},
            "units_per_day": self.units_per_day,
            "group_sequential": None if self.looks is None else self.looks.to_json(),
        }


    def _outlook_json(self, outlook: Outlook) -> dict[str, object]:
        days = outlook.days_more(self.units_per_day)
        return {"power": outlook.power, "mde": outlook.mde, "target": outlook.target,
                "units_now": outlook.units_now, "units_needed": outlook.units_needed,
                "units_more": outlook.units_more, "days_more": days}


def _finite(value: float) -> float | None:
    """JSON has no infinity: an open side of a one-sided interval is null."""
    return value if math.isfinite(value) else None


def _metric_json(result: MetricResult) -> dict[str, object]:
    payload: dict[str, object] = {
        "role": result.role,
        "outcome": result.outcome,
        "passed": result.passed,
        "difference": "relative" if result.relative else "absolute",
        "lift": result.test.estimate,
        "ci": [_finite(result.test.low), _finite(result.test.high)],
        "p_value": result.test.p_value,
        "means": dict(result.means),
    }
    if result.adjusted_p_value is not None:
        payload["adjusted_p_value"] = result.adjusted_p_value
    if result.margin is not None:
        payload["margin"] = result.margin
    return payload


def decide(experiment: ExperimentConfig, stats: SufficientStats,
           units_per_day: float | None = None, looks: LookPlan | None = None) -> Decision:
    """Analyse the statistics under the experiment's policy; `units_per_day` (the
    enrolment rate so far, when the input has timestamps) turns units into days; `looks`
    is the current look of a group-sequential experiment."""
    check_variants(experiment, stats)
    srm = check_srm(experiment, stats)
    metrics: tuple[MetricResult, ...] = ()
    outlooks: dict[str, Outlook] = {}
    if srm.passed:
        metrics = tuple(evaluate(experiment, stats, looks))
        verdict, reason = _verdict(metrics)
        if verdict == "keep-running" and looks is not None and looks.fractions[-1] >= 1.0:
            verdict, reason = "no-ship", (
                f"reached the planned maximum of {looks.planned_units} units without a "
                f"decision: {reason}")
        elif verdict == "keep-running" and looks is None:
            outlooks = primary_outlooks(experiment, metrics)
    else:
        split = " / ".join(f"{v} {n}" for v, n in srm.units.items())
        verdict, reason = "invalid", (
            f"sample ratio mismatch: {split} is unlikely under the configured weights "
            f"(chi-squared p = {srm.p_value:.2g} < {SRM_ALPHA}); fix assignment or logging "
            "before reading any metric")
    return Decision(experiment=experiment.key, verdict=verdict, reason=reason, srm=srm,
                    metrics=metrics, alpha=experiment.alpha,
                    sequential=experiment.sequential.enabled, outlook=outlooks,
                    units_per_day=units_per_day,
                    looks=None if looks is None else _look_summary(experiment, looks, metrics))


def _look_summary(experiment: ExperimentConfig, looks: LookPlan,
                  metrics: tuple[MetricResult, ...]) -> LookSummary:
    """The look for the reports; with `target_effect`, each primary's power at the
    planned maximum, at Holm's strictest level (the outlook's rule)."""
    alpha, sides = experiment.alpha / len(experiment.primary), _primary_sides(experiment)
    power = {}
    for result in metrics:
        target = _target(experiment, result)
        if result.role != "primary" or result.effect is None or target is None:
            continue
        power[result.name] = looks.power_at_maximum(alpha, sides[result.name],
                                                    result.effect, target)
    return looks.summary(alpha, sides, power)


def _target(experiment: ExperimentConfig, result: MetricResult) -> float | None:
    """`target_effect` on the metric's own scale: relative, or times the control's mean."""
    target = experiment.target_effect
    if target is not None and not result.relative:
        target *= abs(result.means[experiment.control])
    return target


def _primary_sides(experiment: ExperimentConfig) -> dict[str, Alternative]:
    """The side each primary is tested on; the reported bounds are at Holm's first level."""
    return {name: "two-sided" if experiment.sided == "two"
            else "greater" if experiment.greater_is_better(name) else "less"
            for name in experiment.primary}


def primary_outlooks(experiment: ExperimentConfig,
                     metrics: tuple[MetricResult, ...]) -> dict[str, Outlook]:
    """Each primary's MDE now and the units for `target_effect`, under the decision's
    test: Holm's strictest alpha (alpha / primaries), its sides, fixed or always valid."""
    design = Design(alpha=experiment.alpha / len(experiment.primary),
                    alternative="two-sided" if experiment.sided == "two" else "greater",
                    tuning=experiment.sequential.tuning
                    if experiment.sequential.enabled else None)
    outlooks = {}
    for result in metrics:
        if result.role != "primary" or result.effect is None:
            continue
        outlooks[result.name] = outlook(result.effect, design, _target(experiment, result))
    return outlooks


def _verdict(metrics: tuple[MetricResult, ...]) -> tuple[Verdict, str]:
    harms = [_harm(m) for m in metrics if m.role != "secondary"
             and m.outcome in ("worse", "inferior")]
    if harms:
        return "no-ship", "; ".join(harms)
    pending = [_pending(m) for m in metrics if m.passed is False]
    if pending:
        return "keep-running", "; ".join(pending)
    return "ship", "every primary metric improved and every guardrail held"


def _harm(result: MetricResult) -> str:
    if result.role == "guardrail":
        return (f"guardrail {result.name} got worse by more than its "
                f"{result.margin:.1%} margin")
    return f"primary metric {result.name} got significantly worse"


def _pending(result: MetricResult) -> str:
    if result.role == "guardrail":
        return (f"guardrail {result.name} is not yet shown within its "
                f"{result.margin:.1%} margin")
    return f"primary metric {result.name} has no significant improvement yet"
