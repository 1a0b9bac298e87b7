"""From per-metric verdicts to one decision: ship, no-ship, keep running, or invalid.

The rules and their exit codes: docs/statistics.md ("A/B engine", Decision).
"""

import math
from dataclasses import dataclass
from typing import Literal

from modelrail.ab.config import ExperimentConfig
from modelrail.ab.engine import MetricResult, Srm, check_srm, check_variants, evaluate
from modelrail.ab.stats import SRM_ALPHA, SufficientStats
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
        }


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


def decide(experiment: ExperimentConfig, stats: SufficientStats) -> Decision:
    """Analyse the statistics under the experiment's policy."""
    check_variants(experiment, stats)
    srm = check_srm(experiment, stats)
    metrics: tuple[MetricResult, ...] = ()
    if srm.passed:
        metrics = tuple(evaluate(experiment, stats))
        verdict, reason = _verdict(metrics)
    else:
        split = " / ".join(f"{v} {n}" for v, n in srm.units.items())
        verdict, reason = "invalid", (
            f"sample ratio mismatch: {split} is unlikely under the configured weights "
            f"(chi-squared p = {srm.p_value:.2g} < {SRM_ALPHA}); fix assignment or logging "
            "before reading any metric")
    return Decision(experiment=experiment.key, verdict=verdict, reason=reason, srm=srm,
                    metrics=metrics, alpha=experiment.alpha,
                    sequential=experiment.sequential.enabled)


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
