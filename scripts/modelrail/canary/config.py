"""The `analysis:` section of modelrail.yaml: what the canary judge checks, and how.

One definition, two executors: `modelrail analyze` runs every metric against
Prometheus, `modelrail analysis export-argo` writes the threshold metrics as an Argo
AnalysisTemplate. The keys and the query template variables: docs/policy.md ("analysis:").
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypedDict

from modelrail.errors import UsageError
from modelrail.plumbing.policy_section import Section

Kind = Literal["threshold", "compare"]
Data = Literal["counter", "histogram", "gauge"]
Direction = Literal["increase", "decrease", "either"]
NoData = Literal["fail", "inconclusive"]
KINDS: tuple[Kind, ...] = ("threshold", "compare")
DATA: tuple[Data, ...] = ("counter", "histogram", "gauge")
DIRECTIONS: tuple[Direction, ...] = ("increase", "decrease", "either")
NO_DATA: tuple[NoData, ...] = ("fail", "inconclusive")
PLACEHOLDERS = ("version", "canary_version", "baseline_version", "namespace", "rollout",
                "window")
DEFAULT_WINDOW = "5m"
# Enough observations that a pass means something; a canary that served a handful of
# requests is not judged at all (its metric gets the no_data outcome).
DEFAULT_MIN_SAMPLES: Mapping[Data, int] = {"counter": 100, "histogram": 100, "gauge": 10}

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
# A value lands inside a PromQL string literal: nothing that could end or escape it.
_UNSAFE_VALUE = re.compile(r"[\"'`\\{}\x00-\x1f]")


@dataclass(frozen=True, kw_only=True)
class Metric:
    """What every metric has: a PromQL template and what its failure or silence means."""

    name: str
    query: str
    critical: bool = False
    no_data: NoData = "inconclusive"


@dataclass(frozen=True, kw_only=True)
class ThresholdMetric(Metric):
    """An absolute bound on the canary's value, like an Argo AnalysisTemplate condition."""

    minimum: float | None = None
    maximum: float | None = None

    def within(self, value: float) -> bool:
        return (self.minimum is None or value >= self.minimum) and \
            (self.maximum is None or value <= self.maximum)


@dataclass(frozen=True, kw_only=True)
class CompareMetric(Metric):
    """Canary against baseline. `allowed_ratio` is the change tolerated in `direction`."""

    direction: Direction = "increase"
    allowed_ratio: float = 1.0
    min_samples: int = 0


@dataclass(frozen=True, kw_only=True)
class CounterMetric(CompareMetric):
    """Events out of a total over the window (`query` errors, `total` requests): counts."""

    total: str


@dataclass(frozen=True, kw_only=True)
class HistogramMetric(CompareMetric):
    """Cumulative bucket counts (`le` label) over the window; compared at `quantile`."""

    quantile: float = 0.99


@dataclass(frozen=True, kw_only=True)
class GaugeMetric(CompareMetric):
    """Samples every `step` over the window, compared as Kayenta does (Mann-Whitney)."""

    step: str = "30s"
    tolerance: float = 0.25


MetricSpec = ThresholdMetric | CounterMetric | HistogramMetric | GaugeMetric


@dataclass(frozen=True)
class AnalysisConfig:
    """`looks` and `window` are None when the file leaves them to the rollout section."""

    metrics: tuple[MetricSpec, ...]
    false_rollback_rate: float = 0.01
    looks: int | None = None
    window: str | None = None
    pass_score: float = 100.0
    require_all_judged: bool = False  # a metric without data: inconclusive, not ignored

    def compare_count(self) -> int:
        """How many metrics share the false-rollback budget (thresholds spend none)."""
        return sum(isinstance(metric, CompareMetric) for metric in self.metrics)


def placeholders(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template))


def render_template(template: str, replace: Callable[[str], str]) -> str:
    """`template` with every `{{name}}` replaced by `replace(name)`."""
    return _PLACEHOLDER.sub(lambda match: replace(match.group(1)), template)


def resolve(template: str, values: Mapping[str, str | None]) -> str:
    """Fill in a query; every value must be safe inside a PromQL string literal."""

    def value_of(name: str) -> str:
        value = values.get(name)
        if value is None:
            raise UsageError(f"the query uses {{{{{name}}}}} but no {name} was given "
                             f"(--{name}): {template}")
        if not value or _UNSAFE_VALUE.search(value):
            raise UsageError(f"{name} {value!r} cannot be placed in a PromQL label value "
                             "(empty, or contains a quote, backslash, brace or control "
                             "character)")
        return value

    return render_template(template, value_of)


class _Common(TypedDict):
    name: str
    query: str
    critical: bool
    no_data: NoData


class _CompareCommon(_Common):
    direction: Direction
    allowed_ratio: float
    min_samples: int


def parse_analysis(section: Section) -> AnalysisConfig:
    """Parse the `analysis:` section; every problem names the file and the dotted key."""
    metrics_section = section.section("metrics")
    metrics = tuple(_parse_metric(name, child, metrics_section)
                    for name, child in metrics_section.children())
    if not metrics:
        raise section.error("metrics", "needs at least one metric")
    config = AnalysisConfig(
        metrics=metrics,
        false_rollback_rate=section.checked("false_rollback_rate", 0.01,
                                            lambda v: 0 < v <= 0.5, "a number in (0, 0.5]"),
        looks=section.whole("looks", 0, low=1) or None,  # 0: not given
        window=section.duration("window", None),
        pass_score=section.checked("pass_score", 100.0, lambda v: 0 <= v <= 100,
                                   "a percentage from 0 to 100"),
        require_all_judged=section.flag("require_all_judged"),
    )
    section.finish()
    return config


def _parse_metric(name: str, section: Section, parent: Section) -> MetricSpec:
    if not _METRIC_NAME.fullmatch(name):
        raise parent.error(name, "is not a valid metric name "
                                 "(a letter or '_', then letters, digits, '_', '.', '-')")
    kind = section.choice("kind", KINDS, None)
    common = _Common(name=name, query=_template(section, "query"),
                     critical=section.flag("critical"),
                     no_data=section.choice("no_data", NO_DATA, "inconclusive"))
    metric = _parse_threshold(section, common) if kind == "threshold" \
        else _parse_compare(section, common)
    section.finish()
    return metric


def _parse_threshold(section: Section, common: _Common) -> ThresholdMetric:
    minimum, maximum = section.number("min"), section.number("max")
    if minimum is None and maximum is None:
        raise section.error("max", "a threshold metric needs min, max or both")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise section.error("min", f"{minimum:g} is above max {maximum:g}")
    return ThresholdMetric(**common, minimum=minimum, maximum=maximum)


def _parse_compare(section: Section, common: _Common
                   ) -> CounterMetric | HistogramMetric | GaugeMetric:
    data = section.choice("data", DATA, None)
    if "version" not in placeholders(common["query"]):
        raise section.error("query", "a compare metric's query must select "
                                     '{{version}} (e.g. version="{{version}}"), so that it '
                                     "measures the canary and the baseline in turn")
    compare = _CompareCommon(
        **common,
        direction=section.choice("direction", DIRECTIONS, "increase"),
        allowed_ratio=section.checked("allowed_ratio", 1.0, lambda v: v >= 1,
                                      "a ratio >= 1 (1 allows no change)"),
        min_samples=section.whole("min_samples", DEFAULT_MIN_SAMPLES[data], low=0),
    )
    if data == "counter":
        total = _template(section, "total")
        if "version" not in placeholders(total):
            raise section.error("total", "must select {{version}} like the query")
        return CounterMetric(**compare, total=total)
    if data == "histogram":
        return HistogramMetric(**compare, quantile=section.checked(
            "quantile", 0.99, lambda v: 0 < v < 1, "a quantile in (0, 1)"))
    return GaugeMetric(**compare, step=section.duration("step", "30s"),
                       tolerance=section.checked("tolerance", 0.25, lambda v: v >= 0,
                                                 "a fraction >= 0"))


def _template(section: Section, name: str) -> str:
    text = section.required_string(name)
    unknown = sorted(placeholders(text) - set(PLACEHOLDERS))
    if unknown:
        raise section.error(name, f"unknown placeholder {{{{{unknown[0]}}}}} (known: "
                                  f"{', '.join(PLACEHOLDERS)})")
    return text
