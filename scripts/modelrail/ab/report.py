"""What an A/B analysis shows: the job summary's Markdown (the decision, one row per
metric, the SRM check, a Mermaid chart of the cumulative lift, as GitHub shows no SVG
there) and the self-contained HTML page `ab analyze --report` writes (also the
per-variant metrics, each lift's interval and the primaries' interval over time, drawn
with modelrail.render.charts). Why that interval re-tests each checkpoint with the
experiment's own tests: docs/statistics.md ("Interval over time").
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from modelrail.ab.config import ExperimentConfig
from modelrail.ab.decision import Decision
from modelrail.ab.engine import MetricResult, evaluate
from modelrail.ab.looks import LookSummary
from modelrail.ab.power import Outlook
from modelrail.ab.stats import SRM_ALPHA, TestResult
from modelrail.ab.timeline import Timeline
from modelrail.errors import UsageError
from modelrail.render.charts import (
    Interval,
    Series,
    bar_svg,
    interval_svg,
    line_svg,
    mermaid_lines,
)
from modelrail.render.html import html_page
from modelrail.render.markdown import ICON, code, inline, number

NO_TIMESTAMPS = ("Not drawn: the input was STATS.json, sufficient statistics without "
                 "timestamps; analyse the prediction and event logs to see the interval "
                 "over time.")
_LABEL_FORMATS = {"minute": "%H:%M", "hour": "%m-%d %H:%M", "day": "%m-%d %H:%M"}
def decision_markdown(decision: Decision) -> str:
    """The job summary's decision; names and reasons through render.markdown's escaper."""
    lines = [f"### {ICON[decision.verdict]} A/B test {code(decision.experiment)}: "
             f"**{decision.verdict}**", "", inline(decision.reason), ""]
    if decision.metrics:
        interval = "repeated interval" if decision.looks is not None \
            else "always-valid interval" if decision.sequential else "interval"
        lines += [f"| metric | role | lift | {1 - decision.alpha:.0%} {interval} "
                  "| p-value | verdict |", "|---|---|---:|---|---:|---|"]
        lines += [_row(m) for m in decision.metrics]
        lines.append("")
    if decision.outlook:
        lines += [f"How much longer ({outlook_power(decision):.0%} power):", "",
                  "| metric | detectable now | target | units needed | more units "
                  "| more days |", "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {code(name)} | " + " | ".join(outlook_cells(decision, o)) + " |"
                  for name, o in decision.outlook.items()]
        lines.append("")
    if decision.looks is not None:
        lines += [looks_text(decision.looks), ""]
    srm = decision.srm
    split = " · ".join(f"{inline(v)} {n}" for v, n in srm.units.items())
    lines.append(f"Sample ratio: {split}; chi-squared p = {srm.p_value:.3g} "
                 f"({'ok' if srm.passed else 'MISMATCH'}, alarm below {SRM_ALPHA}).")
    return "\n".join(lines) + "\n"


def looks_text(looks: LookSummary) -> str:
    """Where a group-sequential test stands: the look, the plan, the alpha spent so far."""
    past = (" — past the planned maximum: decided at the final bound"
            if looks.past_maximum else "")
    bound = looks.bounds[-1]
    shown = number(bound, 3) if math.isfinite(bound) else "∞ (no alpha to spend yet)"
    power = "".join(f" Power at the planned maximum for the target effect: {code(name)} "
                    f"{value:.0%}." for name, value in looks.power.items())
    return (f"Group-sequential look {looks.look} ({inline(looks.key)}): {looks.units:,} of "
            f"{looks.planned_units:,} planned units ({looks.fractions[-1]:.0%}){past}; alpha "
            f"spent so far {number(looks.alpha_spent, 3)} of {number(looks.alpha, 3)}; a "
            f"primary ships once its z reaches {shown} at this look.{power}")


def primary_z(looks: LookSummary) -> list[tuple[str, list[float]]]:
    """Each primary's observed z per look (up = improvement), NaN where not tested."""
    return [(f"{name} z", [math.nan if v is None else v for v in values])
            for name, values in looks.z.items()]


def looks_mermaid(decision: Decision) -> str:
    """The job summary's chart: each look's bound against the primaries' observed z."""
    looks = decision.looks
    if looks is None:
        return ""
    labels = [f"{f:.0%}" for f in looks.fractions]
    series = [("bound", list(looks.bounds)), *primary_z(looks)]
    return mermaid_lines("z against the group-sequential bound, by information fraction",
                         labels, series, y_label="z")


def outlook_power(decision: Decision) -> float:
    return next(iter(decision.outlook.values())).power


def outlook_cells(decision: Decision, outlook: Outlook) -> list[str]:
    """Detectable now, target, units needed, more units, more days; 'n/a' where there
    is no target_effect or no enrolment rate (STATS.json has no timestamps)."""
    relative = decision.metrics[0].relative
    days = outlook.days_more(decision.units_per_day)
    return [lift_text(outlook.mde, relative),
            _NOT_KNOWN if outlook.target is None else lift_text(outlook.target, relative),
            _count(outlook.units_needed, outlook.target),
            _count(outlook.units_more, outlook.target),
            _NOT_KNOWN if days is None else f"{days:.1f}"]


_NOT_KNOWN = "n/a"


def _count(units: int | None, target: float | None) -> str:
    if units is None:
        return _NOT_KNOWN if target is None else "out of reach"
    return f"{units:,}"


def lift_text(value: float, relative: bool) -> str:
    return f"{value:+.2%}" if relative else number(value, signed=True)


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
    return (f"| {code(result.name)} | {inline(role)} "
            f"| {lift_text(test.estimate, result.relative)} "
            f"| {interval_text(result)} | {p_value} | {inline(result.outcome)} |")


# -- the interval over time (summary chart and HTML page) --------------------------------


@dataclass(frozen=True)
class LiftHistory:
    """One primary metric's lift and interval at each checkpoint (NaN where unreadable),
    in percent for a relative lift."""

    metric: str
    relative: bool
    x: tuple[float, ...]
    labels: tuple[str, ...]
    lift: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]


def _scale(relative: bool) -> float:
    return 100.0 if relative else 1.0


def _unit(relative: bool) -> str:
    return "lift (%)" if relative else "difference"


def lift_history(experiment: ExperimentConfig, timeline: Timeline) -> list[LiftHistory]:
    """The primary metrics' tests at every checkpoint."""
    per_checkpoint: list[Mapping[str, MetricResult]] = []
    for checkpoint in timeline.checkpoints:
        results: Mapping[str, MetricResult] = {}
        if checkpoint.stats is not None:
            try:
                results = {r.name: r for r in evaluate(experiment, checkpoint.stats)}
            except UsageError:  # e.g. no variance yet: a gap
                results = {}
        per_checkpoint.append(results)
    x = tuple(timeline.elapsed(c) for c in timeline.checkpoints)
    labels = tuple(c.at.strftime(_LABEL_FORMATS[timeline.unit]) for c in timeline.checkpoints)
    relative = experiment.difference == "relative"
    histories = []
    for name in experiment.primary:
        tests = [results[name].test if name in results else None
                 for results in per_checkpoint]
        lift, low, high = (_column(tests, pick, _scale(relative)) for pick in
                           (lambda t: t.estimate, lambda t: t.low, lambda t: t.high))
        histories.append(LiftHistory(metric=name, relative=relative, x=x, labels=labels,
                                     lift=lift, low=low, high=high))
    return histories


def _column(tests: Sequence[TestResult | None], pick: Callable[[TestResult], float],
            scale: float) -> tuple[float, ...]:
    return tuple(math.nan if test is None else pick(test) * scale for test in tests)


def lift_mermaid(histories: Sequence[LiftHistory], timeline: Timeline) -> str:
    """The job summary's chart: each primary's cumulative lift and its finite bounds."""
    blocks = []
    for history in histories:
        series = [(f"{history.metric} lift", history.lift)]
        series += [(f"{history.metric} interval {side}", values)
                   for side, values in (("low", history.low), ("high", history.high))
                   if any(math.isfinite(v) for v in values)]
        blocks.append(mermaid_lines(
            f"{history.metric}: cumulative {_unit(history.relative)}, by {timeline.unit}",
            history.labels, series, y_label=_unit(history.relative)))
    return "\n".join(blocks)


# -- HTML page ---------------------------------------------------------------------------


def html_report(decision: Decision, experiment: ExperimentConfig,
                timeline: Timeline | None, data: Mapping[str, object] | None) -> str:
    sections = [("Decision", _decision_html(decision)),
                ("Metrics per variant", _metrics_table(decision)),
                ("Lift with its interval", _forest(decision)),
                ("Interval over time", _over_time(decision, experiment, timeline, data)),
                ("Sample ratio", _srm(decision))]
    if decision.outlook:
        sections.insert(1, ("How much longer?", _outlook_html(decision)))
    if decision.looks is not None:
        sections.insert(1, ("Looks (group-sequential)", _looks_html(decision, decision.looks)))
    if data:
        sections.append(("Data", _table(["", "value"],
                                        [[key, _plain(value)] for key, value in data.items()])))
    return html_page(f"A/B test {decision.experiment}", sections)


def write_report(path: str, html: str) -> None:
    try:
        Path(path).write_text(html, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"--report {path}: cannot write: {error.strerror}") from None


def _plain(value: object) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _paragraph(text: str) -> str:
    return f"<p>{escape(text)}</p>"


def _decision_html(decision: Decision) -> str:
    interval = "always-valid" if decision.sequential else "fixed-horizon"
    return (f"<p><strong>{escape(decision.verdict)}</strong>: {escape(decision.reason)}</p>"
            + _paragraph(f"alpha {decision.alpha:g}, {interval} intervals."))


_NOT_READ = "No metric was read: the sample ratio check failed (see Sample ratio)."


def _metrics_table(decision: Decision) -> str:
    if not decision.metrics:
        return _paragraph(_NOT_READ)
    variants = list(decision.srm.units)
    header = ["metric", "role", *(f"{v} mean" for v in variants), "lift",
              f"{1 - decision.alpha:.0%} interval", "p-value", "outcome"]
    rows = [[m.name, m.role, *(f"{m.means[v]:.6g}" for v in variants),
             lift_text(m.test.estimate, m.relative), interval_text(m), f"{m.test.p_value:.3g}",
             m.outcome] for m in decision.metrics]
    units = _paragraph("Units: " + ", ".join(f"{v} {n}" for v, n in decision.srm.units.items())
                       + ".")
    return _table(header, rows) + units


def _forest(decision: Decision) -> str:
    if not decision.metrics:
        return _paragraph(_NOT_READ)
    charts = []
    for relative in (True, False):
        rows = [Interval(m.name, m.test.estimate * _scale(relative), m.test.low * _scale(relative),
                         m.test.high * _scale(relative))
                for m in decision.metrics if m.relative == relative]
        if rows:
            charts.append(interval_svg(f"{_unit(relative)} with its interval", rows,
                                       x_label=_unit(relative)))
    note = ("A guardrail's interval is one-sided (its non-inferiority test): only the "
            "estimate is drawn when one side is open.")
    return "\n".join(charts) + _paragraph(note)


def _over_time(decision: Decision, experiment: ExperimentConfig, timeline: Timeline | None,
               data: Mapping[str, object] | None) -> str:
    if timeline is None:
        return _paragraph(NO_TIMESTAMPS if data is None
                          else "Not drawn: the predictions carry no timestamps.")
    if not decision.metrics:
        return _paragraph(_NOT_READ)
    charts = [line_svg(
        f"{h.metric}: cumulative {_unit(h.relative)}",
        [Series(f"{h.metric} (band: interval)", h.x, h.lift, h.low, h.high)],
        x_label=f"{timeline.unit}s since the first exposure", y_label=_unit(h.relative),
        reference=0.0) for h in lift_history(experiment, timeline)]
    start = timeline.start.isoformat(timespec="seconds")
    return "\n".join(charts) + _paragraph(
        f"Each point re-analyses the logs up to that {timeline.unit} (first exposure "
        f"{start}); a gap is a checkpoint whose statistics could not be tested yet.")


def _looks_html(decision: Decision, looks: LookSummary) -> str:
    fractions = [100 * f for f in looks.fractions]
    series = [Series("bound", fractions, [b if math.isfinite(b) else math.nan
                                          for b in looks.bounds])]
    series += [Series(label, fractions, values) for label, values in primary_z(looks)]
    chart = line_svg("z against the group-sequential bound", series,
                     x_label="% of the planned units", y_label="z")
    return _paragraph(looks_text(looks)) + chart + _paragraph(
        "A primary ships at the first look where its z reaches the bound; the bound is set "
        "so that, with no true effect, the chance of ever reaching it is alpha.")


def _outlook_html(decision: Decision) -> str:
    header = ["metric", "detectable now", "target", "units needed", "more units",
              "more days"]
    rows = [[name, *outlook_cells(decision, o)] for name, o in decision.outlook.items()]
    return _table(header, rows) + _paragraph(
        f"The smallest effect detected with {outlook_power(decision):.0%} power at the "
        "units so far, and the units (all variants) the target effect needs, under the "
        "decision's own test; days from the enrolment rate so far.")


def _srm(decision: Decision) -> str:
    srm = decision.srm
    total = sum(srm.units.values())
    chart = bar_svg("Units per variant", list(srm.units.items()), y_label="units",
                    expected=[total * srm.weights[v] for v in srm.units])
    verdict = "passed" if srm.passed else "FAILED: sample ratio mismatch"
    return chart + _paragraph(f"Pearson chi-squared against the configured weights: "
                              f"p = {srm.p_value:.3g} ({verdict}; alarm below {SRM_ALPHA}).")
