"""Markdown for the job summary: the decision, one row per metric, the SRM check."""

import math

from modelrail.ab.decision import Decision
from modelrail.ab.engine import MetricResult
from modelrail.ab.stats import SRM_ALPHA

_ICON = {"ship": "✅", "no-ship": "❌", "keep-running": "⏳", "invalid": "⚠️"}


def decision_markdown(decision: Decision) -> str:
    lines = [f"### {_ICON[decision.verdict]} A/B test `{decision.experiment}`: "
             f"**{decision.verdict}**", "", decision.reason, ""]
    if decision.metrics:
        interval = "always-valid interval" if decision.sequential else "interval"
        lines += [f"| metric | role | lift | {1 - decision.alpha:.0%} {interval} "
                  "| p-value | verdict |", "|---|---|---:|---|---:|---|"]
        lines += [_row(m) for m in decision.metrics]
        lines.append("")
    srm = decision.srm
    split = " · ".join(f"{v} {n}" for v, n in srm.units.items())
    lines.append(f"Sample ratio: {split}; chi-squared p = {srm.p_value:.3g} "
                 f"({'ok' if srm.passed else 'MISMATCH'}, alarm below {SRM_ALPHA}).")
    return "\n".join(lines) + "\n"


def lift_text(value: float, relative: bool) -> str:
    return f"{value:+.2%}" if relative else f"{value:+.4g}"


def interval_text(result: MetricResult) -> str:
    """[low, high], or the one bound of a one-sided interval."""
    low, high = result.test.low, result.test.high
    if not math.isfinite(high):
        return f"≥ {lift_text(low, result.relative)}"
    if not math.isfinite(low):
        return f"≤ {lift_text(high, result.relative)}"
    return f"[{lift_text(low, result.relative)}, {lift_text(high, result.relative)}]"


def _row(result: MetricResult) -> str:
    test = result.test
    role = result.role if result.margin is None \
        else f"guardrail (margin {result.margin:.1%})"
    p_value = f"{test.p_value:.3g}"
    if result.adjusted_p_value is not None:
        p_value += f" (Holm {result.adjusted_p_value:.3g})"
    return (f"| `{result.name}` | {role} | {lift_text(test.estimate, result.relative)} "
            f"| {interval_text(result)} | {p_value} | {result.outcome} |")
