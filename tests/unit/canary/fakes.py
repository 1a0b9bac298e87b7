"""Fakes for the canary tests: a scripted Prometheus (one answer per metric name), a
scripted judge (one outcome per look) and a clock whose sleep only moves it on."""

from modelrail.canary.analyze import AnalysisRequest, AnalysisResult
from modelrail.canary.judge import Decision, Outcome, Verdict
from modelrail.errors import ServiceError
from modelrail.plumbing.prometheus import PrometheusClient, Series

Answer = float | list[tuple[str, float]]
"""A value on every point of one series, or histogram buckets as (le, count) series."""


class ScriptedPrometheus(PrometheusClient):
    """Answers by the metric name the query starts with (`name{...}`): that name's value,
    the same at every point and for both versions; `vector(1)` (the preflight) is 1."""

    def __init__(self, values: dict[str, Answer]) -> None:
        super().__init__("http://prometheus.invalid")
        self.values = {"vector(1)": 1.0, **values}

    def _series(self, promql: str, times: list[float]) -> list[Series]:
        answer = self.values[promql.split("{", 1)[0]]
        if isinstance(answer, list):
            return [Series({"le": le}, tuple((t, count) for t in times)) for le, count in answer]
        return [Series({}, tuple((t, answer) for t in times))]

    def query(self, promql: str, at: float) -> list[Series]:
        return self._series(promql, [at])

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[Series]:
        count = round((end - start) / step) + 1
        return self._series(promql, [start + i * step for i in range(count)])


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.01)


class ScriptedJudge:
    """Answers each look with the next scripted outcome (the last one repeats)."""

    def __init__(self, *outcomes: Outcome | BaseException, down: bool = False) -> None:
        self.outcomes = list(outcomes)
        self.down = down
        self.looks: list[tuple[int, int]] = []
        self.held: list[float] = []

    def preflight(self) -> None:
        if self.down:
            raise ServiceError("Prometheus at http://127.0.0.1:9 is unreachable")

    def look(self, look: int, looks: int, held: float) -> AnalysisResult:
        self.looks.append((look, looks))
        self.held.append(held)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        verdicts = (
            Verdict(name="error_rate", test="counts", outcome=outcome, reason=f"{outcome} rate",
                    critical=True, canary={"events": 3, "total": 100, "rate": 0.03},
                    baseline={"events": 1, "total": 900, "rate": 0.0011},
                    queries={"canary": "errors{version='2'}"}),
            Verdict(name="error_slo", test="threshold", outcome="pass", reason="within",
                    canary={"value": 0.01, "series": 1}),
        )
        return AnalysisResult(
            request=AnalysisRequest(canary="2", baseline="1", time=0.0, window="10s",
                                    look=look, looks=looks),
            decision=Decision(outcome, f"decided {outcome}", 100.0 if outcome == "pass"
                              else 0.0),
            verdicts=verdicts, alpha=0.005, false_rollback_rate=0.01, prometheus="fake")
