"""Markdown for humans: the gate table and the metrics diff, for PR comments and summaries."""

from collections.abc import Mapping
from typing import Any

from modelrail.gate.evaluate import GateResult, MetricVerdict
from modelrail.render.markdown import DASH, ICON, number

_RULE_SYMBOL = {True: "≥", False: "≤"}


def _change(verdict: MetricVerdict) -> str:
    change = verdict.change
    if change is None or verdict.champion is None:
        return DASH
    if verdict.champion == 0:
        return number(change, signed=True)
    return f"{number(change, signed=True)} ({change / abs(verdict.champion):+.2%})"


def _rules(verdict: MetricVerdict) -> str:
    symbol = _RULE_SYMBOL[verdict.greater_is_better]
    parts = []
    for check in verdict.checks:
        label = "threshold" if check.kind == "threshold" else "vs champion"
        parts.append(f"{label} {symbol} {check.required:.4g}")
    return "; ".join(parts) or "present and finite"


def gate_markdown(result: GateResult) -> str:
    icon, word = (ICON["pass"], "passed") if result.passed else (ICON["fail"], "failed")
    lines = [f"### {icon} Quality gate {word}: `{result.model}`", ""]
    if result.champion:
        lines.append(f"Compared with the champion `{result.champion}`.")
    for note in result.notes:
        lines.append(f"> **Note:** {note}")
    lines += [
        "",
        "| metric | candidate | champion | change | required | result |",
        "|---|---:|---:|---:|---|:---:|",
    ]
    for m in result.metrics:
        mark = ICON["pass" if m.passed else "fail"]
        lines.append(f"| `{m.name}` | {number(m.candidate)} | {number(m.champion)} | {_change(m)} "
                     f"| {_rules(m)} | {mark} |")
    failures = result.failures()
    if failures:
        lines += ["", "**Why it failed:**", ""]
        lines += [f"- {m.reason}" for m in failures]
    return "\n".join(lines) + "\n"


def metrics_diff_markdown(diff: Mapping[str, Any], base: str | None) -> str:
    """Render `dvc metrics diff --json` output: {file: {metric: {old, new, diff}}}."""
    title = f"Metrics vs base `{base[:12]}`" if base else "Metrics vs base"
    rows = []
    for file_name, metrics in sorted(diff.items()):
        if not isinstance(metrics, Mapping):
            continue
        for name, values in sorted(metrics.items()):
            if isinstance(values, Mapping):
                rows.append(f"| `{file_name}` | `{name}` | {number(values.get('old'))} "
                            f"| {number(values.get('new'))} "
                            f"| {number(values.get('diff'), signed=True, finite_only=True)} |")
    if not rows:
        return f"#### {title}\n\nNo metric changed.\n"
    header = ["| file | metric | base | PR | change |", "|---|---|---:|---:|---:|"]
    return "\n".join([f"#### {title}", "", *header, *rows]) + "\n"

