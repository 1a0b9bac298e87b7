"""Drift statistics as pure functions over counts, so the big side never sits in memory.

Kolmogorov-Smirnov and PSI for numeric features are computed from counts on the
reference's grid (`Grid`), chi-squared and PSI for categorical ones from category counts.
The grid and each statistic's exact definition: docs/statistics.md ("Drift").
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats as scipy_stats

from modelrail.monitor.config import DEFAULT_BINS, DEFAULT_EPSILON

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Grid:
    """The reference's sorted distinct values and its counts on the grid (2k+1 slots)."""

    values: FloatArray
    reference: IntArray

    @classmethod
    def of(cls, reference: NDArray[np.floating] | Sequence[float]) -> "Grid":
        sample = np.asarray(reference, dtype=np.float64)
        values, counts = np.unique(sample[~np.isnan(sample)], return_counts=True)
        slots = np.zeros(2 * len(values) + 1, dtype=np.int64)
        slots[1::2] = counts
        return cls(values=values, reference=slots)

    def count(self, sample: NDArray[np.floating] | Sequence[float]) -> IntArray:
        """`sample`'s slot counts (NaN skipped); add the counts of several chunks."""
        data = np.asarray(sample, dtype=np.float64)
        data = data[~np.isnan(data)]
        below = np.searchsorted(self.values, data, side="left")
        inside = below < len(self.values)
        equal = np.zeros(len(data), dtype=bool)
        equal[inside] = self.values[below[inside]] == data[inside]
        slots = 2 * below + equal
        return np.bincount(slots, minlength=len(self.reference)).astype(np.int64)

    def psi_bins(self, bins: int = DEFAULT_BINS) -> IntArray:
        """The slot index where each PSI bin ends (exclusive), last = all slots."""
        total = int(self.reference.sum())
        cumulative = np.cumsum(self.reference[1::2])
        # inverted-CDF quantile j/bins = the first value whose cumulative count ≥ j·n/bins
        ends = {int(np.searchsorted(cumulative, total * j / bins, side="left"))
                for j in range(1, bins)}
        slot_ends = sorted(2 * i + 2 for i in ends if i < len(self.values) - 1)
        return np.asarray([*slot_ends, len(self.reference)], dtype=np.int64)


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's statistics; `p_value` is before the multiple-comparison correction."""

    test: str  # "ks" | "chi2"
    statistic: float
    p_value: float
    psi: float
    reference_n: int
    current_n: int


def ks_from_counts(reference: Sequence[int] | IntArray,
                   current: Sequence[int] | IntArray) -> tuple[float, float]:
    """(D, asymptotic two-sided p) from counts on one ordered grid."""
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    n, m = ref.sum(), cur.sum()
    if n == 0 or m == 0:
        return 0.0, 1.0
    d = float(np.max(np.abs(np.cumsum(ref) / n - np.cumsum(cur) / m)))
    effective = round(n * m / (n + m))
    return d, float(scipy_stats.kstwo.sf(d, effective))


def psi(reference: Sequence[int] | IntArray, current: Sequence[int] | IntArray,
        epsilon: float = DEFAULT_EPSILON) -> float:
    """Population stability index of two count vectors over the same bins."""
    ref = _proportions(reference, epsilon)
    cur = _proportions(current, epsilon)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _proportions(counts: Sequence[int] | IntArray, epsilon: float) -> FloatArray:
    values = np.asarray(counts, dtype=np.float64)
    total = values.sum()
    shares = values / total if total else np.zeros_like(values)
    return np.maximum(shares, epsilon)


def chi2_from_counts(reference: Sequence[int] | IntArray,
                     current: Sequence[int] | IntArray) -> tuple[float, float]:
    """Pearson χ² homogeneity test of two count vectors over the same categories."""
    table = np.vstack([np.asarray(reference, dtype=np.float64),
                       np.asarray(current, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(scipy_stats.chi2.sf(statistic, table.shape[1] - 1))


def numeric_test(grid: Grid, current: IntArray, *, bins: int = DEFAULT_BINS,
                 epsilon: float = DEFAULT_EPSILON) -> FeatureDrift:
    """KS and PSI of current grid counts against the reference."""
    d, p = ks_from_counts(grid.reference, current)
    ends = grid.psi_bins(bins)
    return FeatureDrift(test="ks", statistic=d, p_value=p,
                      psi=psi(binned(grid.reference, ends), binned(current, ends), epsilon),
                      reference_n=int(grid.reference.sum()), current_n=int(current.sum()))


def binned(slots: IntArray, ends: IntArray) -> IntArray:
    """Slot counts summed into the bins that end (exclusive) at `ends`."""
    starts = np.concatenate([[0], ends[:-1]])
    return np.add.reduceat(slots, starts)


def categorical_test(reference: Mapping[str, int], current: Mapping[str, int], *,
                     epsilon: float = DEFAULT_EPSILON) -> FeatureDrift:
    """χ² and PSI of category counts (categories from either side)."""
    categories = sorted(set(reference) | set(current))
    ref = np.asarray([reference.get(c, 0) for c in categories], dtype=np.int64)
    cur = np.asarray([current.get(c, 0) for c in categories], dtype=np.int64)
    statistic, p = chi2_from_counts(ref, cur)
    return FeatureDrift(test="chi2", statistic=statistic, p_value=p, psi=psi(ref, cur, epsilon),
                      reference_n=int(ref.sum()), current_n=int(cur.sum()))
