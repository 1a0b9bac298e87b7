"""The `monitor:` section of modelrail.yaml: what drift and degradation mean, and what
happens then.

The keys and their defaults: docs/policy.md ("monitor:").
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from modelrail.plumbing.policy_section import Section, duration_seconds

Severity = Literal["minor", "major"]
Action = Literal["warn", "rollback"]
SEVERITIES: tuple[Severity, ...] = ("minor", "major")
ACTIONS: tuple[Action, ...] = ("warn", "rollback")
DEFAULT_ARTIFACT = "reference.csv"
DEFAULT_BINS = 10
DEFAULT_EPSILON = 1e-4


@dataclass(frozen=True)
class Levels:
    """The value of a measure from which a check has each severity (minor ≤ major)."""

    minor: float
    major: float

    def severity(self, value: float) -> Severity | None:
        if value >= self.major:
            return "major"
        return "minor" if value >= self.minor else None


@dataclass(frozen=True)
class PerformanceConfig:
    attribution_window_seconds: float
    calibration_error: Levels


@dataclass(frozen=True)
class MonitorConfig:
    alpha: float = 0.01
    bins: int = DEFAULT_BINS
    epsilon: float = DEFAULT_EPSILON
    min_rows: int = 1000
    features: tuple[str, ...] | None = None
    categorical: tuple[str, ...] | None = None
    prediction: str = "prediction"
    reference_artifact: str = DEFAULT_ARTIFACT
    thresholds: Levels = Levels(minor=0.1, major=0.25)
    feature_thresholds: Mapping[str, Levels] = field(default_factory=dict)
    actions: Mapping[Severity, Action] = field(
        default_factory=lambda: {"minor": "warn", "major": "rollback"})
    performance: PerformanceConfig | None = None

    def levels(self, feature: str) -> Levels:
        return self.feature_thresholds.get(feature, self.thresholds)


@dataclass(frozen=True)
class ShadowConfig:
    """The `shadow:` section: when a shadow's answers are close enough to production's.

        shadow:
          decision_threshold: 0.5   # a score at or above it is a positive decision
          min_pairs: 500            # fewer paired rows: inconclusive (exit 4)
          min_agreement: 0.95       # share of rows with the same decision
          min_correlation: 0.9      # Pearson correlation of the scores
          max_ks: 0.1               # Kolmogorov-Smirnov distance of the score distributions
          max_error_rate: 0.01      # shadow calls that failed or timed out (Prometheus)
          max_latency_p99: 0.25     # seconds, shadow call p99 (Prometheus)
          window: 1h                # the Prometheus window
    """

    decision_threshold: float = 0.5
    min_pairs: int = 500
    min_agreement: float = 0.95
    min_correlation: float = 0.9
    max_ks: float = 0.1
    max_error_rate: float = 0.01
    max_latency_p99: float = 0.25
    window: str = "1h"


def parse_shadow(section: Section) -> ShadowConfig:
    def unit(name: str, default: float) -> float:
        return section.bounded(name, default, low=0.0, high=1.0)

    config = ShadowConfig(
        decision_threshold=unit("decision_threshold", 0.5),
        min_pairs=section.whole("min_pairs", 500, low=1),
        min_agreement=unit("min_agreement", 0.95),
        min_correlation=section.bounded("min_correlation", 0.9, low=-1.0, high=1.0),
        max_ks=unit("max_ks", 0.1),
        max_error_rate=unit("max_error_rate", 0.01),
        max_latency_p99=section.bounded("max_latency_p99", 0.25, low=0.0,
                                        high=float("inf"), low_open=True),
        window=section.duration("window", "1h", "a duration such as 30m or 1h"),
    )
    section.finish()
    return config


def parse_monitor(section: Section) -> MonitorConfig:
    """Read and check `monitor:`; every problem names the file and the dotted key."""
    no_overrides: dict[str, Levels] = {}
    default, per_feature = section.optional_section("thresholds", _thresholds,
                                                    (MonitorConfig.thresholds, no_overrides))
    config = MonitorConfig(
        alpha=section.bounded("alpha", 0.01, low=0.0, high=0.5, low_open=True),
        bins=section.whole("bins", DEFAULT_BINS, low=2),
        epsilon=section.bounded("epsilon", DEFAULT_EPSILON, low=0.0, high=0.01,
                                low_open=True),
        min_rows=section.whole("min_rows", 1000, low=1),
        features=section.string_list("features"),
        categorical=section.string_list("categorical"),
        prediction=section.string("prediction") or "prediction",
        reference_artifact=section.string("reference_artifact") or DEFAULT_ARTIFACT,
        thresholds=default,
        feature_thresholds=per_feature,
        actions=section.optional_section("actions", _actions, MonitorConfig().actions),
        performance=section.optional_section("performance", _performance, None),
    )
    section.finish()
    return config


def _levels(section: Section) -> Levels:
    for name in SEVERITIES:
        if section.raw(name) is None:
            raise section.error(name, "is required (a positive number)")
    minor = section.bounded("minor", 0.0, low=0.0, high=float("inf"), low_open=True)
    major = section.bounded("major", 0.0, low=0.0, high=float("inf"), low_open=True)
    if major < minor:
        raise section.error("major", f"must be at least minor ({minor:g}), got {major:g}")
    section.finish()
    return Levels(minor=minor, major=major)


def _thresholds(section: Section) -> tuple[Levels, dict[str, Levels]]:
    levels = {name: _levels(child) for name, child in section.children()}
    default = levels.pop("default", MonitorConfig.thresholds)
    return default, levels


def _actions(section: Section) -> dict[Severity, Action]:
    actions = {severity: section.choice(severity, ACTIONS, MonitorConfig().actions[severity])
               for severity in SEVERITIES}
    section.finish()
    return actions


def _performance(section: Section) -> PerformanceConfig:
    window = section.duration("attribution_window", "30m", "a duration such as 90s, 30m or 1h")
    config = PerformanceConfig(attribution_window_seconds=duration_seconds(window) or 0.0,
                               calibration_error=_levels(section.section("calibration_error")))
    section.finish()
    return config
