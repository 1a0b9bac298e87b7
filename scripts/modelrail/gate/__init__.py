"""The quality gate: the `gate:` section, metrics files, a candidate's metrics checked
against bounds and the champion, and the gate's Markdown for PRs and summaries.
"""
