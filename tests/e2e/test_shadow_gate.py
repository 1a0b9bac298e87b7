"""A promotion to canary that requires a passed shadow analysis first: example-model's
Promote workflow → modelrail's promote.yml (shadow job: a dry run of the promotion names
the release, actions/shadow-analyze judges that version's shadow lines) → promote, run by
act with the repository variable REQUIRE_SHADOW=true.

Real: the shadow logs (tests/support/labs/monitor.py: the router mirrors the simulator's
traffic to a candidate served by a second `ctr_serving`, version 3), the MLflow registry.
A candidate that agrees with production moves to canary; a miscalibrated one, or no log
at all, moves nothing and the run is red.
"""

import json
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from mlflow import MlflowClient
from modelrail.local.act import ActRun

from tests.e2e.conftest import Warehouse, unmasked
from tests.support.builders.log_tables import load_log_table
from tests.support.labs.monitor import MonitorLab
from tests.support.workflows.flows import (
    PROMOTE_WORKFLOW,
    ExampleWorkbench,
    commit_all,
    edit_workflow,
    named_model_repo,
)

pytestmark = pytest.mark.e2e

CANDIDATE, PRODUCTION = "3", "2"  # MonitorLab's shadow and production model versions
SHADOW_JOB, PROMOTE_JOB = "Shadow analysis before canary", "Promote to canary"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> MonitorLab:
    return MonitorLab(tmp_path_factory.mktemp("shadow-lab"))


@dataclass(frozen=True)
class Scene:
    repo: Path
    model: str
    client: MlflowClient
    bench: ExampleWorkbench
    artifacts: Path

    def holder(self, alias: str) -> str:
        return str(self.client.get_model_version_by_alias(self.model, alias).version)

    def promote(self, log: Path | None, name: str) -> ActRun:
        """Commit the shadow log (if any) into the repository and dispatch to canary."""
        shadow_log = ""
        if log is not None:
            shutil.copy(log, self.repo / "shadow-predictions.jsonl")
            commit_all(self.repo, f"shadow log: {name}")
            shadow_log = "shadow-predictions.jsonl"
        return self.bench.promote(self.repo, "canary", f"e2e {name}", shadow_log=shadow_log)

    def analysis(self) -> dict[str, object]:
        report = self.artifacts / "shadow-analysis" / "shadow.json"
        result: dict[str, object] = json.loads(report.read_text())
        return result


def register(client: MlflowClient, model: str) -> None:
    """Versions 1-3, all gated; production (2) holds canary and prod, the candidate (3)
    holds dev and staging: promoting to canary takes 3 from staging."""
    run = client.create_run(experiment_id="0").info.run_id
    client.log_text(run, "flavors: {}\n", "model/MLmodel")
    client.create_registered_model(model)
    for _ in range(3):
        version = client.create_model_version(model, f"runs:/{run}/model", run_id=run)
        client.set_model_version_tag(model, version.version, "validation_status", "passed")
    for alias, holder in (("dev", CANDIDATE), ("staging", CANDIDATE),
                           ("canary", PRODUCTION), ("champion", PRODUCTION)):
        client.set_registered_model_alias(model, alias, holder)


@pytest.fixture
def scene(tmp_path: Path, dvc_remote: Path, bench: ExampleWorkbench) -> Scene:
    model = f"ctr-ranker-{uuid.uuid4().hex[:6]}"
    repo = named_model_repo(tmp_path / "ctr-model", dvc_remote, model)
    client = MlflowClient(bench.mlflow_url)
    register(client, model)
    artifacts = tmp_path / "artifacts"
    workbench = replace(bench, variables={"REQUIRE_SHADOW": "true"},
                        env={"MODELRAIL_LOCAL_ARTIFACT_DIR": str(artifacts)})
    return Scene(repo, model, client, workbench, artifacts)


@pytest.fixture(scope="module")
def shadow_logs(lab: MonitorLab) -> dict[str, Path]:
    """One simulation per candidate: an agreeing one (C=0.5) and a miscalibrated one."""
    agreeing = lab.simulate("agreeing", shadow=lab.candidate("agreeing", C=0.5))
    faulty = lab.simulate("faulty", shadow=lab.candidate("faulty", class_weight="balanced"))
    return {"agreeing": agreeing.predictions, "faulty": faulty.predictions}


def assert_the_candidate_moved(scene: Scene, run: ActRun) -> None:
    """The shadow job passed on the candidate's own lines, then the promotion ran."""
    assert run.returncode == 0, run.log[-6000:]
    assert run.job_result(SHADOW_JOB) == "succeeded"
    assert run.job_result(PROMOTE_JOB) == "succeeded"
    assert scene.holder("canary") == CANDIDATE
    analysis = scene.analysis()
    assert analysis["passed"] is True
    assert analysis["version"] == int(CANDIDATE)  # the dry run named the release
    assert int(str(analysis["pairs"])) >= 1000


def test_an_agreeing_shadow_lets_the_candidate_move_to_canary(
        scene: Scene, shadow_logs: dict[str, Path]) -> None:
    run = scene.promote(shadow_logs["agreeing"], "agreeing")

    assert_the_candidate_moved(scene, run)
    assert "would promote release 3" in run.log


def test_shadow_lines_in_a_postgresql_table_let_the_candidate_move(
        scene: Scene, shadow_logs: dict[str, Path], warehouse: Warehouse) -> None:
    """The router's log lives in PostgreSQL: the caller names the table and passes the DSN
    secret; the pairs are made on the server, and the candidate moves as from a file."""
    load_log_table(warehouse.dsn, "router_log", shadow_logs["agreeing"])
    edit_workflow(scene.repo, PROMOTE_WORKFLOW, {
        "      shadow-predictions: ${{ inputs.shadow-log }}\n":
            "      shadow-predictions-table: router_log\n",
        "    secrets:\n": "    secrets:\n      POSTGRES_DSN: ${{ secrets.POSTGRES_DSN }}\n"})
    bench = unmasked(scene.bench, POSTGRES_DSN=warehouse.dsn)

    run = bench.promote(scene.repo, "canary", "e2e warehouse")

    assert_the_candidate_moved(scene, run)
    assert "installed modelrail (extras: monitor,postgres)" in run.log
    assert warehouse.leaks(run, scene.artifacts) == []
    print(f"promote.yml with the shadow on PostgreSQL: {run.seconds:.1f} s (act run)")


def test_a_miscalibrated_shadow_moves_nothing(
        scene: Scene, shadow_logs: dict[str, Path]) -> None:
    run = scene.promote(shadow_logs["faulty"], "faulty")

    assert run.returncode != 0
    assert run.job_result(SHADOW_JOB) == "failed", run.log[-6000:]
    assert run.job_result(PROMOTE_JOB) is None  # never started
    assert scene.holder("canary") == PRODUCTION
    analysis = scene.analysis()
    assert analysis["passed"] is False
    failed = {str(c["name"]) for c in analysis["checks"]  # type: ignore[attr-defined]
              if not c["passed"]}
    assert "score_ks_distance" in failed


def test_no_shadow_log_fails_closed(scene: Scene) -> None:
    run = scene.promote(None, "no-log")

    assert run.returncode != 0
    assert run.job_result(SHADOW_JOB) == "failed", run.log[-6000:]
    assert "input predictions is required" in run.log
    assert run.job_result(PROMOTE_JOB) is None
    assert scene.holder("canary") == PRODUCTION
