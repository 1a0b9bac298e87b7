"""Canary analysis: policy (config), statistics (stats, judge), Prometheus I/O (analyze).

`judge` and `stats` are pure functions over counts and samples; `analyze` is the only
module here that talks to Prometheus, and `argo` exports the threshold checks.
"""
