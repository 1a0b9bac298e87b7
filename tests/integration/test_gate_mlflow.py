"""The quality gate reading the champion from a real MLflow server."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient
from modelrail.local.mlflow_server import MlflowServer
from modelrail.local.processes import free_port

pytestmark = pytest.mark.integration

POLICY = """\
model: {model}
registry: {{tracking_uri: env:MLFLOW_TRACKING_URI}}
gate:
  metrics:
    roc_auc: {{threshold: 0.70, min_relative_change: 0.0, greater_is_better: true}}
    log_loss: {{threshold: 0.60, min_absolute_change: -0.01, greater_is_better: false}}
"""


def seed_champion(url: str, model: str, metrics: dict[str, float], alias: str = "champion") -> str:
    """A run with `metrics` and a model artifact, registered and given `alias`."""
    client = MlflowClient(url)
    experiment_id = client.create_experiment(f"gate-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment_id)
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    client.create_registered_model(model)
    version = client.create_model_version(model, f"runs:/{run.info.run_id}/model",
                                          run_id=run.info.run_id)
    client.set_registered_model_alias(model, alias, version.version)
    return str(version.version)


def run_gate(tmp_path: Path, url: str, model: str, candidate: dict[str, float],
             *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "modelrail.yaml").write_text(POLICY.format(model=model))
    (tmp_path / "metrics.json").write_text(json.dumps(candidate))
    return subprocess.run(
        [sys.executable, "-m", "modelrail", "gate", "--candidate", "metrics.json",
         "--json", "result.json", *extra],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "MLFLOW_TRACKING_URI": url, **(env or {})},
    )


def unique_model() -> str:
    return f"ranker-{uuid.uuid4().hex[:8]}"


def test_candidate_better_than_champion_passes(tmp_path: Path, mlflow: MlflowServer) -> None:
    model = unique_model()
    seed_champion(mlflow.url, model, {"roc_auc": 0.80, "log_loss": 0.45})
    result = run_gate(tmp_path, mlflow.url, model, {"roc_auc": 0.82, "log_loss": 0.44},
                      "--champion-model")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "result.json").read_text())
    assert report["champion"] == f"models:/{model}@champion"
    by_name = {m["name"]: m for m in report["metrics"]}
    assert by_name["roc_auc"]["champion"] == pytest.approx(0.80)
    assert by_name["log_loss"]["champion"] == pytest.approx(0.45)


def test_regression_against_champion_fails_naming_the_metric(
    tmp_path: Path, mlflow: MlflowServer
) -> None:
    model = unique_model()
    seed_champion(mlflow.url, model, {"roc_auc": 0.85, "log_loss": 0.40})
    # Above the absolute threshold, but worse than the champion.
    result = run_gate(tmp_path, mlflow.url, model, {"roc_auc": 0.80, "log_loss": 0.405},
                      "--champion-model")
    assert result.returncode == 1
    assert "roc_auc 0.8 is below 0.85 = champion 0.85" in result.stdout
    assert "off by 0.05" in result.stdout
    report = json.loads((tmp_path / "result.json").read_text())
    failed = [m["name"] for m in report["metrics"] if not m["passed"]]
    assert failed == ["roc_auc"]  # log_loss within its -0.01 tolerance


def test_first_model_skips_champion_checks(tmp_path: Path, mlflow: MlflowServer) -> None:
    model = unique_model()
    result = run_gate(tmp_path, mlflow.url, model, {"roc_auc": 0.75, "log_loss": 0.5},
                      "--champion-model")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no champion model yet" not in result.stdout
    assert (f"note: no champion compared: {model}@champion was looked up at the tracking "
            f"server {mlflow.url} and no version of {model} holds the alias champion; "
            "champion-relative checks were skipped") in result.stdout
    assert json.loads((tmp_path / "result.json").read_text())["champion"] is None


def test_model_without_the_alias_counts_as_no_champion(
    tmp_path: Path, mlflow: MlflowServer
) -> None:
    model = unique_model()
    seed_champion(mlflow.url, model, {"roc_auc": 0.99, "log_loss": 0.1}, alias="staging")
    result = run_gate(tmp_path, mlflow.url, model, {"roc_auc": 0.75, "log_loss": 0.5},
                      "--champion-model")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no champion compared: {model}@champion was looked up" in result.stdout


def test_without_a_champion_flag_the_note_says_nothing_was_looked_up(
    tmp_path: Path, mlflow: MlflowServer
) -> None:
    """@champion exists, but no flag asked for it: the note must not claim there is none."""
    model = unique_model()
    seed_champion(mlflow.url, model, {"roc_auc": 0.99, "log_loss": 0.1})
    result = run_gate(tmp_path, mlflow.url, model, {"roc_auc": 0.75, "log_loss": 0.5})
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("note: no champion compared: neither --champion nor --champion-model was given; "
            "champion-relative checks were skipped") in result.stdout
    assert "no champion model yet" not in result.stdout


def test_explicit_alias_reference(tmp_path: Path, mlflow: MlflowServer) -> None:
    model = unique_model()
    seed_champion(mlflow.url, model, {"roc_auc": 0.90, "log_loss": 0.3}, alias="staging")
    result = run_gate(tmp_path, mlflow.url, model, {"roc_auc": 0.80, "log_loss": 0.35},
                      "--champion-model", f"{model}@staging")
    assert result.returncode == 1
    assert f"models:/{model}@staging" in json.loads((tmp_path / "result.json").read_text())[
        "champion"]


def test_mlflow_down_fails_closed_after_bounded_retries(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = run_gate(
        tmp_path, dead, unique_model(), {"roc_auc": 0.9, "log_loss": 0.2}, "--champion-model",
        env={"MODELRAIL_RETRY_ATTEMPTS": "3", "MODELRAIL_RETRY_BASE_DELAY": "0.2",
             "MLFLOW_TRACKING_TOKEN": "s3cr3t-token-value"},
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 3
    output = result.stdout + result.stderr
    assert f"MLflow at {dead} kept failing after 3 attempts" in output
    assert "Traceback" not in output
    assert "s3cr3t-token-value" not in output
    assert elapsed < 30
    assert not (tmp_path / "result.json").exists()


def test_credentials_in_the_uri_are_not_printed(tmp_path: Path) -> None:
    dead = f"http://admin:hunter2@127.0.0.1:{free_port()}"
    result = run_gate(tmp_path, dead, unique_model(), {"roc_auc": 0.9, "log_loss": 0.2},
                      "--champion-model",
                      env={"MODELRAIL_RETRY_ATTEMPTS": "1"})
    assert result.returncode == 3
    assert "hunter2" not in result.stdout + result.stderr
