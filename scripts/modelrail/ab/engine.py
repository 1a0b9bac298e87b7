"""Which test each metric gets, by its role (primary, guardrail, secondary), and what the
test says: fixed-horizon (Welch) or, with `sequential.enabled`, always valid.

The tests per role and their corrections: docs/statistics.md ("A/B engine").
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from modelrail.ab.config import ExperimentConfig
from modelrail.ab.looks import LookPlan
from modelrail.ab.stats import (
    SRM_ALPHA,
    STATS_TYPES,
    Alternative,
    Arm,
    Effect,
    MeanStats,
    MetricStats,
    StatsError,
    SufficientStats,
    TestResult,
    arm,
    covariate_sums,
    cuped_arm,
    cuped_theta,
    effect,
    fixed_test,
    sequential_test,
    srm_p_value,
)
from modelrail.errors import UsageError
from modelrail.multiple_testing import holm

Role = Literal["primary", "guardrail", "secondary"]
Outcome = Literal["improved", "worse", "non-inferior", "inferior", "inconclusive"]
_OPPOSITE: dict[Alternative, Alternative] = {"greater": "less", "less": "greater"}


@dataclass(frozen=True)
class Srm:
    """The sample-ratio-mismatch check of the exposed units against the weights."""

    p_value: float
    units: Mapping[str, int]
    weights: Mapping[str, float]

    @property
    def passed(self) -> bool:
        return self.p_value >= SRM_ALPHA


@dataclass(frozen=True)
class MetricResult:
    """One metric's verdict. `test` is the deciding test: for a guardrail the
    non-inferiority test against `null` = the margin on the harmful side."""

    name: str
    role: Role
    relative: bool
    test: TestResult
    outcome: Outcome
    means: Mapping[str, float]
    adjusted_p_value: float | None = None
    margin: float | None = None
    effect: Effect | None = None  # the estimate's variance and units, for the outlook

    @property
    def passed(self) -> bool | None:
        """A primary passes when it improved, a guardrail when it is non-inferior; a
        secondary metric neither passes nor fails."""
        if self.role == "secondary":
            return None
        return self.outcome in ("improved", "non-inferior")


def check_variants(experiment: ExperimentConfig, stats: SufficientStats) -> None:
    """The statistics must be about the experiment's variants, and two of them."""
    if set(stats.variants) != set(experiment.variants):
        raise UsageError(f"{stats.source}: variants: {list(stats.variants)} are not the "
                         f"experiment's variants {list(experiment.variants)}")
    if len(experiment.variants) != 2:
        raise UsageError(f"experiment.variants: the analysis compares a control with one "
                         f"treatment, got {len(experiment.variants)} variants")


def check_srm(experiment: ExperimentConfig, stats: SufficientStats) -> Srm:
    units = [stats.units[v] for v in experiment.variants]
    return Srm(p_value=srm_p_value(units, experiment.weights),
               units={v: stats.units[v] for v in experiment.variants},
               weights=dict(zip(experiment.variants, experiment.weights, strict=True)))


def evaluate(experiment: ExperimentConfig, stats: SufficientStats,
             looks: LookPlan | None = None) -> list[MetricResult]:
    """Every metric the experiment names, primaries first, then guardrails, then others.

    A group-sequential experiment needs `looks`, the plan of the current look."""
    if experiment.sequential.group_sequential and looks is None:
        raise UsageError("experiment.sequential.method: group-sequential needs the looks "
                         "taken so far: pass --looks FILE (kept between runs)")
    tester = _Tester(experiment, looks)
    primaries = [_directional(tester, stats, name, "primary")
                 for name in experiment.primary]
    adjusted = holm([primary.test.p_value for primary in primaries])
    results = [_decide(primary, p, experiment.alpha)
               for primary, p in zip(primaries, adjusted, strict=True)]
    results += [_guardrail(tester, stats, name) for name in experiment.guardrails]
    results += [_decide(_directional(tester, stats, name, "secondary"), None,
                        experiment.alpha)
                for name in experiment.metric_names()
                if name not in experiment.primary and name not in experiment.guardrails]
    return results


@contextmanager
def _naming(source: str, path: str) -> Iterator[None]:
    """Turn a StatsError into a UsageError that names where in the statistics it is."""
    try:
        yield
    except StatsError as error:
        where = f"{path}.{error.field}" if error.field else path
        raise UsageError(f"{source}: {where}: {error}") from None


def _metric_stats(experiment: ExperimentConfig, stats: SufficientStats,
                  name: str) -> Mapping[str, MetricStats]:
    by_variant = stats.metrics.get(name)
    if by_variant is None:
        raise UsageError(f"{stats.source}: metrics.{name}: missing, but the experiment "
                         "reads it")
    spec = experiment.metrics.get(name)
    if spec is not None:
        expected = STATS_TYPES[spec.type]
        if not all(isinstance(s, expected) for s in by_variant.values()):
            raise UsageError(f"{stats.source}: metrics.{name}.type: not {spec.type}, which "
                             f"experiment.metrics.{name}.type declares")
    return by_variant


def _effect(experiment: ExperimentConfig, stats: SufficientStats, name: str,
            relative: bool) -> tuple[Effect, dict[str, float]]:
    """The metric's effect and each variant's unadjusted estimate."""
    by_variant = _metric_stats(experiment, stats, name)
    arms: dict[str, Arm] = {}
    for variant in experiment.variants:
        variant_stats = by_variant[variant]
        with _naming(stats.source, f"metrics.{name}.{variant}"):
            arms[variant] = arm(variant_stats)
            if experiment.cuped.enabled and isinstance(variant_stats, MeanStats):
                covariate_sums(variant_stats)
    control, treatment = experiment.variants
    with _naming(stats.source, f"metrics.{name}"):
        control_stats, treatment_stats = by_variant[control], by_variant[treatment]
        arm_c, arm_t = arms[control], arms[treatment]
        if experiment.cuped.enabled and isinstance(control_stats, MeanStats) \
                and isinstance(treatment_stats, MeanStats):
            theta = cuped_theta(control_stats, treatment_stats)
            arm_c, arm_t = cuped_arm(control_stats, theta), cuped_arm(treatment_stats, theta)
        return effect(arm_c, arm_t, relative), {v: a.mean for v, a in arms.items()}


@dataclass(frozen=True)
class _Tester:
    """Runs each test the way the experiment reads its data: once (fixed horizon), at any
    look (confidence sequence) or at a planned look (group-sequential)."""

    experiment: ExperimentConfig
    looks: LookPlan | None

    def run(self, name: str, result: Effect, alternative: Alternative,
            null: float = 0.0) -> TestResult:
        experiment = self.experiment
        if self.looks is not None and experiment.sequential.group_sequential:
            return self.looks.test(name, result, experiment.alpha, alternative, null)
        if experiment.sequential.enabled:
            return sequential_test(result, experiment.alpha, alternative,
                                   experiment.sequential.tuning, null)
        return fixed_test(result, experiment.alpha, alternative, null)


@dataclass(frozen=True)
class _Directional:
    """A primary or secondary metric's tests, before Holm and the verdict."""

    name: str
    role: Role
    relative: bool
    test: TestResult
    good: Alternative
    harm_p_value: float
    means: Mapping[str, float]
    effect: Effect


def _toward(estimate: float, direction: Alternative) -> bool:
    return estimate > 0 if direction == "greater" else estimate < 0


def _directional(tester: _Tester, stats: SufficientStats, name: str,
                 role: Role) -> _Directional:
    experiment = tester.experiment
    relative = experiment.difference == "relative"
    result, means = _effect(experiment, stats, name, relative)
    good: Alternative = "greater" if experiment.greater_is_better(name) else "less"
    bad = _OPPOSITE[good]
    if experiment.sided == "two":
        test = tester.run(name, result, "two-sided")
        harm_p_value = test.p_value if _toward(test.estimate, bad) else 1.0
    else:
        test = tester.run(name, result, good)
        harm_p_value = tester.run(name, result, bad).p_value
    return _Directional(name, role, relative, test, good, harm_p_value, means, result)


def _decide(result: _Directional, adjusted: float | None, alpha: float) -> MetricResult:
    """The verdict on a directional metric; `adjusted` is its Holm p-value (primaries)."""
    p_value = result.test.p_value if adjusted is None else adjusted
    outcome: Outcome = "inconclusive"
    if p_value < alpha and _toward(result.test.estimate, result.good):
        outcome = "improved"
    elif result.harm_p_value < alpha:
        outcome = "worse"
    return MetricResult(name=result.name, role=result.role, relative=result.relative,
                        test=result.test, outcome=outcome, means=result.means,
                        adjusted_p_value=adjusted, effect=result.effect)


def _guardrail(tester: _Tester, stats: SufficientStats, name: str) -> MetricResult:
    """Non-inferiority on the relative lift: the margin is relative whatever
    `difference` says, so the test is too."""
    experiment = tester.experiment
    guardrail = experiment.guardrails[name]
    result, means = _effect(experiment, stats, name, relative=True)
    safe: Alternative = "greater" if guardrail.direction == "decrease" else "less"
    null = -guardrail.margin if safe == "greater" else guardrail.margin
    test = tester.run(name, result, safe, null)
    outcome: Outcome = "inconclusive"
    if test.p_value < experiment.alpha:
        outcome = "non-inferior"
    elif tester.run(name, result, _OPPOSITE[safe], null).p_value < experiment.alpha:
        outcome = "inferior"
    return MetricResult(name=name, role="guardrail", relative=True, test=test,
                        outcome=outcome, means=means, margin=guardrail.margin,
                        effect=result)
