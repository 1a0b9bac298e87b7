"""The looks a group-sequential experiment has taken, and its tests at the current one.

A daily workflow does not count its looks: each run reads back the looks file the previous
runs left (`ab analyze --looks`), adds its own look and writes the file again. A look is
keyed by its UTC day, so a re-run of the same day replaces that day's look instead of
spending alpha twice; a run that sees no new units re-reads the last look.

Each test's p-value is the repeated p-value (Jennison & Turnbull, section 9.1): the
smallest alpha at which some look so far reached its bound. It only falls from look to
look, and Holm's correction across primaries takes it as any valid p-value.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from modelrail.ab.config import SequentialConfig
from modelrail.ab.group_sequential import Design, bounds, crossing_chances, repeated_p_value
from modelrail.ab.stats import Alternative, Effect, TestResult
from modelrail.errors import UsageError

LOOKS_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Look:
    """One analysis: its day, the units it saw, its information fraction, and each
    test's repeated p-value up to it."""

    key: str
    units: int
    fraction: float
    p_values: Mapping[str, float] = field(default_factory=dict)
    z_values: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"key": self.key, "units": self.units, "fraction": self.fraction,
                "p_values": dict(self.p_values), "z_values": dict(self.z_values)}


def test_key(metric: str, alternative: Alternative, null: float) -> str:
    """The same test across looks: the metric, the side, and the null it is tested at."""
    return f"{metric} {alternative} {null!r}"


@dataclass(frozen=True)
class LookSummary:
    """The current look for the reports: the plan, alpha spent, each look's bound on z and
    each primary's observed z per look, up = better (None where a look did not test it)."""

    key: str
    units: int
    planned_units: int
    past_maximum: bool
    alpha: float
    alpha_spent: float
    fractions: tuple[float, ...]
    bounds: tuple[float, ...]
    z: Mapping[str, tuple[float | None, ...]]
    power: Mapping[str, float] = field(default_factory=dict)  # with a target effect

    @property
    def look(self) -> int:
        return len(self.fractions)

    def to_json(self) -> dict[str, object]:
        return {"look": self.look, "key": self.key, "units": self.units,
                "planned_units": self.planned_units, "fraction": self.fractions[-1],
                "past_maximum": self.past_maximum, "alpha": self.alpha,
                "alpha_spent": self.alpha_spent, "fractions": list(self.fractions),
                "bounds": [b if math.isfinite(b) else None for b in self.bounds],
                "z": {key: list(values) for key, values in self.z.items()},
                "power_at_maximum": dict(self.power)}


@dataclass
class LookPlan:
    """The earlier looks and the current one, which this analysis spends at."""

    sequential: SequentialConfig
    planned_units: int
    earlier: tuple[Look, ...]
    key: str
    units: int
    recorded: dict[str, float] = field(default_factory=dict)
    observed: dict[str, float] = field(default_factory=dict)

    @property
    def fractions(self) -> list[float]:
        return [look.fraction for look in self.earlier] + [self.units / self.planned_units]

    @property
    def past_maximum(self) -> bool:
        """An earlier look had reached the planned maximum: this one is an overrun."""
        return any(look.fraction >= 1.0 for look in self.earlier)

    def design(self, alpha: float, two_sided: bool) -> Design:
        return Design(alpha=alpha, spending=self.sequential.spending,
                      rho=self.sequential.rho, two_sided=two_sided)

    def bound(self, alpha: float, alternative: Alternative) -> float:
        """The current look's bound on z at level `alpha` (split over two sides)."""
        two_sided = alternative == "two-sided"
        design = self.design(alpha / 2 if two_sided else alpha, two_sided)
        return bounds(design, self.fractions)[-1]

    def power_at_maximum(self, alpha: float, alternative: Alternative, result: Effect,
                         target: float) -> float:
        """The chance to ship by the planned maximum if the true effect is `target`
        (toward improvement), with the looks so far and one more at the maximum."""
        fractions = self.fractions
        if fractions[-1] < 1.0:
            fractions.append(1.0)
        two_sided = alternative == "two-sided"
        design = self.design(alpha / 2 if two_sided else alpha, two_sided)
        full_error = result.standard_error * math.sqrt(self.units / self.planned_units)
        chances = crossing_chances(design, fractions, bounds(design, fractions),
                                   abs(target) / full_error)
        return min(1.0, math.fsum(chances))

    def summary(self, alpha: float, primaries: Mapping[str, Alternative],
                power: Mapping[str, float] | None = None) -> "LookSummary":
        """Where this look stands in the plan, the bounds on z at `alpha` so far, and each
        primary's z per look (tested on its `primaries` side; up is improvement)."""
        alternative = next(iter(primaries.values()), "two-sided")
        two_sided = alternative == "two-sided"
        design = self.design(alpha / 2 if two_sided else alpha, two_sided)
        fractions = self.fractions
        return LookSummary(
            key=self.key, units=self.units, planned_units=self.planned_units,
            past_maximum=self.past_maximum, alpha=alpha,
            alpha_spent=design.spent(fractions[-1]) * (2 if two_sided else 1),
            fractions=tuple(fractions), bounds=tuple(bounds(design, fractions)),
            z={name: tuple(_toward(look.z_values.get(test_key(name, side, 0.0)), side)
                           for look in self.looks())
               for name, side in primaries.items()},
            power=dict(power or {}))

    def test(self, name: str, result: Effect, alpha: float, alternative: Alternative,
             null: float = 0.0) -> TestResult:
        """The test at this look: the repeated p-value and the repeated interval."""
        z = (result.estimate - null) / result.standard_error
        two_sided = alternative == "two-sided"
        toward = abs(z) if two_sided else (z if alternative == "greater" else -z)
        now = repeated_p_value(self.design(alpha, two_sided), self.fractions, toward)
        now = min(1.0, 2 * now) if two_sided else now
        key = test_key(name, alternative, null)
        p_value = min([now, *self._earlier_p_values(key)])
        self.recorded[key] = p_value
        if math.isfinite(z):
            self.observed[key] = z
        half = self.bound(alpha, alternative) * result.standard_error
        low = result.estimate - half if alternative != "less" else -math.inf
        high = result.estimate + half if alternative != "greater" else math.inf
        return TestResult(result.estimate, low, high, p_value)

    def _earlier_p_values(self, key: str) -> list[float]:
        return [look.p_values[key] for look in self.earlier if key in look.p_values]

    def current(self) -> Look:
        return Look(self.key, self.units, self.units / self.planned_units,
                    dict(self.recorded), dict(self.observed))

    def looks(self) -> list[Look]:
        """What the looks file holds after this analysis."""
        return [*self.earlier, self.current()]


def _toward(z: float | None, alternative: Alternative) -> float | None:
    return None if z is None else (-z if alternative == "less" else z)


def plan_look(sequential: SequentialConfig, history: Sequence[Look], key: str,
              units: int) -> LookPlan:
    """The plan for a look on day `key` with `units` seen, after `history`.

    A look of the same day is replaced; a look with no more units than the last one
    re-reads it (no new information, nothing spent); fewer units than an earlier look
    means the logs lost data, which no design survives.
    """
    planned = sequential.planned_units
    if planned is None:
        raise UsageError("experiment.sequential.planned_units: required for a "
                         "group-sequential look")
    for look in history:
        if abs(look.units / planned - look.fraction) > 1e-9:
            raise UsageError(f"experiment.sequential.planned_units: look {look.key} was taken "
                             f"with {round(look.units / look.fraction)} planned units, the "
                             f"policy now says {planned}; a design cannot change mid-test")
    earlier = [look for look in history if look.key != key]
    if earlier and units <= earlier[-1].units:
        last = earlier.pop()
        if units < last.units:
            raise UsageError(f"the logs hold {units} units, fewer than look {last.key} saw "
                             f"({last.units}): the looks file does not belong to these logs")
        key = last.key
    return LookPlan(sequential, planned, tuple(earlier), key, units)


def parse_looks(data: object, source: str) -> list[Look]:
    """The looks file: `{"schema_version": 1, "looks": [{key, units, fraction, p_values}]}`."""
    if not isinstance(data, dict) or not isinstance(data.get("looks"), list):
        raise UsageError(f"{source}: looks: expected an object with a list of looks")
    if data.get("schema_version", LOOKS_SCHEMA_VERSION) != LOOKS_SCHEMA_VERSION:
        raise UsageError(f"{source}: schema_version: {data.get('schema_version')!r} is not "
                         f"{LOOKS_SCHEMA_VERSION}, the version this modelrail reads")
    return [_look(entry, f"{source}: looks[{index}]")
            for index, entry in enumerate(data["looks"])]


def _look(entry: object, where: str) -> Look:
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: expected an object")
    key, units, fraction = entry.get("key"), entry.get("units"), entry.get("fraction")
    p_values, z_values = entry.get("p_values", {}), entry.get("z_values", {})
    if not isinstance(key, str) or not key:
        raise UsageError(f"{where}.key: expected the look's day as text")
    if not isinstance(units, int) or isinstance(units, bool) or units < 1:
        raise UsageError(f"{where}.units: expected a whole number of units, at least 1")
    if not isinstance(fraction, int | float) or isinstance(fraction, bool) \
            or not math.isfinite(fraction) or fraction <= 0:
        raise UsageError(f"{where}.fraction: expected a number greater than 0")
    if not isinstance(p_values, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1
            for v in p_values.values()):
        raise UsageError(f"{where}.p_values: expected test names mapped to p-values in [0, 1]")
    if not isinstance(z_values, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in z_values.values()):
        raise UsageError(f"{where}.z_values: expected test names mapped to finite numbers")
    return Look(key, units, float(fraction), {str(k): float(v) for k, v in p_values.items()},
                {str(k): float(v) for k, v in z_values.items()})


def looks_json(looks: Sequence[Look]) -> dict[str, object]:
    return {"schema_version": LOOKS_SCHEMA_VERSION, "looks": [look.to_json() for look in looks]}
