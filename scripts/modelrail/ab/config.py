"""The `experiment:` section of modelrail.yaml: what an A/B test compares and how it decides.

Each metric's good direction is settled here once, so the engine and the decision never
guess it. The keys and their defaults: docs/policy.md ("experiment:").
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from modelrail.plumbing.policy_section import Section
from modelrail.plumbing.strict_data import finite_float

T = TypeVar("T")
MetricType = Literal["mean", "proportion", "ratio"]
Direction = Literal["increase", "decrease"]
Difference = Literal["relative", "absolute"]
Sided = Literal["two", "one"]
SequentialMethod = Literal["confidence-sequence", "group-sequential"]
Spending = Literal["obrien-fleming", "pocock", "power"]
METRIC_TYPES: tuple[MetricType, ...] = ("mean", "proportion", "ratio")
DIRECTIONS: tuple[Direction, ...] = ("increase", "decrease")
DIFFERENCES: tuple[Difference, ...] = ("relative", "absolute")
SIDES: tuple[Sided, ...] = ("two", "one")
SEQUENTIAL_METHODS: tuple[SequentialMethod, ...] = ("confidence-sequence", "group-sequential")
SPENDING_FUNCTIONS: tuple[Spending, ...] = ("obrien-fleming", "pocock", "power")
DEFAULT_VARIANTS = ("control", "treatment")
DEFAULT_TUNING = 5000.0
_WEIGHT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Guardrail:
    """A metric that must not get worse by `margin` (relative) in `direction`."""

    margin: float
    direction: Direction = "decrease"


@dataclass(frozen=True)
class MetricSpec:
    """A metric named in `metrics:`: the type its statistics must have, its good direction.

    `greater_is_better` is None when not written (then: True), so a guardrail can refuse it.
    """

    type: MetricType
    greater_is_better: bool | None = None


@dataclass(frozen=True)
class SequentialConfig:
    """Inference that stays valid when the experiment is read at every look.

    `confidence-sequence`: GrowthBook's always-valid sequence; `tuning` is its N*, the total
    number of units (all variants) at which it is narrowest. `group-sequential`: alpha spent
    over the looks up to `planned_units` (all variants) by `spending` (`rho` for the power
    family); the looks taken are remembered between runs (`ab analyze --looks`).
    """

    enabled: bool = False
    tuning: float = DEFAULT_TUNING
    method: SequentialMethod = "confidence-sequence"
    planned_units: int | None = None
    spending: Spending = "obrien-fleming"
    rho: float = 3.0

    @property
    def group_sequential(self) -> bool:
        return self.enabled and self.method == "group-sequential"


@dataclass(frozen=True)
class CupedConfig:
    """Variance reduction with a pre-period covariate.

    `covariate` names the per-unit pre-period value the log aggregation computes; with
    `--stats` its sums arrive already in the statistics (`covariate_*` fields).
    """

    enabled: bool = False
    covariate: str | None = None


@dataclass(frozen=True)
class ExperimentConfig:
    """`key`, `variants`, `weights` and `coverage` route units (`modelrail.ab.assign`);
    the rest says how the analysis reads and decides."""

    key: str
    primary: tuple[str, ...]
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    weights: tuple[float, ...] = (0.5, 0.5)
    coverage: float = 1.0
    guardrails: Mapping[str, Guardrail] = field(default_factory=dict)
    metrics: Mapping[str, MetricSpec] = field(default_factory=dict)
    alpha: float = 0.05
    difference: Difference = "relative"
    sided: Sided = "two"
    sequential: SequentialConfig = field(default_factory=SequentialConfig)
    cuped: CupedConfig = field(default_factory=CupedConfig)
    target_effect: float | None = None  # relative lift the primaries should detect

    @property
    def control(self) -> str:
        return self.variants[0]

    def metric_names(self) -> list[str]:
        """Every metric the analysis reads: primaries, guardrails, then reported ones."""
        names = [*self.primary, *self.guardrails]
        return names + [name for name in self.metrics if name not in names]

    def greater_is_better(self, name: str) -> bool:
        guardrail = self.guardrails.get(name)
        if guardrail is not None:
            return guardrail.direction == "decrease"
        spec = self.metrics.get(name)
        return spec is None or spec.greater_is_better is not False


def parse_experiment(section: Section) -> ExperimentConfig:
    """Read and check `experiment:`; every problem names the file and the dotted key."""
    key = section.required_string("key")
    variants = section.string_list("variants") or DEFAULT_VARIANTS
    if len(variants) < 2 or len(set(variants)) != len(variants):
        raise section.error("variants", "expected at least two distinct variant names")
    config = ExperimentConfig(
        key=key,
        primary=_primary(section),
        variants=variants,
        weights=_weights(section, len(variants)),
        coverage=section.bounded("coverage", 1.0, low=0.0, high=1.0, low_open=True),
        guardrails=section.optional_section("guardrails", _children(_guardrail), {}),
        metrics=section.optional_section("metrics", _children(_metric_spec), {}),
        alpha=section.bounded("alpha", 0.05, low=0.0, high=0.5, low_open=True,
                              high_open=True),
        difference=section.choice("difference", DIFFERENCES, "relative"),
        sided=section.choice("sided", SIDES, "two"),
        sequential=section.optional_section("sequential", _sequential, SequentialConfig()),
        cuped=section.optional_section("cuped", _cuped, CupedConfig()),
        target_effect=section.checked("target_effect", None, lambda v: v > 0,
                                      "a relative lift greater than 0 (0.02 for +2%)"),
    )
    _check_roles(section, config)
    section.finish()
    return config


def _primary(section: Section) -> tuple[str, ...]:
    names = (section.required_string("primary"),) \
        if isinstance(section.raw("primary"), str) else section.string_list("primary")
    if not names:
        raise section.error("primary", "is required: a metric name or a list of them")
    if len(set(names)) != len(names):
        raise section.error("primary", "names a metric twice")
    return names


def _weights(section: Section, count: int) -> tuple[float, ...]:
    value = section.raw("weights")
    if value is None:
        return (1.0 / count,) * count
    numbers = [finite_float(w) if isinstance(w, int | float) and not isinstance(w, bool)
               else None for w in value] if isinstance(value, list) else [None]
    if None in numbers:
        raise section.error("weights", "expected a list of finite numbers")
    weights = tuple(w for w in numbers if w is not None)
    if len(weights) != count:
        raise section.error("weights", f"has {len(weights)} entries for {count} variants")
    if any(w <= 0 for w in weights):
        raise section.error("weights", "every weight must be greater than 0")
    if abs(math.fsum(weights) - 1.0) > _WEIGHT_TOLERANCE:
        raise section.error("weights", f"must sum to 1, they sum to {math.fsum(weights):g}")
    return weights


def _children(parse: Callable[[Section], T]) -> Callable[[Section], dict[str, T]]:
    """A parser for a mapping of metric names to entries that `parse` reads."""
    return lambda section: {name: parse(entry) for name, entry in section.children()}


def _guardrail(section: Section) -> Guardrail:
    guardrail = Guardrail(margin=section.positive("margin", None),
                          direction=section.choice("direction", DIRECTIONS, "decrease"))
    section.finish()
    return guardrail


def _metric_spec(section: Section) -> MetricSpec:
    spec = MetricSpec(type=section.choice("type", METRIC_TYPES, None),
                      greater_is_better=section.optional_boolean("greater_is_better"))
    section.finish()
    return spec


def _sequential(section: Section) -> SequentialConfig:
    enabled = section.optional_boolean("enabled") or False
    tuning = section.positive("tuning", DEFAULT_TUNING)
    method = section.choice("method", SEQUENTIAL_METHODS, "confidence-sequence")
    planned = section.checked("planned_units", None, lambda v: v >= 2 and v == int(v),
                              "a whole number of units (all variants), at least 2")
    if method == "group-sequential" and planned is None:
        raise section.error("planned_units", "is required with method: group-sequential: "
                            "the maximum number of units (all variants) the test may use")
    config = SequentialConfig(enabled=enabled, tuning=tuning, method=method,
                              planned_units=None if planned is None else int(planned),
                              spending=section.choice("spending", SPENDING_FUNCTIONS,
                                                      "obrien-fleming"),
                              rho=section.positive("rho", 3.0))
    section.finish()
    return config


def _cuped(section: Section) -> CupedConfig:
    config = CupedConfig(enabled=section.optional_boolean("enabled") or False,
                         covariate=section.string("covariate"))
    section.finish()
    return config


def _check_roles(section: Section, config: ExperimentConfig) -> None:
    """A metric has one role, and its good direction is written in one place."""
    for name in config.guardrails:
        if name in config.primary:
            raise section.error(f"guardrails.{name}",
                                "is also a primary metric; a metric has one role")
        spec = config.metrics.get(name)
        if spec is not None and spec.greater_is_better is not None:
            raise section.error(f"metrics.{name}.greater_is_better",
                                f"{name} is a guardrail: its harmful direction is "
                                f"guardrails.{name}.direction")
