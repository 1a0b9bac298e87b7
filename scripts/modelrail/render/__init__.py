"""Output shared by every report: SVG and Mermaid charts, Markdown helpers (icons, number
format, table cells) and the self-contained HTML page shell.
"""
