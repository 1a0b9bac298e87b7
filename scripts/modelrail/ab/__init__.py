"""A/B testing of models: GrowthBook-compatible assignment, log aggregation in SQL (DuckDB
or PostgreSQL), a sequential-safe stats engine, the decision and its reports.

Only the assignment API lives at the top level: a router imports it without scipy, which
the statistics (`modelrail.ab.stats`, the `[ab]` extra) need.
"""

from modelrail.ab.hashing import assign, bucket

__all__ = ["assign", "bucket"]
