"""The monitoring result for people: a Markdown table with a Mermaid chart (job summary,
GitHub issue) and a self-contained HTML page with reference-vs-current plots. Names and
paths in the Markdown go through render.markdown's escaper, in the HTML through `escape`."""

from collections.abc import Callable
from html import escape

from modelrail.monitor.drift import Check, MonitorResult
from modelrail.render.charts import bar_svg, mermaid_lines
from modelrail.render.html import html_page
from modelrail.render.markdown import code, inline, number


def _verdict(result: MonitorResult, name: Callable[[str], str] = code) -> str:
    """The verdict in Markdown; `name=str` gives it in plain words."""
    if result.severity is None:
        return "no drift or degradation over the thresholds"
    names = ", ".join(f"{name(check.name)} ({check.severity})" for check in result.breaches())
    return f"**{result.severity}** → action **{result.action}**: {names}"


def markdown(result: MonitorResult) -> str:
    rows = [
        f"| {code(c.name)} | {inline(c.kind)} | {inline(c.test)} | {number(c.statistic)} | "
        f"{number(c.adjusted_p_value, 3)} | {number(c.psi, 3)} | "
        f"{c.minor:g} / {c.major:g} | {c.severity or 'ok'} |"
        for c in result.checks
    ]
    drift = [c for c in result.checks if c.psi is not None]
    chart = mermaid_lines(
        "PSI per feature", [c.name for c in drift],
        [("PSI", [c.psi or 0.0 for c in drift]), ("major", [c.major for c in drift])],
        y_label="PSI")
    return "\n".join([
        f"### Monitor: {inline(result.model)}",
        "",
        f"{_verdict(result)}. {result.current_rows} production rows of {code(result.current)} "
        f"against {code(result.reference)}; p-values {result.correction}-corrected across "
        f"{len(drift)} drift tests at "
        f"alpha {result.alpha:g}; a drift has a severity only when significant and its "
        "PSI reaches the threshold.",
        "",
        "| check | kind | test | statistic | adjusted p | PSI | minor / major | severity |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        chart,
    ])


def _plot(check: Check) -> str:
    if check.kind == "performance":
        bars = [("observed CTR", check.current["observed CTR"]),
                ("predicted CTR", check.reference["predicted CTR"])]
        return bar_svg(f"{check.name}: observed vs predicted", bars, y_label="CTR")
    labels = list(check.reference)
    return bar_svg(f"{check.name}: current (bars) vs reference (dashed)",
                   [(label, check.current.get(label, 0.0)) for label in labels],
                   y_label="share of rows",
                   expected=[check.reference[label] for label in labels])


def html(result: MonitorResult) -> str:
    table = "".join(
        f"<tr><td>{escape(c.name)}</td><td>{escape(c.test)}</td>"
        f"<td>{number(c.statistic)}</td><td>{number(c.adjusted_p_value, 3)}</td>"
        f"<td>{number(c.psi, 3)}</td><td>{escape(c.severity or 'ok')}</td></tr>"
        for c in result.checks)
    summary = (f"<p>{escape(_verdict(result, str).replace('**', ''))}</p><table><tr><th>check</th>"
               f"<th>test</th><th>statistic</th><th>adjusted p</th><th>PSI</th>"
               f"<th>severity</th></tr>{table}</table>")
    return html_page(f"Monitor: {result.model}",
                     [("Summary", summary), *((c.name, _plot(c)) for c in result.checks)])
