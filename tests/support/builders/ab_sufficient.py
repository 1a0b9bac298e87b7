"""Sufficient statistics computed straight from simulated unit-level data (numpy), and
two sets of statistics compared up to floating-point summation order."""

from dataclasses import asdict
from typing import Any

import numpy as np
import pytest
from modelrail.ab.stats import MeanStats, MetricStats, ProportionStats, RatioStats, SufficientStats

Array = np.ndarray[Any, np.dtype[np.float64]]


def mean_stats(y: Array, covariate: Array | None = None) -> MeanStats:
    if covariate is None:
        return MeanStats(n=len(y), sum=float(y.sum()), sum_squares=float((y * y).sum()))
    return MeanStats(n=len(y), sum=float(y.sum()), sum_squares=float((y * y).sum()),
                     covariate_sum=float(covariate.sum()),
                     covariate_sum_squares=float((covariate * covariate).sum()),
                     covariate_sum_products=float((covariate * y).sum()))


def proportion_stats(y: Array) -> ProportionStats:
    return ProportionStats(n=len(y), sum=float(y.sum()))


def ratio_stats(numerator: Array, denominator: Array) -> RatioStats:
    return RatioStats(n=len(numerator), numerator_sum=float(numerator.sum()),
                      numerator_sum_squares=float((numerator**2).sum()),
                      denominator_sum=float(denominator.sum()),
                      denominator_sum_squares=float((denominator**2).sum()),
                      numerator_denominator_sum_products=float((numerator * denominator).sum()))


def numbers(stats: MetricStats) -> dict[str, float]:
    return {key: value for key, value in asdict(stats).items() if value is not None}


def assert_same(first: SufficientStats | None, second: SufficientStats) -> None:
    """Equal, up to the order in which floating-point sums were added."""
    assert first is not None
    assert first.units == second.units
    for name, by_variant in second.metrics.items():
        for variant, expected in by_variant.items():
            assert numbers(first.metrics[name][variant]) == pytest.approx(
                numbers(expected), rel=1e-12), f"{name}.{variant}"
