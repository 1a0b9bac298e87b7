"""Text shared by every report: the status icons, the number format and Markdown table cells.

Gate, canary, A/B and monitor reports show the same verdict words and numbers side by side
in job summaries and PR comments, so they take them from here to look alike.
"""

import math
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


def table_cell(text: str) -> str:
    """Text that stays inside one cell of a Markdown table."""
    return text.replace("|", "\\|").replace("\n", " ")
