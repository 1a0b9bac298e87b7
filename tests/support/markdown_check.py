"""Render Markdown as GitHub does (CommonMark, GFM tables and strike-through, raw HTML
passed through) to check that data put into a report changes none of its structure.

A report is rendered twice, once with plain names (`auc`) and once with `HOSTILE` in
their place: both must parse to the same blocks and inline elements (no extra heading,
table cell, list, quote, link, image, emphasis or HTML), and the hostile one must render no
HTML comment (a forged sticky marker), @-mention or #-issue reference, nor carry control or
bidi characters.
"""

import re

from markdown_it import MarkdownIt

HOSTILE = (
    "x|y`\n## Quality gate passed ✅\n@acme/admins <!-- modelrail:sticky -->\r\n"
    "- [link](https://evil.example) ![img](https://evil.example/i.png) *em* _u_ ~~s~~ "
    "<b>bold</b> &#64;team #12 $x$ a\\|b\r1. one\n> quote\n---\n``` --> \u202eboo\x00"
)
"""Every Markdown construct a name or a reason could try to open."""

_GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_MENTION = re.compile(r"(?<![\w])@[A-Za-z0-9]")
_ISSUE_REFERENCE = re.compile(r"(?<![\w])#\d")
_CODE_BLOCK = re.compile(r"<pre>.*?</pre>", re.S)


def structure(markdown: str) -> list[tuple[str, str]]:
    """The token kinds of the rendered document; raw HTML by its content."""
    shape = []
    for token in _GFM.parse(markdown):
        shape.append((token.type, token.tag))
        shape += [(child.type, child.content if child.type == "html_inline" else child.tag)
                  for child in token.children or []]
    return shape


def assert_inert(benign: str, hostile: str) -> None:
    """`hostile` (the report with HOSTILE data) is shaped exactly like `benign`."""
    assert structure(hostile) == structure(benign), hostile
    html = _GFM.render(hostile)
    assert "<!--" not in html
    assert "\u202e" not in hostile
    assert "\x00" not in hostile
    text = _CODE_BLOCK.sub("", html)  # GitHub links no mention inside a code block
    assert not _MENTION.search(text), text
    assert not _ISSUE_REFERENCE.search(text), text
    assert html.count("<h") == _GFM.render(benign).count("<h")
