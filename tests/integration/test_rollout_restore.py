"""The monitor's rollback path (actions/canary-step/canary.sh with abort: true and a
rollback-env) against a real MLflow registry and the Rollouts stand-in: `rollout abort`,
`rollback`, `rollout restore`. A drifted version that is fully promoted ignores the abort;
the restore makes the Rollout run the previous version's image again, Healthy."""

import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient
from modelrail.cli.main import main
from modelrail.local.mlflow_server import MlflowServer

from tests.support.standins.rollouts import RolloutsStandIn

pytestmark = pytest.mark.integration

GOOD = f"ghcr.io/acme/ranker@sha256:{'1' * 64}"
DRIFTED = f"ghcr.io/acme/ranker@sha256:{'2' * 64}"


def _registry(url: str, model: str) -> None:
    """Versions 1 (GOOD) and 2 (DRIFTED, promoted over 1): prod holds 2."""
    client = MlflowClient(url)
    client.create_registered_model(model)
    run = client.create_run(client.create_experiment(f"{model}-runs"))
    for image in (GOOD, DRIFTED):
        client.create_model_version(model, f"runs:/{run.info.run_id}/model",
                                    run_id=run.info.run_id, tags={"image": image})
    client.set_model_version_tag(model, "2", "previous_version.prod", "1")
    client.set_registered_model_alias(model, "champion", "2")


def test_the_monitor_rollback_puts_the_previous_image_back(
        tmp_path: Path, mlflow: MlflowServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    model = f"ranker-{uuid.uuid4().hex[:8]}"
    _registry(mlflow.url, model)
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "KUBECONFIG", "KUBECONFIG_DATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow.url)
    policy = tmp_path / "modelrail.yaml"
    policy.write_text(f"model: {model}\nregistry: {{tracking_uri: env:MLFLOW_TRACKING_URI}}\n"
                      "rollout: {name: ranker, namespace: ml, steps: [10, 50, 100]}\n",
                      encoding="utf-8")
    with RolloutsStandIn() as standin:
        standin.add_rollout("ranker", "ml", image=GOOD, weights=(10, 50, 100))
        kube = ["--config", str(policy), "--kubeconfig",
                str(standin.write_kubeconfig(tmp_path / "kubeconfig"))]
        assert main(["rollout", "set-image", *kube, "--image", DRIFTED]) == 0
        wait = ["rollout", "wait", *kube, "--timeout", "30", "--interval", "0.1", "--until"]
        assert main([*wait, "paused"]) == 0  # promote --full once the controller saw it
        assert main(["rollout", "promote", "--full", *kube]) == 0
        assert main([*wait, "healthy"]) == 0

        assert main(["rollout", "abort", *kube]) == 0
        assert main(["rollback", "--config", str(policy), "--env", "prod", "--version",
                     "2"]) == 0
        assert main(["rollout", "restore", *kube, "--env", "prod"]) == 0

        rollout = standin.rollout("ranker", "ml")
    assert rollout["spec"]["template"]["spec"]["containers"][0]["image"] == GOOD
    assert rollout["status"]["phase"] == "Healthy"
    assert rollout["status"]["stableRS"] == rollout["status"]["currentPodHash"]
    out = capsys.readouterr().out
    assert "nothing to abort: the rollout is fully promoted" in out
    assert f"serving rolled back: rollout ml/ranker runs {GOOD}, {model} version 1 (what " \
        "prod holds), for all traffic and is Healthy" in out
