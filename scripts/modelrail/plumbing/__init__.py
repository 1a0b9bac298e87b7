"""Shared infrastructure under every feature: the policy-section reader, GitHub runner I/O
and REST, the Prometheus client, retries, DuckDB and log files, user files, redaction.
"""
