"""example-model's k8s manifests and its rollout:/analysis: policy agree with each other and
with the metrics the serving app really exports."""

import os
import re
import subprocess
import sys
from typing import Any

import pytest
import yaml
from modelrail.canary.config import CounterMetric
from modelrail.cli.main import main
from modelrail.config import Config, load_config
from modelrail.errors import UsageError
from modelrail.rollouts.steps import check_steps

from tests.support.paths import EXAMPLE_MODEL

K8S = EXAMPLE_MODEL / "k8s"
# The serving app's own metrics, after one request and one prediction, as Prometheus sees them.
_EXPOSITION = """
from prometheus_client import generate_latest
from ctr_serving.metrics import ServingMetrics
metrics = ServingMetrics("ctr-ranker", "7")
metrics.observe_request("/predict", "POST", 200, 0.004)
metrics.observe_predictions([0.03])
print(generate_latest(metrics.registry).decode())
"""
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})? ", re.MULTILINE)
_SELECTOR = re.compile(r"(?P<name>modelrail_\w+)\{(?P<matchers>[^}]*)\}")


@pytest.fixture(scope="module")
def policy() -> Config:
    return load_config(EXAMPLE_MODEL / "modelrail.yaml")


def manifests(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def rollout_manifest() -> dict[str, Any]:
    (rollout,) = manifests("rollout.yaml")
    return rollout


def exported_samples() -> dict[str, set[str]]:
    """Sample name -> its label names, from the real ServingMetrics."""
    env = {**os.environ, "PYTHONPATH": str(EXAMPLE_MODEL / "serving")}
    text = subprocess.run([sys.executable, "-c", _EXPOSITION], env=env, check=True,
                          capture_output=True, text=True, timeout=60).stdout
    return {m["name"]: {pair.split("=")[0] for pair in (m["labels"] or "").split(",") if pair}
            for m in _SAMPLE.finditer(text)}


def test_rollout_steps_match_the_policy(policy: Config) -> None:
    assert policy.rollout is not None
    assert policy.rollout.steps == (10, 25, 50, 100)
    check_steps(rollout_manifest(), policy.rollout.steps)  # raises with the fix on mismatch


def test_a_changed_weight_is_caught(policy: Config) -> None:
    assert policy.rollout is not None
    rollout = rollout_manifest()
    rollout["spec"]["strategy"]["canary"]["steps"][2] = {"setWeight": 30}
    with pytest.raises(UsageError, match="step 2: expected `setWeight: 25`, found `setWeight: 30`"):
        check_steps(rollout, policy.rollout.steps)


def test_rollout_names_its_services_container_and_namespace(policy: Config) -> None:
    assert policy.rollout is not None
    rollout = rollout_manifest()
    canary = rollout["spec"]["strategy"]["canary"]
    services = {doc["metadata"]["name"]: doc for doc in manifests("services.yaml")
                if doc["kind"] == "Service"}
    assert {canary["stableService"], canary["canaryService"]} == set(services)
    labels = rollout["spec"]["template"]["metadata"]["labels"]
    for service in services.values():
        assert service["metadata"]["namespace"] == policy.rollout.namespace
        assert service["spec"]["selector"].items() <= labels.items()
    assert rollout["metadata"]["name"] == policy.rollout.name
    assert rollout["metadata"]["namespace"] == policy.rollout.namespace
    containers = [c["name"] for c in rollout["spec"]["template"]["spec"]["containers"]]
    assert containers == [policy.rollout.container]


def test_analysis_queries_use_what_the_serving_app_exports(policy: Config) -> None:
    samples = exported_samples()
    analysis = policy.require_analysis()
    queries = [q for m in analysis.metrics
               for q in (m.query, *([m.total] if isinstance(m, CounterMetric) else []))]
    selectors = [s for query in queries for s in _SELECTOR.finditer(query)]
    assert len(selectors) >= len(queries)
    for selector in selectors:
        name = selector["name"]
        assert name in samples, f"{name} is not exported; exported: {sorted(samples)}"
        labels = set(re.findall(r"(\w+)\s*=~?", selector["matchers"]))
        assert labels <= samples[name], f"{name}: {labels - samples[name]} not exported"
    assert {m.name for m in analysis.metrics} >= {"error_rate", "latency_p99",
                                                  "prediction_score"}


def test_export_argo_works_on_the_example_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analysis", "export-argo", "--config",
                 str(EXAMPLE_MODEL / "modelrail.yaml")]) == 0

    template = yaml.safe_load(capsys.readouterr().out)
    assert template["kind"] == "AnalysisTemplate"
    assert template["metadata"]["name"] == "ctr-ranker-canary"
    assert [m["name"] for m in template["spec"]["metrics"]] == ["error_rate_slo",
                                                                "latency_p99_slo"]
    assert {"name": "window", "value": "300s"} in template["spec"]["args"]
