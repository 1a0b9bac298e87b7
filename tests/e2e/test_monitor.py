"""Production monitoring as it runs on a schedule: example-model's Monitor workflow →
modelrail's monitor.yml → actions/monitor (+ canary-step for the rollback), run by act.

Real: the example model served by `ctr_serving` with its prediction log, the router, the
traffic simulator (tests/support/labs/monitor.py), the MLflow registry holding the
reference sample as an artifact of the model's run. Stand-ins: the Kubernetes API + Argo
controller (rollouts stand-in) and GitHub's REST API (issues). A drifted feature rolls the
alias and the rollout back and opens one issue, which the next run updates; traffic like
the reference changes nothing.
"""

import base64
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow import MlflowClient
from modelrail.cli.main import main
from modelrail.local.act import ActRun
from modelrail.local.github_api import GitHubStandIn
from modelrail.local.mlflow_server import MlflowServer
from modelrail.monitor.issue import issue_marker

from tests.e2e.conftest import Champion, Warehouse, unmasked
from tests.support.builders.log_tables import load_log_table
from tests.support.labs.monitor import OTHER_TRAFFIC_SEED, Logs, MonitorLab
from tests.support.paths import EXAMPLE_MODEL
from tests.support.standins.rollouts import RolloutsStandIn
from tests.support.workflows.flows import (
    REPOSITORY,
    ExampleWorkbench,
    commit_all,
    edit_workflow,
    named_model_repo,
)

pytestmark = pytest.mark.e2e

ROLLOUT, NAMESPACE = "ctr-ranker", "ml"
WORKFLOW = ".github/workflows/monitor.yml"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> MonitorLab:
    return MonitorLab(tmp_path_factory.mktemp("monitor-lab"))


@dataclass(frozen=True)
class Scene:
    repo: Path
    model: str
    client: MlflowClient
    standin: RolloutsStandIn
    github: GitHubStandIn
    bench: ExampleWorkbench
    artifacts: Path  # where the upload-artifact stand-in puts the uploads

    def champion(self) -> str:
        return str(self.client.get_model_version_by_alias(self.model, "champion").version)

    def rollout_status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.standin.rollout(ROLLOUT, NAMESPACE)["status"]
        return status

    def issues(self) -> list[dict[str, Any]]:
        return self.github.issues(REPOSITORY)

    def monitor(self, logs: Logs, name: str) -> ActRun:
        """Put the logs where the caller workflow reads them and run it on schedule."""
        target = self.repo / "logs"
        target.mkdir(exist_ok=True)
        shutil.copy(logs.predictions, target / "predictions.jsonl")
        shutil.copy(logs.events, target / "events.jsonl")
        commit_all(self.repo, f"logs: {name}")
        return self.bench.run(self.repo, "schedule", WORKFLOW,
                              {"schedule": "17 * * * *"}, name)


def register(client: MlflowClient, model: str, reference: Path) -> None:
    """Versions 1 and 2 of one run (which holds reference.csv), 2 in prod after 1."""
    run = client.create_run(experiment_id="0").info.run_id
    client.log_artifact(run, str(reference))
    client.log_text(run, "flavors: {}\n", "model/MLmodel")
    client.create_registered_model(model)
    for _ in range(2):
        client.create_model_version(model, f"runs:/{run}/model", run_id=run)
    client.set_model_version_tag(model, "2", "previous_version.prod", "1")
    client.set_registered_model_alias(model, "champion", "2")


@pytest.fixture
def scene(tmp_path: Path, dvc_remote: Path, bench: ExampleWorkbench, github: GitHubStandIn,
          lab: MonitorLab) -> Iterator[Scene]:
    model = f"ctr-ranker-{uuid.uuid4().hex[:6]}"
    repo = named_model_repo(tmp_path / "ctr-model", dvc_remote, model)
    client = MlflowClient(bench.mlflow_url)
    register(client, model, lab.reference)
    with RolloutsStandIn() as standin:
        standin.add_rollout(ROLLOUT, NAMESPACE, image="ghcr.io/acme/ctr-ranker:2")
        kubeconfig = base64.b64encode(standin.kubeconfig().encode()).decode()
        artifacts = tmp_path / "artifacts"
        workbench = replace(bench, secrets={"KUBECONFIG": kubeconfig},
                            env={"MODELRAIL_LOCAL_ARTIFACT_DIR": str(artifacts)})
        yield Scene(repo, model, client, standin, github, workbench, artifacts)


def test_drift_rolls_back_and_reports_in_one_issue(scene: Scene, lab: MonitorLab) -> None:
    run = scene.monitor(lab.simulate("drift-1", shift={"price": 2.5}), "monitor-drift-1")

    assert run.returncode != 0, run.log[-6000:]  # the scheduled run fails on a rollback
    assert run.job_result("Monitor") == "succeeded", run.log[-6000:]
    assert run.job_result("Roll back") == "failed"
    assert scene.champion() == "1"
    # Argo ignores an abort of a fully promoted rollout (rollout/controller.go): none is sent
    assert scene.rollout_status().get("abort") is None
    assert "nothing to abort: the rollout is fully promoted" in run.log
    issues = scene.issues()
    assert len(issues) == 1
    assert issues[0]["body"].startswith(issue_marker(scene.model))
    assert "<code>price</code> (major)" in issues[0]["body"]
    first_body = issues[0]["body"]
    report = scene.artifacts / "monitor-report"
    assert "price: current (bars) vs reference (dashed)" in (report / "report.html").read_text()
    assert json.loads((report / "monitor.json").read_text())["action"] == "rollback"
    gauges = (report / "monitor.om").read_text()
    assert f'modelrail_monitor_severity{{model="{scene.model}",' in gauges

    again = scene.monitor(lab.simulate("drift-2", shift={"price": 4.0}), "monitor-drift-2")

    assert again.returncode != 0
    issues = scene.issues()
    assert len(issues) == 1
    assert issues[0]["body"] != first_body
    assert scene.github.requests_by("PATCH")
    assert scene.champion() == "1"


def test_drift_in_postgresql_tables_rolls_back_without_showing_the_dsn(
        scene: Scene, lab: MonitorLab, warehouse: Warehouse) -> None:
    """The logs live in PostgreSQL: the caller names the tables and passes the DSN secret,
    and the counts are computed on the server, with the file-based run's outcome."""
    logs = lab.simulate("drift-warehouse", shift={"price": 2.5})
    load_log_table(warehouse.dsn, "ctr_predictions", logs.predictions)
    load_log_table(warehouse.dsn, "ctr_clicks", logs.events)
    edit_workflow(scene.repo, ".github/workflows/monitor.yml", {
        "      current: logs/predictions.jsonl\n      events: logs/events.jsonl\n":
            "      current-table: ctr_predictions\n      events-table: ctr_clicks\n",
        "    secrets:\n": "    secrets:\n      POSTGRES_DSN: ${{ secrets.POSTGRES_DSN }}\n"})
    bench = unmasked(scene.bench, POSTGRES_DSN=warehouse.dsn)

    run = bench.run(scene.repo, "schedule", WORKFLOW, {"schedule": "17 * * * *"},
                    "monitor-warehouse")

    assert run.returncode != 0, run.log[-6000:]  # the scheduled run fails on a rollback
    assert run.job_result("Monitor") == "succeeded", run.log[-6000:]
    assert run.job_result("Roll back") == "failed"
    assert scene.champion() == "1"
    issues = scene.issues()
    assert len(issues) == 1
    assert "<code>price</code> (major)" in issues[0]["body"]
    report = json.loads((scene.artifacts / "monitor-report" / "monitor.json").read_text())
    assert report["action"] == "rollback"
    assert report["current"] == "table ctr_predictions"
    assert report["current_rows"] == len(logs.predictions.read_text().splitlines())
    assert "installed modelrail (extras: mlflow,monitor,postgres)" in run.log
    assert warehouse.leaks(run, scene.artifacts) == []
    print(f"monitor.yml on PostgreSQL: {run.seconds:.1f} s (act run)")


def test_traffic_like_the_reference_changes_nothing(scene: Scene, lab: MonitorLab) -> None:
    run = scene.monitor(lab.simulate("plain", seed=OTHER_TRAFFIC_SEED), "monitor-plain")

    assert run.returncode == 0, run.log[-6000:]
    assert run.job_result("Monitor") == "succeeded"
    assert "severity none, action none" in run.log
    assert run.job_result("Roll back") is None  # skipped
    assert scene.champion() == "2"
    assert not scene.rollout_status().get("abort")
    assert scene.issues() == []
    assert scene.github.requests_by("POST") == []


def test_the_trained_champion_run_holds_its_reference_sample(
        champion: Champion, mlflow: MlflowServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """log_mlflow.py (after `dvc repro`) logs reference.csv with the model: the model's
    features and its score on held-out rows, which `modelrail monitor` reads from the run."""
    local = Path(MlflowClient(mlflow.url).download_artifacts(
        champion.run_id, "reference.csv", str(tmp_path)))
    header = local.read_text().splitlines()[0].split(",")
    policy = yaml.safe_load((EXAMPLE_MODEL / "modelrail.yaml").read_text())
    assert set(header) == {*policy["monitor"]["categorical"], "price", "popularity",
                           "position", "prediction"}
    del policy["monitor"]["performance"]  # no clicks here
    (tmp_path / "modelrail.yaml").write_text(yaml.safe_dump(policy))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow.url)

    code = main(["monitor", "--config", str(tmp_path / "modelrail.yaml"),
                 "--reference", f"runs:/{champion.run_id}/reference.csv",
                 "--current", str(local), "--json", str(tmp_path / "out.json")])

    assert code == 0
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["current_rows"] >= 1000
    assert all(check["statistic"] == 0 for check in result["checks"])
