"""A/B testing of models: GrowthBook-compatible assignment and a sequential-safe stats engine.

Only the assignment API lives at the top level: a router imports it without scipy, which
the statistics (`modelrail.ab.stats`, the `[ab]` extra) need.
"""

from modelrail.ab.hashing import assign, bucket

__all__ = ["assign", "bucket"]
