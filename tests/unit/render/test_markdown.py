"""The one escaper for data in Markdown: names and reasons stay plain text on one line."""

import pytest
from modelrail.render.markdown import code, code_block, inline, table_cell

from tests.support.markdown_check import HOSTILE, assert_inert, structure

TABLE = "| metric | why |\n|---|---|\n| {name} | {why} |\n"


def test_a_hostile_name_stays_one_table_cell() -> None:
    benign = TABLE.format(name=code("auc"), why=table_cell("auc: fail"))
    hostile = TABLE.format(name=code(HOSTILE), why=table_cell(f"{HOSTILE}: fail"))

    assert_inert(benign, hostile)
    assert "\n" not in inline(HOSTILE)
    assert "\r" not in inline(HOSTILE)


@pytest.mark.parametrize("context", [
    "### Gate: {}\n", "- {}\n", "> **Note:** {}\n", "{}\n", "Text {} more.\n\n{}\n",
])
def test_inline_text_opens_nothing_wherever_it_stands(context: str) -> None:
    assert_inert(context.format(inline("auc"), inline("auc")),
                 context.format(inline(HOSTILE), inline(HOSTILE)))


@pytest.mark.parametrize("start", ["- x", "+ x", "* x", "1. x", "1) x", "# x", "> x", "===",
                                   "---", "    code", "<!-- x -->", "| a | b |"])
def test_nothing_at_the_start_of_a_line_opens_a_block(start: str) -> None:
    assert structure(inline(start) + "\n") == structure("plain\n")


def test_escapes_are_readable_once_rendered() -> None:
    assert inline("roc_auc") == "roc\\_auc"
    assert inline("a\r\nb\tc") == "a b c"
    assert inline("@acme") == "@&#8203;acme"
    assert inline("<b>&") == "&lt;b&gt;&amp;"
    assert code("x|y") == "<code>x\\|y</code>"


@pytest.mark.parametrize(("text", "expected"), [
    ("cc @acme/admins", "cc @&#8203;acme/admins"),
    ("(@acme)", "\\(@&#8203;acme\\)"),
    ("see #12", "see \\#&#8203;12"),
    ("models:/ranker@champion", "models:/ranker@champion"),
    ("ops@example.com", "ops@example.com"),
    ("v1#2", "v1\\#2"),
])
def test_only_an_at_or_hash_that_could_open_a_link_is_cut(text: str, expected: str) -> None:
    """A mention or reference needs a non-word character before it; a model URI stays
    one string a user can copy."""
    assert inline(text) == expected


def test_a_code_block_cannot_be_closed_by_its_text() -> None:
    block = code_block("up{a='1'}\n```\n## forged", "promql")

    assert block.startswith("````promql\n")
    assert block.endswith("\n````")
    assert structure(block + "\n") == structure("```promql\nx\n```\n")


def test_a_mermaid_chart_keeps_hostile_labels_inside_its_block_and_legend() -> None:
    from modelrail.render.charts import mermaid_lines

    def chart(name: str) -> str:
        return mermaid_lines(name, [name, "b"], [(name, [1.0, float("nan")])], y_label=name)

    assert_inert(chart("auc"), chart(HOSTILE))
