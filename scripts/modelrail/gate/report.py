"""Markdown for humans: the gate table and the metrics diff, for PR comments and summaries.

Every name, note and reason goes through render.markdown's escaper: in `pr-test.yml` they
come from the pull request's own files.
"""

from collections.abc import Mapping
from typing import Any

from modelrail.gate.evaluate import GateResult, MetricVerdict
from modelrail.render.markdown import DASH, ICON, code, inline, number

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
    lines = [f"### {icon} Quality gate {word}: {code(result.model)}", ""]
    if result.champion:
        lines.append(f"Compared with the champion {code(result.champion)}.")
    for note in result.notes:
        lines.append(f"> **Note:** {inline(note)}")
    lines += [
        "",
        "| metric | candidate | champion | change | required | result |",
        "|---|---:|---:|---:|---|:---:|",
    ]
    for m in result.metrics:
        mark = ICON["pass" if m.passed else "fail"]
        lines.append(f"| {code(m.name)} | {number(m.candidate)} | {number(m.champion)} "
                     f"| {_change(m)} | {_rules(m)} | {mark} |")
    failures = result.failures()
    if failures:
        lines += ["", "**Why it failed:**", ""]
        lines += [f"- {inline(m.reason)}" for m in failures]
    return "\n".join(lines) + "\n"


def metrics_diff_markdown(diff: Mapping[str, Any], base: str | None) -> str:
    """Render `dvc metrics diff --json` output: {file: {metric: {old, new, diff}}}."""
    title = f"Metrics vs base {code(base[:12])}" if base else "Metrics vs base"
    rows = []
    for file_name, metrics in sorted(diff.items()):
        if not isinstance(metrics, Mapping):
            continue
        for name, values in sorted(metrics.items()):
            if isinstance(values, Mapping):
                rows.append(f"| {code(str(file_name))} | {code(str(name))} "
                            f"| {number(values.get('old'))} "
                            f"| {number(values.get('new'))} "
                            f"| {number(values.get('diff'), signed=True, finite_only=True)} |")
    if not rows:
        return f"#### {title}\n\nNo metric changed.\n"
    header = ["| file | metric | base | PR | change |", "|---|---|---:|---:|---:|"]
    return "\n".join([f"#### {title}", "", *header, *rows]) + "\n"

