"""A scripted Prometheus for the canary tests: one answer per metric name."""

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
