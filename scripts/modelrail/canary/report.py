"""What a canary shows: the job summary of one analysis and of a canary run (a per-step
table, a Mermaid chart per metric), and the run's report directory (an SVG per metric,
`canary-report.html`, `queries.json`), drawn with modelrail.render.charts.

Each metric is shown by its headline value (rate, quantile, mean, or a threshold's worst
value) for both sides at every analysed step, as the judge saw it (pooled so far).
"""

import json
import math
import re
from collections.abc import Mapping
from html import escape
from pathlib import Path

from modelrail.canary.analyze import AnalysisResult
from modelrail.canary.config import AnalysisConfig, CompareMetric, MetricSpec, ThresholdMetric
from modelrail.canary.judge import Number, Verdict
from modelrail.canary.loop import CanaryResult, StepRecord, step_label
from modelrail.errors import UsageError
from modelrail.render.charts import Series, line_svg, mermaid_lines
from modelrail.render.html import html_page
from modelrail.render.markdown import DASH, ICON, code, code_block, inline, number, table_cell

_HEADLINES = ("rate", "value", "mean")
_QUANTILE = re.compile(r"p[0-9.]+")
REPORT_NAME = "canary-report.html"
QUERIES_NAME = "queries.json"


def bound_text(metric: MetricSpec) -> str:
    """The limit a metric holds the canary to, in words."""
    if isinstance(metric, ThresholdMetric):
        limits = ([f">= {metric.minimum:g}"] if metric.minimum is not None else []) + \
            ([f"<= {metric.maximum:g}"] if metric.maximum is not None else [])
        return " and ".join(limits) or "any value"
    ratio = metric.allowed_ratio
    return {"increase": f"<= {ratio:g}x baseline", "decrease": f">= baseline / {ratio:g}",
            "either": f"within {ratio:g}x of baseline"}[metric.direction]


def headline(values: Mapping[str, Number]) -> tuple[str, float]:
    """(name, value) of the value that sums a side up: a rate, value or mean, else the
    quantile the judge reports (p99, ...), else the first one; NaN when there is none."""
    quantiles = [key for key in values if _QUANTILE.fullmatch(key)]
    for key in (*_HEADLINES, *quantiles, *values):
        if key in values:
            value = values[key]
            return key, float(value) if value is not None else math.nan
    return "", math.nan


def _verdicts(step: StepRecord) -> dict[str, Verdict]:
    return {v.name: v for v in step.analysis.verdicts} if step.analysis else {}


def _judged(result: CanaryResult) -> list[StepRecord]:
    return [step for step in result.steps if step.analysis is not None]


def _cell(verdict: Verdict | None) -> str:
    if verdict is None:
        return DASH
    canary, baseline = headline(verdict.canary)[1], headline(verdict.baseline)[1]
    shown = number(canary, finite_only=True) + \
        ("" if math.isnan(baseline) else f" / {number(baseline, finite_only=True)}")
    return f"{ICON[verdict.outcome]} {shown}"


def unjudged_text(names: tuple[str, ...]) -> str:
    """The warning for metrics a decision was made without (plain text, for annotations)."""
    return (f"not judged (no data at the last look): {', '.join(names)}; the result was "
            "decided without them (analysis.require_all_judged: true makes such a canary "
            "inconclusive: aborted, never promoted)")


def _unjudged_lines(names: tuple[str, ...], *, html: bool = False) -> list[str]:
    """The Markdown paragraph naming unjudged metrics; `html`: the same as plain text."""
    if not names:
        return []
    shown = ", ".join(names) if html else ", ".join(code(name) for name in names)
    strong, setting = ("Not judged", "analysis.require_all_judged: true") if html else \
        (f"{ICON['inconclusive']} **Not judged**", "`analysis.require_all_judged: true`")
    return [f"{strong} (no data at the last look): {shown}. The result was decided without "
            f"them; with {setting} such a canary is inconclusive (aborted, never promoted).",
            ""]


def _verdict_cell(step: StepRecord) -> str:
    unjudged = f" {ICON['inconclusive']} not judged: {inline(', '.join(step.unjudged))}" \
        if step.unjudged else ""
    return f"{ICON[step.verdict]} {step.verdict}{unjudged}"


def _why(step: StepRecord) -> str:
    failing = [f"{v.name}: {v.reason}" for v in _verdicts(step).values() if v.outcome != "pass"]
    return "; ".join(failing) or (step.reason if step.verdict != "pass" else "")


def _series(result: CanaryResult, name: str) -> tuple[list[StepRecord], list[float],
                                                     list[float]]:
    """(steps, canary values, baseline values) of one metric over the judged steps."""
    steps, canary, baseline = [], [], []
    for step in _judged(result):
        verdict = _verdicts(step).get(name)
        if verdict is not None:
            steps.append(step)
            canary.append(headline(verdict.canary)[1])
            baseline.append(headline(verdict.baseline)[1])
    return steps, canary, baseline


def _unit(result: CanaryResult, name: str) -> str:
    for step in _judged(result):
        verdict = _verdicts(step).get(name)
        if verdict is not None and verdict.canary:
            return headline(verdict.canary)[0]
    return "value"


def _title(result: CanaryResult) -> str:
    plan = result.plan
    return f"Canary {result.result}: version {plan.version} vs baseline {plan.baseline}"


# -- job summary -------------------------------------------------------------------------


def analysis_markdown(result: AnalysisResult) -> str:
    request, decision = result.request, result.decision
    lines = [
        f"### {ICON[decision.outcome]} Canary analysis: {decision.outcome} — "
        f"{code(request.canary)} vs {code(request.baseline)}",
        "",
        f"{inline(decision.reason)}. Look {request.look} of {request.looks}, window "
        f"{inline(request.window)} per step; false-rollback budget {result.false_rollback_rate:g} "
        f"per rollout ({result.alpha:.3g} per compare metric at this look).",
        "",
        *_unjudged_lines(decision.unjudged),
        "| metric | result | canary | baseline | effect | p-value | test |",
        "|---|:---:|---|---|---:|---:|---|",
    ]
    lines += [_analysis_row(verdict) for verdict in result.verdicts]
    lines += ["", "**Why:**", ""]
    lines += [f"- {code(v.name)} {v.outcome}: {inline(v.reason)}" for v in result.verdicts]
    lines += ["", "<details><summary>Queries as sent to Prometheus</summary>", ""]
    for verdict in result.verdicts:
        for role, query in verdict.queries.items():
            lines += [f"{code(verdict.name)} {inline(role)}:", code_block(query, "promql")]
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _ratio(effect: float) -> str:
    """A canary/baseline ratio; an infinite one (a baseline of exactly 0) said in words."""
    return "∞ (baseline 0)" if math.isinf(effect) else f"{number(effect, 3)}x"


def _analysis_row(verdict: Verdict) -> str:
    p_value = DASH if verdict.p_value is None else \
        f"{verdict.p_value:.3g} (alpha {verdict.alpha:.3g})" if verdict.alpha else \
        f"{verdict.p_value:.3g}"
    effect = DASH if verdict.effect is None else _ratio(verdict.effect)
    return (f"| {code(verdict.name)}{' (critical)' if verdict.critical else ''} | "
            f"{ICON[verdict.outcome]} | {_values(verdict.canary)} | "
            f"{_values(verdict.baseline)} | {effect} | {p_value} | {inline(verdict.test)} |")


def _values(values: Mapping[str, Number]) -> str:
    shown = [f"{inline(key)} {number(value)}" for key, value in values.items()
             if value is not None]
    return ", ".join(shown) or DASH


def canary_markdown(result: CanaryResult, analysis: AnalysisConfig) -> str:
    plan = result.plan
    icon = ICON["pass" if result.result == "promoted" else "fail"]
    lines = [f"### {icon} {inline(_title(result))}", "",
             f"{inline(result.message)}", "", *_unjudged_lines(result.unjudged),
             *_mirror_lines(result),
             f"Image {code(plan.image)}; baseline from {inline(plan.baseline_source)}; steps "
             f"{', '.join(step_label(w, m) for w, m in plan.phases)}, "
             f"{plan.step_seconds:g}s each.", "",
             "Each metric cell: canary / baseline value at that step.", "",
             "| weight | verdict | " + " | ".join(
                 f"{code(m.name)} ({inline(bound_text(m))})" for m in analysis.metrics)
             + " | why |",
             "|---:|:---:|" + "---|" * len(analysis.metrics) + "---|"]
    for step in result.steps:
        verdicts = _verdicts(step)
        cells = [_cell(verdicts.get(m.name)) for m in analysis.metrics]
        lines.append(f"| {step.label} | {_verdict_cell(step)} | "
                     + " | ".join(cells) + f" | {table_cell(_why(step))} |")
    for metric in analysis.metrics:
        steps, canary, baseline = _series(result, metric.name)
        if not any(math.isfinite(v) for v in canary + baseline):
            continue
        series: list[tuple[str, list[float]]] = [("canary", canary)]
        if isinstance(metric, CompareMetric):
            series.append(("baseline", baseline))
        lines += ["", mermaid_lines(f"{metric.name} ({_unit(result, metric.name)})",
                                    [step.label for step in steps], series,
                                    y_label=_unit(result, metric.name)).rstrip("\n")]
    lines += ["", "<details><summary>Queries as sent to Prometheus</summary>", ""]
    for name, queries in _queries(result).items():
        for role, query in queries.items():
            lines += [f"{code(name)} {inline(role)}:", code_block(query, "promql")]
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _mirror_lines(result: CanaryResult, *, html: bool = False) -> list[str]:
    """Say whether users ever saw the canary when it ran a mirror phase first (Markdown;
    `html`: plain text)."""
    mirror = result.plan.mirror
    if mirror is None:
        return []
    if result.users_saw_canary:
        seen = "then user traffic by the weights below"
    else:
        seen = "no user request was answered by the canary"
        seen = seen if html else f"**{seen}**"
    route = mirror.route if html else code(mirror.route)
    return [f"Mirror phase: {mirror.percentage}% of the requests copied to the canary "
            f"(route {route}, canary scale {mirror.scale}%, answers dropped); {seen}.", ""]


def _queries(result: CanaryResult) -> dict[str, dict[str, str]]:
    """The resolved queries of each metric (the last look's: every look sends the same)."""
    found: dict[str, dict[str, str]] = {}
    for step in _judged(result):
        for verdict in _verdicts(step).values():
            found[verdict.name] = dict(verdict.queries)
    return found


# -- report directory --------------------------------------------------------------------


def write_report(directory: Path, result: CanaryResult, analysis: AnalysisConfig) -> None:
    """`canary-report.html`, `<metric>.svg` per metric, and `queries.json` in `directory`."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        sections = [("Steps", _html_table(result, analysis))]
        for metric in analysis.metrics:
            svg = _metric_svg(result, metric)
            (directory / f"{metric.name}.svg").write_text(svg, encoding="utf-8")
            sections.append((f"{metric.name} ({bound_text(metric)})", svg))
        queries = _queries(result)
        (directory / QUERIES_NAME).write_text(json.dumps(queries, indent=2) + "\n",
                                              encoding="utf-8")
        sections.append(("Queries as sent to Prometheus", "".join(
            f"<p><code>{escape(name)}</code> {escape(role)}</p><pre>{escape(query)}</pre>"
            for name, roles in queries.items() for role, query in roles.items())))
        (directory / REPORT_NAME).write_text(html_page(_title(result), sections),
                                             encoding="utf-8")
    except OSError as error:
        raise UsageError(f"--report-dir {directory}: cannot write: {error.strerror}") \
            from None


def _metric_svg(result: CanaryResult, metric: MetricSpec) -> str:
    steps, canary, baseline = _series(result, metric.name)
    weights = [float(step.weight) for step in steps]  # the mirror phase is at weight 0
    series = [Series("canary", weights, canary)]
    if isinstance(metric, CompareMetric):
        series.append(Series("baseline", weights, baseline))
    reference = metric.maximum if isinstance(metric, ThresholdMetric) else None
    unit = _unit(result, metric.name)
    return line_svg(f"{metric.name}: canary vs baseline ({unit})", series,
                    x_label="canary weight (%)", y_label=unit, reference=reference)


def _html_table(result: CanaryResult, analysis: AnalysisConfig) -> str:
    head = "".join(f"<th>{escape(m.name)}<br>{escape(bound_text(m))}</th>"
                   for m in analysis.metrics)
    rows = []
    for step in result.steps:
        verdicts = _verdicts(step)
        cells = "".join(f"<td>{escape(_cell(verdicts.get(m.name)))}</td>"
                        for m in analysis.metrics)
        rows.append(f"<tr><td>{escape(step.label)}</td><td>{escape(_verdict_cell(step))}</td>"
                    f"{cells}"
                    f"<td>{escape(_why(step))}</td></tr>")
    notes = _unjudged_lines(result.unjudged, html=True) + _mirror_lines(result, html=True)
    mirror = "".join(f"<p>{escape(line)}</p>" for line in notes if line)
    return (f"<p>{escape(result.message)}</p>{mirror}<table><tr><th>weight</th><th>verdict</th>"
            f"{head}<th>why</th></tr>{''.join(rows)}</table>")
