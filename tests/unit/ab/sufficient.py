"""Sufficient statistics computed straight from simulated unit-level data (numpy)."""

from typing import Any

import numpy as np
from modelrail.ab.stats import MeanStats, ProportionStats, RatioStats

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
