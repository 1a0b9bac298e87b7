"""`modelrail canary run` against the live canary lab: real model servers, a real
Prometheus scraping them every second, traffic split by the Rollouts stand-in's weight.

A good canary walks 10 → 50 → 100 % and is promoted in full (Healthy); the miscalibrated
one is aborted at the first step, its weight back to 0, with the JSON, step outputs,
summary and report directory saying why. Steps last 15 s, so a run takes under 1.5 min.
Without a `v<N>` tag on the stable image, the baseline is the version prod holds in a real
MLflow registry.
"""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from mlflow import MlflowClient
from modelrail.cli.main import main
from modelrail.local.mlflow_server import MlflowServer
from modelrail.local.processes import free_port

from tests.support.builders.runner_files import parse_file_command
from tests.support.labs.canary import (
    FAULTY,
    GOOD,
    MODEL_NAME,
    STABLE,
    canary_json,
    canary_lab,
    lab_policy,
    run_canary,
    runner_env,
)
from tests.support.services.prometheus import prometheus_available
from tests.support.services.pushgateway import pushgateway
from tests.support.standins.rollouts import RolloutsStandIn

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not prometheus_available(), reason="needs prometheus")]

WEIGHTS = (10, 50, 100)


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner_env(tmp_path, monkeypatch)


def _outputs(tmp_path: Path) -> dict[str, str]:
    return parse_file_command((tmp_path / "github_output").read_text())


@pytest.fixture
def standin() -> Iterator[RolloutsStandIn]:
    with RolloutsStandIn() as server:
        server.add_rollout("ctr-ranker", image=STABLE.image, weights=WEIGHTS)
        yield server



def test_a_good_canary_is_promoted_in_full(tmp_path: Path, standin: RolloutsStandIn) -> None:
    with canary_lab(tmp_path / "lab", standin, stable=STABLE, canary=GOOD) as lab:
        code = run_canary(lab, standin, GOOD, tmp_path, lab_policy(steps=WEIGHTS),
                          "--report-dir", str(tmp_path / "report"))
    result = canary_json(tmp_path)
    assert code == 0, result
    assert result["result"] == "promoted"
    assert result["baseline"] == "1"
    assert "stable image" in result["baseline_source"]
    assert [(s["weight"], s["verdict"]) for s in result["steps"]] == \
        [(10, "pass"), (50, "pass"), (100, "pass")]
    rollout = standin.rollout("ctr-ranker")
    assert rollout["status"]["phase"] == "Healthy"
    assert standin.traffic("ctr-ranker").stable_image == GOOD.image
    assert _outputs(tmp_path) == {"result": "promoted", "failed-step": "", "weight": "100",
                                      "baseline": "1"}


def test_a_miscalibrated_canary_is_aborted_at_the_first_step(
        tmp_path: Path, standin: RolloutsStandIn) -> None:
    with canary_lab(tmp_path / "lab", standin, stable=STABLE, canary=FAULTY) as lab, \
            pushgateway(tmp_path / "pushgateway") as gateway:
        code = run_canary(lab, standin, FAULTY, tmp_path, lab_policy(steps=WEIGHTS),
                          "--report-dir", str(tmp_path / "report"), "--openmetrics",
                          str(tmp_path / "canary.om"), "--pushgateway", gateway)
        pushed = requests.get(f"{gateway}/metrics", timeout=10).text
    result = canary_json(tmp_path)
    assert code == 1, result
    assert result["result"] == "aborted"
    assert [(s["weight"], s["verdict"]) for s in result["steps"]] == [(10, "fail")]
    metrics = {m["name"]: m for m in result["steps"][0]["metrics"]}
    assert metrics["prediction_p90"]["outcome"] == "fail"
    assert metrics["prediction_p90"]["canary"]["p90"] > 2 * metrics["prediction_p90"][
        "baseline"]["p90"]
    assert metrics["error_rate"]["outcome"] == "pass"
    assert 'version="3"' in metrics["prediction_p90"]["queries"]["canary"]
    assert standin.weight("ctr-ranker") == 0
    assert standin.rollout("ctr-ranker")["status"]["abort"] is True
    assert _outputs(tmp_path) == {"result": "aborted", "failed-step": "10", "weight": "0",
                                      "baseline": "1"}

    summary = (tmp_path / "github_summary").read_text()
    assert "| 10% | ❌ fail |" in summary
    assert "```mermaid" in summary
    assert "prediction\\_p90" in summary  # escaped Markdown
    report = tmp_path / "report"
    assert {p.name for p in report.iterdir()} >= {
        "canary-report.html", "queries.json", "prediction_p90.svg", "error_rate.svg"}
    assert "<svg" in (report / "prediction_p90.svg").read_text()
    queries = json.loads((report / "queries.json").read_text())
    assert 'version="1"' in queries["prediction_p90"]["baseline"]
    # the verdicts as gauges: in the file (timestamped) and on the Pushgateway (not)
    verdict = ('modelrail_canary_verdict{baseline="1",instance="",job="modelrail-canary",'
               'metric="prediction_p90",model="ctr-ranker",namespace="default",'
               'rollout="ctr-ranker",step="1",verdict="fail",version="3",weight="10"} -1')
    assert verdict in pushed.splitlines()
    written = (tmp_path / "canary.om").read_text()
    assert 'metric="prediction_p90",verdict="fail"} -1.0 ' in written


def test_without_a_version_tag_the_baseline_is_what_prod_holds_in_the_registry(
        tmp_path: Path, mlflow: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> None:
    model = f"ranker-{uuid.uuid4().hex[:8]}"
    client = MlflowClient(mlflow.url)
    client.create_registered_model(model)
    run = client.create_run(client.create_experiment(f"{model}-runs"))
    for _ in range(2):  # versions 1 and 2; prod (alias champion) holds 2
        client.create_model_version(model, f"runs:/{run.info.run_id}/model",
                                    run_id=run.info.run_id)
    client.set_registered_model_alias(model, "champion", "2")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow.url)
    policy = lab_policy().replace(f"model: {MODEL_NAME}\n", f"model: {model}\nregistry: "
                                  "{tracking_uri: env:MLFLOW_TRACKING_URI}\n")
    (tmp_path / "modelrail.yaml").write_text(policy, encoding="utf-8")
    with RolloutsStandIn() as standin:
        standin.add_rollout(MODEL_NAME, image=f"ghcr.io/acme/ctr-ranker@sha256:{'a' * 64}")
        code = main(["canary", "run", "--config", str(tmp_path / "modelrail.yaml"),
                     "--image", "ghcr.io/acme/ctr-ranker:v3", "--version", "3",
                     "--kubeconfig", str(standin.write_kubeconfig(tmp_path / "kubeconfig")),
                     "--prometheus-url", f"http://127.0.0.1:{free_port()}",  # down
                     "--json", str(tmp_path / "out.json")])
        assert standin.writes() == []
    result = canary_json(tmp_path)
    assert code == 3, result
    assert (result["baseline"], result["baseline_source"]) == \
        ("2", "the version prod holds in the registry")
