"""Group-sequential bounds: the false-positive budget spent over planned looks.

A daily analysis has a planned maximum sample size and a known cadence. Instead of a
confidence sequence valid at every possible look forever, an alpha-spending function
(Lan & DeMets 1983) says how much of the budget may be spent by information fraction t
(units seen / planned maximum), and each look's bound on the z statistic is the one at
which the chance of crossing it for the first time, under no effect, is exactly that
look's share. Those chances come from the joint distribution of the look statistics
(a Brownian motion observed at the looks' information), integrated recursively on the
grid of Jennison & Turnbull, "Group Sequential Methods" (2000), chapter 19.

Only the information fractions decide the bounds, so uneven or missed days are fine:
each look spends what its own fraction allows. A look at or past the planned maximum
spends what is left (its information is used as observed); later looks are decided at
that final bound and reported as past the maximum.
"""

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.special import ndtr
from scipy.stats import norm

from modelrail.ab.config import Spending

_GRID_R = 16  # Jennison & Turnbull's r (6r - 1 points before clipping): theirs, 1e-6 accurate
_NEGLIGIBLE = 1e-15  # a share below this is no share: the bound is infinite
_P_TOLERANCE = 1e-6  # on log(alpha): p-values to a millionth of themselves
_ROOT_TWO_PI = math.sqrt(2.0 * math.pi)
Array = NDArray[np.float64]


@dataclass(frozen=True)
class Design:
    """How the budget is spent: `alpha` per side, by `spending` (with `rho` for the power
    family alpha * t**rho); `two_sided` adds the mirror-image lower bound."""

    alpha: float
    spending: Spending = "obrien-fleming"
    rho: float = 3.0
    two_sided: bool = False

    def spent(self, fraction: float) -> float:
        """The share of `alpha` that may be spent by information fraction `fraction`."""
        t = min(max(fraction, 0.0), 1.0)
        if t == 0.0:
            return 0.0
        if self.spending == "obrien-fleming":
            return float(2.0 * norm.sf(norm.isf(self.alpha / 2.0) / math.sqrt(t)))
        if self.spending == "pocock":
            return self.alpha * math.log1p((math.e - 1.0) * t)
        return float(self.alpha * t**self.rho)

    def with_alpha(self, alpha: float) -> "Design":
        return Design(alpha, self.spending, self.rho, self.two_sided)


@dataclass(frozen=True)
class _Density:
    """The sub-density of the look statistic on the continuation region, at one look."""

    points: Array
    weights: Array
    values: Array
    fraction: float


def _grid(mean: float, low: float, high: float) -> tuple[Array, Array]:
    """Points and Simpson weights over (low, high), dense near `mean` (J&T section 19.2.1)."""
    r = _GRID_R
    i = np.arange(1, 6 * r, dtype=float)
    x = np.where(
        i < r,
        mean - 3.0 - 4.0 * np.log(r / i),
        np.where(
            i <= 5 * r,
            mean - 3.0 + 3.0 * (i - r) / (2.0 * r),
            mean + 3.0 + 4.0 * np.log(r / np.maximum(6 * r - i, 1.0)),
        ),
    )
    inside = x[(x > low) & (x < high)]
    ends = ([low] if low > x[0] else []), ([high] if high < x[-1] else [])
    z = np.concatenate((ends[0], inside, ends[1]))
    if z.size < 2:
        z = np.array([low, high])
    steps = np.diff(z)
    points = np.empty(2 * z.size - 1)
    points[0::2], points[1::2] = z, z[:-1] + steps / 2.0
    weights = np.zeros_like(points)
    weights[0:-1:2] += steps / 6.0
    weights[2::2] += steps / 6.0
    weights[1::2] = 4.0 * steps / 6.0
    return points, weights


def _first(fraction: float, drift: float, low: float, high: float) -> _Density:
    mean = drift * math.sqrt(fraction)
    points, weights = _grid(mean, low, high)
    return _Density(points, weights, norm.pdf(points - mean), fraction)


def _step(previous: _Density, fraction: float, drift: float) -> tuple[Array, float, float]:
    """Per previous point: where the increment to `fraction` starts, its scale, its sd."""
    gap = fraction - previous.fraction
    start = previous.points * math.sqrt(previous.fraction) + drift * gap
    return start, math.sqrt(fraction), math.sqrt(gap)


def _crossing(
    previous: _Density, fraction: float, drift: float, bound: float, upper: bool
) -> float:
    """P(the look at `fraction` is beyond `bound`, no earlier look crossed)."""
    if math.isinf(bound):
        return 0.0
    start, scale, sd = _step(previous, fraction, drift)
    standard = (bound * scale - start) / sd
    beyond = ndtr(-standard) if upper else ndtr(standard)
    return float(np.sum(previous.weights * previous.values * beyond))


def _next(previous: _Density, fraction: float, drift: float, low: float, high: float) -> _Density:
    start, scale, sd = _step(previous, fraction, drift)
    points, weights = _grid(drift * scale, low, high)
    standard = (points[:, None] * scale - start[None, :]) / sd
    kernel = np.exp(-0.5 * standard * standard) * (scale / (sd * _ROOT_TWO_PI))
    return _Density(points, weights, kernel @ (previous.weights * previous.values), fraction)


def _first_crossing(
    previous: _Density | None, fraction: float, drift: float, bound: float
) -> float:
    if previous is None:
        return float(norm.sf(bound - drift * math.sqrt(fraction)))
    return _crossing(previous, fraction, drift, bound, upper=True)


def _solve_bound(previous: _Density | None, fraction: float, share: float) -> float:
    """The upper bound whose first-crossing chance under no effect is `share`."""
    if share <= _NEGLIGIBLE:
        return math.inf
    if previous is None:
        return float(norm.isf(share))
    return float(
        brentq(
            lambda b: _first_crossing(previous, fraction, 0.0, b) - share, -10.0, 40.0, xtol=1e-10
        )
    )


def _region(design: Design, bound: float) -> tuple[float, float]:
    return (-bound if design.two_sided else -math.inf), bound


def _advance(
    previous: _Density | None, design: Design, fraction: float, bound: float, drift: float
) -> _Density:
    low, high = _region(design, bound)
    if previous is None:
        return _first(fraction, drift, low, high)
    return _next(previous, fraction, drift, low, high)


def checked_fractions(fractions: Sequence[float]) -> list[float]:
    """Looks in order of information: positive and strictly increasing."""
    values = [float(f) for f in fractions]
    if any(not math.isfinite(f) or f <= 0 for f in values):
        raise ValueError("information fractions must be finite and greater than 0")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError("information fractions must increase from look to look")
    return values


def bounds(design: Design, fractions: Sequence[float]) -> list[float]:
    """The upper bound on z at each look (the lower one is its negative when two-sided).

    A look at or past fraction 1 spends what is left; looks after it keep its bound.
    """
    result: list[float] = []
    previous: _Density | None = None
    spent = 0.0
    for fraction in checked_fractions(fractions):
        if result and spent >= design.alpha:
            result.append(result[-1])  # past the planned maximum: the final bound decides
            continue
        share = design.spent(fraction) - spent
        bound = _solve_bound(previous, fraction, share)
        result.append(bound)
        spent = design.alpha if fraction >= 1.0 else spent + share
        previous = _advance(previous, design, fraction, bound, 0.0)
    return result


def crossing_chances(
    design: Design, fractions: Sequence[float], bound_list: Sequence[float], drift: float
) -> list[float]:
    """P(first crossing of the upper bound at each look) when z at full information has
    mean `drift`; their sum is the power (drift > 0) or the error spent (drift = 0)."""
    chances: list[float] = []
    previous: _Density | None = None
    for fraction, bound in zip(checked_fractions(fractions), bound_list, strict=True):
        chances.append(_first_crossing(previous, fraction, drift, bound))
        previous = _advance(previous, design, fraction, bound, drift)
    return chances


def repeated_p_value(design: Design, fractions: Sequence[float], z: float) -> float:
    """The smallest alpha at which `z` at the last of `fractions` reaches its bound.

    The minimum of these over the looks so far is a valid p-value at any look (Jennison &
    Turnbull, section 9.1): under no effect it is below u with chance at most u.
    """
    if not math.isfinite(z):
        return 1.0

    def margin(log_alpha: float) -> float:
        return bounds(design.with_alpha(math.exp(log_alpha)), fractions)[-1] - z

    low, high = math.log(1e-12), math.log(0.5)
    if margin(high) > 0:
        return 1.0
    if margin(low) <= 0:
        return math.exp(low)
    return math.exp(brentq(margin, low, high, xtol=_P_TOLERANCE))
