"""Run one look of the canary analysis: fill in each metric's queries, read Prometheus,
judge each metric, decide.

Look K of a rollout reads every step so far: counters and histograms as one window per
step (a range query with step = window, so each point is one step's increase), gauges as
samples over all K windows. The false-rollback budget is spent across the looks
(judge.metric_alpha), so reading old steps again costs nothing extra.

Every value Prometheus returns is checked before any arithmetic: NaN is a missing point
(left out, as Prometheus means it), while +Inf, -Inf, a value beyond +-LARGEST_VALUE or a
negative or inexact count (beyond 2^53) cannot be judged: the metric gets its `no_data`
outcome with the query and the value named, and the look goes on.
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from modelrail.canary.config import (
    DEFAULT_WINDOW,
    AnalysisConfig,
    CounterMetric,
    GaugeMetric,
    HistogramMetric,
    Metric,
    MetricSpec,
    ThresholdMetric,
    resolve,
)
from modelrail.canary.judge import (
    Decision,
    Histogram,
    Verdict,
    decide,
    judge_counter,
    judge_gauge,
    judge_histogram,
    judge_threshold,
    metric_alpha,
    no_data,
)
from modelrail.canary.stats import Stratum
from modelrail.errors import ExitCode, UsageError
from modelrail.plumbing.policy_section import duration_seconds
from modelrail.plumbing.prometheus import PrometheusClient, Series
from modelrail.rollouts.policy import RolloutConfig

Log = Callable[[str], None]
# A sample beyond this magnitude is not judged: the gauge test's differences and means of
# such values (and their squares) would overflow a float. No real measurement comes near.
LARGEST_VALUE = 1e150
# A count beyond 2^53 is not a count: a float no longer holds every whole number there, and
# the exact binomial tail of the count test loses all precision.
LARGEST_COUNT = 2.0 ** 53
_EXIT_CODES = {"pass": ExitCode.OK, "fail": ExitCode.REJECTED,
               "inconclusive": ExitCode.INCONCLUSIVE}


@dataclass(frozen=True)
class AnalysisRequest:
    """What to compare, when, and which look of the rollout this is."""

    canary: str
    baseline: str
    time: float
    window: str
    look: int = 1
    looks: int = 1
    namespace: str | None = None
    rollout: str | None = None

    def __post_init__(self) -> None:
        if not duration_seconds(self.window):
            raise UsageError(f"--window {self.window!r}: expected a Prometheus duration "
                             "such as 5m")
        if not 1 <= self.look <= self.looks:
            raise UsageError(f"--look {self.look}: expected 1 to --looks ({self.looks})")

    @property
    def window_seconds(self) -> float:
        return duration_seconds(self.window) or 0.0

    def values(self, version: str) -> dict[str, str | None]:
        """Placeholder values with `{{version}}` set to the side being measured."""
        return {"version": version, "canary_version": self.canary,
                "baseline_version": self.baseline, "namespace": self.namespace,
                "rollout": self.rollout, "window": self.window}


@dataclass(frozen=True)
class AnalysisResult:
    request: AnalysisRequest
    decision: Decision
    verdicts: tuple[Verdict, ...]
    alpha: float
    false_rollback_rate: float
    prometheus: str

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES[self.decision.outcome]

    def to_json(self) -> dict[str, object]:
        request = self.request
        return {
            "outcome": self.decision.outcome, "exit_code": int(self.exit_code),
            "reason": self.decision.reason, "score": self.decision.score,
            "unjudged": list(self.decision.unjudged),
            "canary": request.canary, "baseline": request.baseline,
            "namespace": request.namespace, "rollout": request.rollout,
            "window": request.window,
            "time": datetime.fromtimestamp(request.time, UTC).isoformat(),
            "look": request.look, "looks": request.looks,
            "false_rollback_rate": self.false_rollback_rate, "alpha_per_metric": self.alpha,
            "prometheus": self.prometheus,
            "metrics": [verdict.to_json() for verdict in self.verdicts],
        }


def window_of(analysis: AnalysisConfig, rollout: RolloutConfig | None) -> str:
    """The data of one look: analysis.window, else one rollout step, else 5m."""
    if analysis.window:
        return analysis.window
    if rollout:
        milliseconds = round(rollout.step_seconds * 1000)
        return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"
    return DEFAULT_WINDOW


def analyze(config: AnalysisConfig, request: AnalysisRequest, client: PrometheusClient,
            log: Log = lambda _line: None) -> AnalysisResult:
    """Judge every metric of `config` at this look; a Prometheus failure raises."""
    alpha = metric_alpha(config, request.look, request.looks)
    verdicts = tuple(_measure(metric, request, client, alpha, log)
                     for metric in config.metrics)
    decision = decide(verdicts, config.pass_score,
                      require_all_judged=config.require_all_judged)
    return AnalysisResult(request=request, decision=decision,
                          verdicts=verdicts, alpha=alpha,
                          false_rollback_rate=config.false_rollback_rate,
                          prometheus=client.name)


class _UnusableValue(Exception):  # noqa: N818 - a signal inside this module, not an error
    """A value Prometheus returned that cannot be judged; the message says which and why."""


def _measure(metric: MetricSpec, request: AnalysisRequest, client: PrometheusClient,
             alpha: float, log: Log) -> Verdict:
    reader = _Reader(metric, request, client, log)
    try:
        verdict = _judge(metric, request, reader, alpha)
    except _UnusableValue as problem:
        verdict = no_data(metric, "not run: a value could not be used", str(problem))
    return replace(verdict, queries=reader.queries)


def _judge(metric: MetricSpec, request: AnalysisRequest, reader: "_Reader",
           alpha: float) -> Verdict:
    """Read the metric's data and judge it; an unusable value raises _UnusableValue."""
    if isinstance(metric, ThresholdMetric):
        series = reader.instant("canary", metric.query, request.canary)
        return judge_threshold(metric, [_usable(value, "canary", s) for s in series
                                        for _, value in s.points])
    if isinstance(metric, CounterMetric):
        strata = [Stratum(round(ce), ct, round(be), bt) for ce, ct, be, bt in zip(
            reader.per_step("canary", metric.query, request.canary),
            reader.per_step("canary_total", metric.total, request.canary),
            reader.per_step("baseline", metric.query, request.baseline),
            reader.per_step("baseline_total", metric.total, request.baseline), strict=True)]
        return judge_counter(metric, strata, alpha)
    if isinstance(metric, HistogramMetric):
        return judge_histogram(metric,
                               reader.histograms("canary", metric.query, request.canary),
                               reader.histograms("baseline", metric.query, request.baseline),
                               alpha)
    return judge_gauge(metric, reader.samples("canary", metric, request.canary),
                       reader.samples("baseline", metric, request.baseline), alpha)


class _Reader:
    """Fills in one metric's queries, runs them, and remembers them as resolved."""

    def __init__(self, metric: Metric, request: AnalysisRequest, client: PrometheusClient,
                 log: Log) -> None:
        self._metric, self._request, self._client, self._log = metric, request, client, log
        self.queries: dict[str, str] = {}
        step = request.window_seconds
        self._times = [request.time - (request.look - 1 - i) * step
                       for i in range(request.look)]

    def instant(self, role: str, template: str, version: str) -> list[Series]:
        promql = self._resolve(role, template, version)
        return self._run(role, promql, lambda: self._client.query(promql, self._request.time))

    def per_step(self, role: str, template: str, version: str) -> list[float]:
        """One value per rollout step: the sum over series of each step's point."""
        totals = dict.fromkeys(self._times, 0.0)
        for series in self._steps(role, template, version):
            for time, value in _step_points(series, totals):
                totals[time] += _count(value, role, series)
        return [_count(total, role, None) for total in totals.values()]

    def histograms(self, role: str, template: str, version: str) -> list[Histogram]:
        """One histogram per rollout step; series with the same `le` are added up."""
        counts: dict[float, dict[float, float]] = {time: {} for time in self._times}
        for series in self._steps(role, template, version):
            le = _upper_bound(series.labels.get("le"))
            if le is None:
                raise UsageError(f"analysis.metrics.{self._metric.name}: the query returned "
                                 f"a series without a numeric le label "
                                 f"({dict(series.labels)}); sum the _bucket series by (le)")
            for time, value in _step_points(series, counts):
                added = counts[time].get(le, 0.0) + _count(value, role, series)
                counts[time][le] = _count(added, role, series)
        return [Histogram.from_counts(counts[time]) for time in self._times]

    def samples(self, role: str, metric: GaugeMetric, version: str) -> list[float]:
        """Every value of every series, sampled each `step` over the look's windows."""
        promql = self._resolve(role, metric.query, version)
        step = duration_seconds(metric.step) or 0.0
        end = self._request.time
        start = end - self._request.look * self._request.window_seconds + step
        series = self._run(role, promql,
                           lambda: self._client.query_range(promql, start, end, step))
        return [_usable(value, role, s) for s in series for _, value in s.points]

    def _steps(self, role: str, template: str, version: str) -> list[Series]:
        promql = self._resolve(role, template, version)
        start, end = self._times[0], self._times[-1]
        step = self._request.window_seconds
        return self._run(role, promql,
                         lambda: self._client.query_range(promql, start, end, step))

    def _resolve(self, role: str, template: str, version: str) -> str:
        try:
            promql = resolve(template, self._request.values(version))
        except UsageError as error:
            raise UsageError(f"analysis.metrics.{self._metric.name}: {error}") from None
        self.queries[role] = promql
        self._log(f"{self._metric.name} [{role}]: {promql}")
        return promql

    def _run(self, role: str, promql: str,
             call: Callable[[], list[Series]]) -> list[Series]:
        try:
            return call()
        except UsageError as error:
            raise UsageError(f"analysis.metrics.{self._metric.name} ({role}): {error}") \
                from None


def _upper_bound(le: str | None) -> float | None:
    try:
        bound = float(le) if le is not None else None
    except ValueError:
        return None
    return None if bound is None or math.isnan(bound) else bound


def _labels(series: Series | None) -> str:
    return "" if not series or not series.labels else \
        " (" + ", ".join(f"{key}={value}" for key, value in sorted(series.labels.items())) + ")"


def _usable(value: float, role: str, series: Series) -> float:
    """`value` when arithmetic can use it (NaN passes: it is a missing point)."""
    if math.isnan(value) or abs(value) <= LARGEST_VALUE:
        return value
    raise _UnusableValue(f"the {role} query returned {value:g}{_labels(series)}, which cannot be "
                         f"judged (only values within +-{LARGEST_VALUE:g})")


def _count(value: float, role: str, series: Series | None) -> float:
    """`value` when it is a count: not negative, at most LARGEST_COUNT (NaN passes)."""
    if math.isnan(value) or 0 <= value <= LARGEST_COUNT:
        return value
    raise _UnusableValue(f"the {role} query returned {value:g}{_labels(series)}, which is "
                         f"not a count (0 to 2^53)")


def _step_points(series: Series, steps: Iterable[float]) -> list[tuple[float, float]]:
    """The series' points that fall on a step, NaN left out (a step with no data)."""
    wanted = {round(time, 3): time for time in steps}
    return [(wanted[round(time, 3)], value) for time, value in series.points
            if round(time, 3) in wanted and not math.isnan(value)]
