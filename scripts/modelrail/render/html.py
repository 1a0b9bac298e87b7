"""The self-contained HTML page every report is written into: one inline style, no assets,
so the page reads the same opened from a downloaded artifact."""

from collections.abc import Sequence
from html import escape

_PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;"
    "padding:.3rem .6rem;text-align:right}th:first-child,td:first-child{text-align:left}"
    "h2{margin-top:2.5rem;border-bottom:1px solid #ddd}svg{max-width:100%;height:auto}"
)


def html_page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """A self-contained page; section bodies are HTML the caller built (SVG, tables)."""
    body = "\n".join(f"<section><h2>{escape(heading)}</h2>\n{html}\n</section>"
                     for heading, html in sections)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(title)}</title><style>{_PAGE_STYLE}</style></head>\n"
            f"<body><h1>{escape(title)}</h1>\n{body}\n</body></html>\n")
