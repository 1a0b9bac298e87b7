"""Charts without a plotting library: SVG for reports and artifacts, Mermaid for summaries.

A composite action must install fast, so modelrail draws its few chart shapes itself
instead of pulling in matplotlib (~40 MB with numpy and fonts). GitHub strips SVG from
job summaries but renders Mermaid, hence `mermaid_lines` there and the `*_svg` functions
for HTML reports. Text is escaped here; NaN and ±inf are left out (lines break there).
"""

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html import escape

from modelrail.render.markdown import inline, number, one_line

WIDTH = 640
HEIGHT = 320
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 40, 64
PALETTE = ("#1f6fb4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
_COLOUR_NAMES = ("blue", "red", "green", "purple", "orange", "brown")
FONT = "font-family='system-ui,sans-serif' font-size='12'"


@dataclass(frozen=True)
class Series:
    """One line; `low`/`high` draw a shaded band (an interval) around it."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    low: Sequence[float] | None = None
    high: Sequence[float] | None = None

    def __post_init__(self) -> None:
        lengths = {len(self.x), len(self.y)}
        lengths |= {len(values) for values in (self.low, self.high) if values is not None}
        if len(lengths) > 1:
            raise ValueError(f"series {self.label!r}: x, y, low and high differ in length")
        if (self.low is None) != (self.high is None):
            raise ValueError(f"series {self.label!r}: a band needs both low and high")


@dataclass(frozen=True)
class Interval:
    """One row of a forest plot: an estimate and its interval."""

    label: str
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class _Axis:
    """A linear map from data values to pixels, over rounded tick bounds."""

    ticks: tuple[float, ...]
    start_px: float
    end_px: float

    @classmethod
    def over(cls, values: Sequence[float], start_px: float, end_px: float) -> "_Axis":
        return cls(_nice_ticks(values), start_px, end_px)

    def __call__(self, value: float) -> float:
        low, high = self.ticks[0], self.ticks[-1]
        return self.start_px + (value - low) / (high - low) * (self.end_px - self.start_px)


def _nice_ticks(values: Sequence[float], count: int = 5) -> tuple[float, ...]:
    """About `count` round tick values covering every finite value (1-2-5 steps)."""
    finite = [v for v in values if math.isfinite(v)] or [0.0, 1.0]
    low, high = min(finite), max(finite)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw_step = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    steps = round((last - first) / step)
    return tuple(first + i * step for i in range(steps + 1))


def _text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return (f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' {FONT}{extra}>"
            f"{escape(text)}</text>")


def _frame(title: str, x_label: str, y_label: str, body: Sequence[str]) -> str:
    mid_x = (LEFT + WIDTH - RIGHT) / 2
    mid_y = (TOP + HEIGHT - BOTTOM) / 2
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
        f"viewBox='0 0 {WIDTH} {HEIGHT}' role='img' aria-label='{escape(title)}'>",
        "<rect width='100%' height='100%' fill='white'/>",
        _text(WIDTH / 2, 20, title, extra=" font-weight='bold'"),
        _text(mid_x, HEIGHT - 30, x_label),
        _text(16, mid_y, y_label, extra=f" transform='rotate(-90 16 {mid_y:.1f})'"),
        *body,
        "</svg>",
    ]
    return "\n".join(parts)


def _y_grid(axis: _Axis) -> Iterator[str]:
    for tick in axis.ticks:
        y = axis(tick)
        yield (f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{y:.1f}' y2='{y:.1f}' "
               "stroke='#ddd'/>")
        yield _text(LEFT - 6, y + 4, number(tick), anchor="end")


def _x_ticks(axis: _Axis) -> Iterator[str]:
    for tick in axis.ticks:
        yield _text(axis(tick), HEIGHT - BOTTOM + 16, number(tick))


def _legend(labels: Sequence[str]) -> Iterator[str]:
    x = LEFT
    for index, label in enumerate(labels):
        colour = PALETTE[index % len(PALETTE)]
        yield (f"<rect x='{x}' y='{HEIGHT - 16}' width='12' height='4' fill='{colour}'/>")
        yield _text(x + 16, HEIGHT - 11, label, anchor="start")
        x += 28 + 7 * len(label)


def _runs(points: Iterator[tuple[float, ...]]) -> list[list[tuple[float, ...]]]:
    """Split points into runs of finite values (a NaN breaks the line)."""
    runs: list[list[tuple[float, ...]]] = [[]]
    for point in points:
        if all(math.isfinite(v) for v in point):
            runs[-1].append(point)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _path(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}"
                    for i, (x, y) in enumerate(points))


def _series_shapes(series: Series, colour: str, x_axis: _Axis, y_axis: _Axis) -> Iterator[str]:
    if series.low is not None and series.high is not None:
        for run in _runs(zip(series.x, series.low, series.high, strict=True)):
            upper = [(x_axis(x), y_axis(high)) for x, _, high in run]
            lower = [(x_axis(x), y_axis(low)) for x, low, _ in reversed(run)]
            yield (f"<path d='{_path(upper + lower)} Z' fill='{colour}' "
                   "fill-opacity='0.15' stroke='none'/>")
    for run in _runs(zip(series.x, series.y, strict=True)):
        pixels = [(x_axis(x), y_axis(y)) for x, y in run]
        yield f"<path d='{_path(pixels)}' fill='none' stroke='{colour}' stroke-width='2'/>"
        yield from (f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2.5' fill='{colour}'/>"
                    for x, y in pixels)


def line_svg(title: str, series: Sequence[Series], *, x_label: str, y_label: str,
             reference: float | None = None) -> str:
    """Lines over a shared x axis, optional bands, and a dashed horizontal reference."""
    xs = [x for s in series for x in s.x]
    ys = [y for s in series for y in (*s.y, *(s.low or ()), *(s.high or ()))]
    if reference is not None:
        ys.append(reference)
    x_axis = _Axis.over(xs, LEFT, WIDTH - RIGHT)
    y_axis = _Axis.over(ys, HEIGHT - BOTTOM, TOP)
    body = [*_y_grid(y_axis), *_x_ticks(x_axis)]
    if reference is not None:
        y = y_axis(reference)
        body.append(f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{y:.1f}' y2='{y:.1f}' "
                    "stroke='#555' stroke-dasharray='5,4'/>")
    for index, one in enumerate(series):
        body.extend(_series_shapes(one, PALETTE[index % len(PALETTE)], x_axis, y_axis))
    body.extend(_legend([s.label for s in series]))
    return _frame(title, x_label, y_label, body)


def interval_svg(title: str, rows: Sequence[Interval], *, x_label: str,
                 reference: float = 0.0) -> str:
    """A forest plot: one row per estimate, whiskers for the interval, a reference line."""
    values = [v for row in rows for v in (row.estimate, row.low, row.high)] + [reference]
    x_axis = _Axis.over(values, LEFT + 96, WIDTH - RIGHT)
    band = (HEIGHT - BOTTOM - TOP) / max(len(rows), 1)
    body = list(_x_ticks(x_axis))
    ref_x = x_axis(reference)
    body.append(f"<line x1='{ref_x:.1f}' x2='{ref_x:.1f}' y1='{TOP}' "
                f"y2='{HEIGHT - BOTTOM}' stroke='#555' stroke-dasharray='5,4'/>")
    for index, row in enumerate(rows):
        y = TOP + band * (index + 0.5)
        body.append(_text(LEFT + 88, y + 4, row.label, anchor="end"))
        if all(math.isfinite(v) for v in (row.low, row.high)):
            body.append(f"<line x1='{x_axis(row.low):.1f}' x2='{x_axis(row.high):.1f}' "
                        f"y1='{y:.1f}' y2='{y:.1f}' stroke='{PALETTE[0]}' stroke-width='2'/>")
        if math.isfinite(row.estimate):
            body.append(f"<circle cx='{x_axis(row.estimate):.1f}' cy='{y:.1f}' r='4' "
                        f"fill='{PALETTE[0]}'/>")
    return _frame(title, x_label, "", body)


def bar_svg(title: str, bars: Sequence[tuple[str, float]], *, y_label: str,
            expected: Sequence[float] | None = None) -> str:
    """Bars per category; `expected` values are drawn as dashed marks across each bar."""
    if expected is not None and len(expected) != len(bars):
        raise ValueError("bar chart: one expected value per bar")
    values = [value for _, value in bars] + [0.0, *(expected or ())]
    y_axis = _Axis.over(values, HEIGHT - BOTTOM, TOP)
    slot = (WIDTH - LEFT - RIGHT) / max(len(bars), 1)
    body = list(_y_grid(y_axis))
    for index, (label, value) in enumerate(bars):
        left = LEFT + slot * index + slot * 0.2
        top, zero = y_axis(max(value, 0.0)), y_axis(min(value, 0.0))
        body.append(f"<rect x='{left:.1f}' y='{top:.1f}' width='{slot * 0.6:.1f}' "
                    f"height='{zero - top:.1f}' fill='{PALETTE[index % len(PALETTE)]}'/>")
        body.append(_text(left + slot * 0.3, HEIGHT - BOTTOM + 16, label))
        if expected is not None:
            y = y_axis(expected[index])
            body.append(f"<line x1='{left - 4:.1f}' x2='{left + slot * 0.6 + 4:.1f}' "
                        f"y1='{y:.1f}' y2='{y:.1f}' stroke='#000' stroke-dasharray='4,3'/>")
    return _frame(title, "" if expected is None else "dashed: expected", y_label, body)


def _mermaid_text(text: str) -> str:
    """Mermaid has no escape for quotes inside a quoted string; a label is one line (no
    CR either), so it cannot end the fenced block."""
    return '"' + one_line(text.replace('"', "'")) + '"'


def mermaid_lines(title: str, x_labels: Sequence[str],
                  series: Sequence[tuple[str, Sequence[float]]], *, y_label: str) -> str:
    """A fenced Mermaid `xychart-beta` block; its legend is a line under the chart.

    Mermaid cannot leave a gap, so a non-finite value is drawn at the axis minimum and
    the legend names the categories where that happened.
    """
    finite = [v for _, values in series for v in values if math.isfinite(v)]
    ticks = _nice_ticks(finite)
    colours = PALETTE[:len(series)] or PALETTE[:1]
    lines = [
        "```mermaid",
        "%%{init: {\"themeVariables\": {\"xyChart\": {\"plotColorPalette\": \""
        + ", ".join(colours) + "\"}}}}%%",
        "xychart-beta",
        f"    title {_mermaid_text(title)}",
        "    x-axis [" + ", ".join(_mermaid_text(label) for label in x_labels) + "]",
        f"    y-axis {_mermaid_text(y_label)} {number(ticks[0], 6)} --> {number(ticks[-1], 6)}",
    ]
    legend = []
    for index, (label, values) in enumerate(series):
        if len(values) != len(x_labels):
            raise ValueError(f"mermaid chart: series {label!r} has {len(values)} values "
                             f"for {len(x_labels)} categories")
        drawn = [v if math.isfinite(v) else ticks[0] for v in values]
        lines.append("    line [" + ", ".join(number(v, 6) for v in drawn) + "]")
        missing = [x for x, v in zip(x_labels, values, strict=True) if not math.isfinite(v)]
        note = f" (no value at {', '.join(inline(x) for x in missing)})" if missing else ""
        legend.append(f"{_COLOUR_NAMES[index % len(PALETTE)]}: {inline(label)}{note}")
    lines.append("```")
    lines.append("")
    lines.append("Lines — " + "; ".join(legend))
    return "\n".join(lines) + "\n"

