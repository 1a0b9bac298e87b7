"""Markdown for the job summary: one canary analysis, each metric with its query."""

from collections.abc import Mapping

from modelrail.canary.analyze import AnalysisResult
from modelrail.canary.judge import Number, Verdict

_ICON = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️"}


def analysis_markdown(result: AnalysisResult) -> str:
    request, decision = result.request, result.decision
    lines = [
        f"### {_ICON[decision.outcome]} Canary analysis: {decision.outcome} — "
        f"`{request.canary}` vs `{request.baseline}`",
        "",
        f"{decision.reason}. Look {request.look} of {request.looks}, window "
        f"{request.window} per step; false-rollback budget {result.false_rollback_rate:g} "
        f"per rollout ({result.alpha:.3g} per compare metric at this look).",
        "",
        "| metric | result | canary | baseline | effect | p-value | test |",
        "|---|:---:|---|---|---:|---:|---|",
    ]
    lines += [_row(verdict) for verdict in result.verdicts]
    lines += ["", "**Why:**", ""]
    lines += [f"- `{v.name}` {v.outcome}: {v.reason}" for v in result.verdicts]
    lines += ["", "<details><summary>Queries as sent to Prometheus</summary>", ""]
    for verdict in result.verdicts:
        for role, query in verdict.queries.items():
            lines += [f"`{verdict.name}` {role}:", "```promql", query, "```"]
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _row(verdict: Verdict) -> str:
    p_value = "—" if verdict.p_value is None else \
        f"{verdict.p_value:.3g} (alpha {verdict.alpha:.3g})" if verdict.alpha else \
        f"{verdict.p_value:.3g}"
    effect = "—" if verdict.effect is None else f"{verdict.effect:.3g}x"
    return (f"| `{verdict.name}`{' (critical)' if verdict.critical else ''} | "
            f"{_ICON[verdict.outcome]} | {_values(verdict.canary)} | "
            f"{_values(verdict.baseline)} | {effect} | {p_value} | {verdict.test} |")


def _values(values: Mapping[str, Number]) -> str:
    shown = [f"{key} {value:.4g}" for key, value in values.items() if value is not None]
    return ", ".join(shown) or "—"
