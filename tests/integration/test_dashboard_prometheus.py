"""Every query of example-model's dashboard, as Grafana would send it, against a real
Prometheus holding an hour of the serving app's metrics (stable v1 and canary v2) and the
gauges `canary run --openmetrics` and `monitor --openmetrics` write: each one parses and
returns data."""

from collections.abc import Iterator

import pytest
from modelrail.canary.openmetrics import Where, canary_gauges
from modelrail.monitor.openmetrics import monitor_gauges
from modelrail.plumbing.openmetrics import render
from modelrail.plumbing.prometheus import PrometheusClient

from tests.support.dashboard import panel_queries, shipped
from tests.support.services.prometheus import (
    History,
    history_end,
    prometheus_available,
    prometheus_server,
)
from tests.unit.canary.test_openmetrics import ANALYSIS, canary
from tests.unit.monitor.test_openmetrics import result as monitor_result

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not prometheus_available(), reason="needs prometheus")]
MODEL = "ctr-ranker"
# What Grafana puts in place of the dashboard's variables before it sends a query.
VARIABLES = {"$__rate_interval": "1m", "$model": MODEL}
END = history_end()


def serving_history() -> History:
    history = History(end=END, duration=3600)
    for version, per_second in (("1", 9.0), ("2", 1.0)):
        served = {"model": MODEL, "version": version}
        for code, share in (("200", 0.99), ("503", 0.01)):
            history.counter("modelrail_requests", {**served, "code": code, "handler": "/predict",
                                                   "method": "POST"}, per_second * share)
        history.histogram("modelrail_request_duration_seconds",
                          {**served, "handler": "/predict", "method": "POST"}, per_second,
                          {0.005: 0.5, 0.05: 0.95, 0.25: 0.999})
        history.histogram("modelrail_prediction_score", served, per_second,
                          {0.02: 0.3, 0.1: 0.8, 0.3: 0.98})
    return history


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusClient]:
    where = Where(rollout=MODEL, namespace="ml", model=MODEL)
    gauges = [render(canary_gauges(canary("2", start=END - 600), ANALYSIS, where)),
              render(monitor_gauges(monitor_result(), now=END))]
    with prometheus_server(tmp_path_factory.mktemp("prometheus"), serving_history(),
                           gauges) as server:
        yield PrometheusClient(server.url)


def resolved(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"a variable this test does not know: {expr}"
    return expr


@pytest.mark.parametrize(("title", "exprs"), list(panel_queries(shipped()).items()))
def test_every_panel_query_parses_and_returns_data(client: PrometheusClient, title: str,
                                                   exprs: list[str]) -> None:
    for expr in exprs:
        series = client.query(resolved(expr), END)
        assert series, f"{title}: no data for {resolved(expr)}"
