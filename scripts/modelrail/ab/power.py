"""How much longer? The smallest effect the experiment can detect now, and the units
(and days) it needs to detect the target effect, under the test the engine runs.

Both come from one formula: at N units in all, the test detects an effect d with power
1 - beta when d = half(N) + z(1 - beta) * sqrt(s2 / N), where s2 = n * var(effect) is the
per-unit variance seen so far (the split between the variants kept) and half(N) is the
half-width of the interval the decision reads (fixed-horizon or always valid). The
method and its assumptions: docs/statistics.md ("How much longer?").
"""

import math
from dataclasses import dataclass

from scipy.special import ndtri

from modelrail.ab.stats import Alternative, Effect, sequential_half_width

POWER = 0.8
# Beyond this many units an experiment is not "running longer" but a different one.
MAX_UNITS = 10**12


@dataclass(frozen=True)
class Design:
    """The test the decision reads: its alpha per primary (Holm's strictest step), its
    sides, and with `tuning` (N*) the always-valid interval instead of the fixed one."""

    alpha: float
    alternative: Alternative
    tuning: float | None = None

    def half_width(self, per_unit_variance: float, units: float) -> float:
        if self.tuning is not None:
            return sequential_half_width(per_unit_variance, units, self.alpha,
                                         self.alternative, self.tuning)
        tail = self.alpha / 2 if self.alternative == "two-sided" else self.alpha
        return float(-ndtri(tail)) * math.sqrt(per_unit_variance / units)

    def detectable(self, per_unit_variance: float, units: float) -> float:
        """The effect detected with probability POWER by the look at `units` units."""
        return self.half_width(per_unit_variance, units) + \
            float(ndtri(POWER)) * math.sqrt(per_unit_variance / units)


@dataclass(frozen=True)
class Outlook:
    """One primary metric's answer, in the metric's difference (relative or absolute)."""

    power: float
    mde: float
    target: float | None  # the target effect in the same difference, None if not set
    units_needed: int | None  # total units for the target; None: no target or unreachable
    units_now: int

    @property
    def units_more(self) -> int | None:
        if self.units_needed is None:
            return None
        return max(0, self.units_needed - self.units_now)

    def days_more(self, units_per_day: float | None) -> float | None:
        more = self.units_more
        if more is None or units_per_day is None or not units_per_day > 0:
            return None
        return more / units_per_day


def outlook(effect: Effect, design: Design, target: float | None) -> Outlook:
    """The MDE at the current units and, for a `target` effect, the units it needs."""
    per_unit_variance = effect.variance * effect.n
    mde = design.detectable(per_unit_variance, effect.n)
    needed = None if target is None else units_for(design, per_unit_variance, abs(target))
    return Outlook(power=POWER, mde=mde, target=target, units_needed=needed,
                   units_now=effect.n)


def units_for(design: Design, per_unit_variance: float, target: float) -> int | None:
    """The fewest units whose MDE is at most `target` (the MDE falls as units grow);
    None when even MAX_UNITS are not enough."""
    if design.detectable(per_unit_variance, MAX_UNITS) > target:
        return None
    low, high = 1, 2
    while design.detectable(per_unit_variance, high) > target:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if design.detectable(per_unit_variance, middle) > target:
            low = middle
        else:
            high = middle
    return high
