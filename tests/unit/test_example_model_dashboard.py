"""example-model/dashboards: the shipped JSON is what the builder makes, it decodes into
grafana-foundation-sdk's dashboard model without losing a key, every panel is a panel type
and every target a Prometheus query the SDK knows, and the queries name only metrics that
exist (the serving app's, and modelrail's own gauges). That the PromQL parses and returns
data: tests/integration/test_dashboard_prometheus.py."""

import json
import re
from typing import Any

import pytest
from grafana_foundation_sdk.cog import runtime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import prometheus
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel
from modelrail.canary.openmetrics import Where, canary_gauges
from modelrail.monitor.openmetrics import monitor_gauges

from tests.support.dashboard import builder, panel_queries, shipped
from tests.unit.canary.test_openmetrics import ANALYSIS, canary
from tests.unit.monitor.test_openmetrics import result as monitor_result
from tests.unit.test_example_model_rollout import exported_samples

_METRIC = re.compile(r"\b(modelrail_\w+)\b")


@pytest.fixture(scope="module")
def model() -> Dashboard:
    register_default_plugins()
    return Dashboard.from_json(shipped())


def contained(small: Any, big: Any, path: str = "") -> list[str]:
    """Where `small` has a key or value that `big` does not (the decoder drops unknown keys
    and adds defaults, so the file must be a subset of its re-encoding)."""
    if isinstance(small, dict) and isinstance(big, dict):
        return [miss for key, value in small.items()
                for miss in ([f"{path}/{key}"] if key not in big
                             else contained(value, big[key], f"{path}/{key}"))]
    if isinstance(small, list) and isinstance(big, list) and len(small) == len(big):
        return [miss for i, (a, b) in enumerate(zip(small, big, strict=True))
                for miss in contained(a, b, f"{path}[{i}]")]
    return [] if small == big else [f"{path}: {small!r} != {big!r}"]


def test_the_shipped_file_is_what_the_builder_makes() -> None:
    assert json.loads(builder().render()) == shipped(), \
        "rebuild: python example-model/dashboards/model_rollout.py"


def test_the_file_decodes_into_the_sdk_model_without_losing_anything(model: Dashboard) -> None:
    encoded = json.loads(json.dumps(model, cls=JSONEncoder))

    assert contained(shipped(), encoded) == []
    assert json.loads(json.dumps(Dashboard.from_json(encoded), cls=JSONEncoder)) == encoded
    assert model.uid == "modelrail-model-rollout"


def test_a_key_the_model_does_not_know_is_caught() -> None:
    """The check above can fail: a misspelt key is dropped by the decoder."""
    board = shipped()
    board["panels"][1]["fieldConfig"]["defaults"]["unitt"] = "s"
    encoded = json.loads(json.dumps(Dashboard.from_json(board), cls=JSONEncoder))

    assert contained(board, encoded) == ["/panels[1]/fieldConfig/defaults/unitt"]


def test_every_panel_is_a_known_type_with_prometheus_targets(model: Dashboard) -> None:
    panels = [panel for panel in model.panels or [] if isinstance(panel, Panel)]
    assert {panel.type_val for panel in panels} == {"timeseries", "heatmap", "table", "stat"}
    for panel in panels:
        assert runtime.panelcfg_config(panel.type_val) is not None, panel.type_val
        assert panel.targets, panel.title
        assert all(isinstance(target, prometheus.Dataquery) for target in panel.targets)


def test_the_queries_name_only_metrics_that_exist() -> None:
    where = Where(rollout="r", namespace="n", model="m")
    ours = {family.name for family in [*canary_gauges(canary(), ANALYSIS, where),
                                       *monitor_gauges(monitor_result())]}
    served = set(exported_samples())
    queries = [expr for exprs in panel_queries(shipped()).values() for expr in exprs]
    named = {name for expr in queries for name in _METRIC.findall(expr)}

    assert named <= served | ours, named - served - ours
    assert {"modelrail_requests_total", "modelrail_request_duration_seconds_bucket",
            "modelrail_prediction_score_bucket", "modelrail_canary_step_verdict",
            "modelrail_canary_verdict", "modelrail_monitor_psi"} <= named
