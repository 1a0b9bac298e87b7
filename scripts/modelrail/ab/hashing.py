"""Deterministic assignment of units to variants, bucket-compatible with GrowthBook SDKs.

A unit routed here lands in the same variant a GrowthBook SDK (hashVersion 2) would put
it in, so a team can route with either and analyse with modelrail. The hash, the bucket
ranges and why characters are hashed as UTF-16 code units: docs/statistics.md
("Assignment").
"""

import math
from collections.abc import Sequence

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MASK = 0xFFFFFFFF
_BUCKETS = 10_000
_WEIGHT_TOLERANCE = 1e-9


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a over the UTF-16 code units of `text`, as GrowthBook's SDKs hash."""
    value = _FNV_OFFSET
    encoded = text.encode("utf-16-le")
    for index in range(0, len(encoded), 2):
        value = ((value ^ (encoded[index] | encoded[index + 1] << 8)) * _FNV_PRIME) & _MASK
    return value


def bucket(seed: str, unit_id: str) -> float:
    """The unit's position in [0, 1) for this seed: GrowthBook hash v2, 4 decimal places."""
    return fnv1a32(str(fnv1a32(seed + unit_id))) % _BUCKETS / _BUCKETS


def bucket_ranges(weights: Sequence[float], coverage: float = 1.0) -> list[tuple[float, float]]:
    """Each variant's half-open bucket range, as GrowthBook's getBucketRanges builds them.

    GrowthBook falls back to equal weights when the weights are off; here bad weights are
    a programming error and raise ValueError, so a typo never silently changes a split.
    """
    if not weights:
        raise ValueError("weights: at least one variant is needed")
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise ValueError(f"weights must be finite and not negative, got {list(weights)}")
    if abs(math.fsum(weights) - 1.0) > _WEIGHT_TOLERANCE:
        raise ValueError(f"weights must sum to 1, got {list(weights)} (sum {sum(weights)})")
    if not 0.0 <= coverage <= 1.0:
        raise ValueError(f"coverage must be between 0 and 1, got {coverage}")
    ranges = []
    cumulative = 0.0
    for weight in weights:
        ranges.append((cumulative, cumulative + coverage * weight))
        cumulative += weight
    return ranges


def assign(experiment: str, unit_id: str, weights: Sequence[float],
           coverage: float = 1.0) -> int | None:
    """The index of the unit's variant, or None when the unit is outside the coverage."""
    position = bucket(experiment, unit_id)
    for index, (start, end) in enumerate(bucket_ranges(weights, coverage)):
        if start <= position < end:
            return index
    return None
