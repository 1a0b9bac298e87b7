"""`modelrail shadow analyze --prometheus-url`: the shadow calls' error rate and p99 latency
from a real Prometheus, on a history loaded with promtool."""

from pathlib import Path

import numpy as np
import pytest

from tests.support.builders.shadow_logs import shadow_analyze, write_shadow_log
from tests.support.services.prometheus import (
    History,
    history_end,
    prometheus_available,
    prometheus_server,
)

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not prometheus_available(),
                                 reason="needs prometheus and promtool")]


def test_shadow_calls_from_prometheus(tmp_path: Path) -> None:
    history = History(end=history_end(), duration=20 * 60)
    family = "modelrail_router_shadow_requests"
    history.counter(family, {"variant": "candidate", "outcome": "ok"}, per_second=9.0)
    history.counter(family, {"variant": "candidate", "outcome": "timeout"}, per_second=1.0)
    history.histogram("modelrail_router_shadow_duration_seconds", {"variant": "candidate"},
                      per_second=10.0, cdf={0.1: 0.5, 0.25: 0.995, 0.5: 1.0})
    production = np.linspace(0, 1, 200)
    path = write_shadow_log(tmp_path, production, production)
    with prometheus_server(tmp_path / "prom", history) as server:
        code, result = shadow_analyze(tmp_path, path, "--prometheus-url", server.url)
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["shadow_error_rate"]["value"] == pytest.approx(0.1)
    assert not checks["shadow_error_rate"]["passed"]
    assert checks["shadow_latency_p99_seconds"]["value"] == pytest.approx(
        0.1 + 0.15 * (0.99 - 0.5) / 0.495)
    assert checks["shadow_latency_p99_seconds"]["passed"]
    assert code == 1
