"""The chart module draws what it is given: valid SVG, escaped text, gaps at NaN."""

import math
import xml.etree.ElementTree as ET

import pytest
from modelrail.render.charts import (
    Interval,
    Series,
    bar_svg,
    interval_svg,
    line_svg,
    mermaid_lines,
)
from modelrail.render.html import html_page

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input


def _paths(svg: str) -> list[ET.Element]:
    return _parse(svg).findall(f"{SVG}path")


def test_line_chart_is_valid_svg_with_one_path_per_series_and_escaped_text() -> None:
    svg = line_svg("p99 <canary> & baseline",
                   [Series("canary", [1, 2, 3], [0.1, 0.2, 0.3]),
                    Series("baseline", [1, 2, 3], [0.1, 0.1, 0.1])],
                   x_label="step", y_label="seconds")
    root = _parse(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "p99 <canary> & baseline" in texts
    assert {"canary", "baseline"} <= set(texts)
    assert len(_paths(svg)) == 2


def test_a_nan_breaks_the_line_instead_of_drawing_through_it() -> None:
    svg = line_svg("t", [Series("s", [1, 2, 3, 4], [1.0, math.nan, 3.0, 4.0])],
                   x_label="x", y_label="y")
    lines = [p for p in _paths(svg) if p.get("fill") == "none"]
    assert [p.get("d", "").count("L") for p in lines] == [0, 1]


def test_band_is_drawn_and_axis_covers_it() -> None:
    svg = line_svg("lift", [Series("lift", [1, 2], [0.05, 0.04], low=[-0.5, 0.0],
                                   high=[0.6, 0.08])],
                   x_label="day", y_label="lift", reference=0.0)
    assert any(p.get("fill-opacity") == "0.15" for p in _paths(svg))
    ticks = [float(t.text or "nan") for t in _parse(svg).iter(f"{SVG}text")
             if t.get("text-anchor") == "end"]
    assert min(ticks) <= -0.5
    assert max(ticks) >= 0.6


def test_series_with_unequal_lengths_is_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        Series("s", [1, 2], [1.0])
    with pytest.raises(ValueError, match="both low and high"):
        Series("s", [1], [1.0], low=[0.0])


def test_interval_and_bar_charts_render_each_row() -> None:
    forest = interval_svg("lift", [Interval("ctr", 0.05, 0.01, 0.09),
                                   Interval("session", -0.01, -0.03, 0.01)],
                          x_label="relative lift")
    assert len(_parse(forest).findall(f"{SVG}circle")) == 2
    bars = bar_svg("SRM", [("control", 5000), ("treatment", 5050)], y_label="users",
                   expected=[5025, 5025])
    assert len(_parse(bars).findall(f"{SVG}rect")) == 3  # background + 2 bars
    with pytest.raises(ValueError, match="one expected value per bar"):
        bar_svg("SRM", [("a", 1.0)], y_label="n", expected=[1.0, 2.0])


def test_mermaid_block_lists_categories_lines_and_a_legend_naming_gaps() -> None:
    block = mermaid_lines('error "rate"', ["10%", "25%"],
                          [("canary", [0.01, math.nan]), ("baseline", [0.01, 0.011])],
                          y_label="errors/s")
    assert block.startswith("```mermaid\n")
    assert "xychart-beta" in block
    assert 'title "error \'rate\'"' in block
    assert 'x-axis ["10%", "25%"]' in block
    assert block.count("    line [") == 2
    assert "blue: canary (no value at 25%)" in block
    assert "red: baseline" in block
    with pytest.raises(ValueError, match="has 1 values for 2 categories"):
        mermaid_lines("t", ["a", "b"], [("s", [1.0])], y_label="y")


def test_html_page_escapes_headings_and_keeps_bodies() -> None:
    page = html_page("<report>", [("A & B", "<p>body</p>")])
    assert "<title>&lt;report&gt;</title>" in page
    assert "<h2>A &amp; B</h2>" in page
    assert "<p>body</p>" in page
