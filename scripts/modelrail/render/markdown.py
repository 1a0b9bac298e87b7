"""Text shared by every report: the status icons, the number format, and the one escaper
for data put into Markdown.

Gate, canary, A/B and monitor reports show the same verdict words and numbers side by side
in job summaries and PR comments, so they take them from here to look alike. Names, notes
and reasons come from policies, metrics files and logs (in `pr-test.yml`, from the pull
request itself), so every report passes them through `inline`/`code`/`code_block`: data
stays one line of plain text that opens no heading, table cell, list, quote, link, image,
emphasis, HTML (an HTML comment could forge modelrail's hidden marker), mention or issue
reference.
"""

import math
import re
from collections.abc import Mapping
from types import MappingProxyType

DASH = "—"
"""What a report shows where there is no number."""

ICON: Mapping[str, str] = MappingProxyType({
    "pass": "✅", "ship": "✅",
    "fail": "❌", "no-ship": "❌",
    "inconclusive": "⚠️", "invalid": "⚠️",
    "keep-running": "⏳",
    "error": "🛑",
})
"""The icon of each verdict word: gate and canary (pass, fail, ...) and A/B (ship, ...)."""


def number(value: object, digits: int = 4, *, signed: bool = False,
           finite_only: bool = False) -> str:
    """`value` to `digits` significant digits, with its sign when `signed`; a dash when it
    is not a number (None, a bool, text), or when it is NaN or infinite and `finite_only`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DASH
    if finite_only and not math.isfinite(value):
        return DASH
    return f"{value:{'+' if signed else ''}.{digits}g}"


_BACKSLASHED = frozenset("\\`*_~[]()#|!$")
"""Markdown's active punctuation (code, emphasis, strike-through, links and images,
headings, table cells, math), escaped with a backslash as CommonMark allows for any."""

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
"""HTML (tags, comments, entities such as `&#64;`) shown as text, not interpreted."""

_BREAK_AFTER = frozenset("@#")
"""A mention (`@team`) or an issue reference (`#12`) is cut by a zero-width space where one
could start: at the start or after a character that is not a letter or digit (so
`models:/ranker@champion` stays one copyable string)."""

_ZERO_WIDTH_SPACE = "&#8203;"
_UNSEEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LIST_NUMBER = re.compile(r"^(\d{1,9})\.")


def one_line(text: str) -> str:
    """`text` with every whitespace run (newlines, CR, tabs) as one space and control and
    bidi characters dropped: what a Mermaid label, too, can safely hold."""
    return " ".join(_UNSEEN.sub(" ", text).split())


def inline(text: str) -> str:
    """`text` as one line of plain Markdown, safe anywhere inline: in a paragraph, a list
    item, a heading or a table cell (GFM splits cells before it unescapes `\\|`).

    Whitespace runs (newlines, CR, tabs) become one space and other control and bidi
    characters are dropped, so data never starts a line; what it starts with cannot open
    a list, a thematic break or a setext heading either.
    """
    line = one_line(text)
    escaped = "".join(_escape_char(char, line[i - 1] if i else "")
                      for i, char in enumerate(line))
    if escaped.startswith(("-", "+", "=")):  # a list item, a thematic break, a setext line
        return "\\" + escaped
    return _LIST_NUMBER.sub(r"\1\\.", escaped, count=1)  # "1." opens an ordered list


def _escape_char(char: str, before: str) -> str:
    escaped = "\\" + char if char in _BACKSLASHED else _ENTITIES.get(char, char)
    starts_a_link = char in _BREAK_AFTER and not before.isalnum()
    return escaped + _ZERO_WIDTH_SPACE if starts_a_link else escaped


def code(text: str) -> str:
    """`text` in monospace: an HTML `<code>` element around `inline(text)` (a backtick
    span would show escapes literally and keep `<!--` in the raw body)."""
    return f"<code>{inline(text)}</code>"


def table_cell(text: str) -> str:
    """Text that stays inside one cell of a Markdown table: `inline` is safe there."""
    return inline(text)


def code_block(text: str, info: str = "") -> str:
    """A fenced code block that `text` cannot close: its fence is longer than any run of
    backticks inside; control and bidi characters are dropped from its lines."""
    text = "\n".join(_UNSEEN.sub(" ", line) for line in text.splitlines())
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"
