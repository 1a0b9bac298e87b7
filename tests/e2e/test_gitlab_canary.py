"""example-model's canary on GitLab: the canary component's job run by gitlab-ci-local
(shell executor) as a click on it in a default-branch pipeline does, with SERVING_IMAGE
set and the version staging's dotenv report hands on; the twin of test_canary.py's
promotion to canary under act.

Everything is real except the Kubernetes API + Argo controller (the rollouts stand-in):
two `ctr_serving` processes (stable version 1, canary version 2), a Prometheus scraping
them every second, live traffic split by the stand-in's weight (tests/support/labs/canary.py),
and the MLflow registry. One pipeline run per scenario.
"""

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from modelrail.local.mlflow_server import MlflowServer

from tests.support.gitlab_ci_local import (
    PipelineRun,
    job_environment,
    run_pipeline,
    use_local_components,
)
from tests.support.labs.canary import Side
from tests.support.workflows.canary_scene import (
    NEW_IMAGE,
    CanaryScene,
    canary_scenes,
)
from tests.support.workflows.flows import MLFLOW_TOKEN, commit_all

pytestmark = pytest.mark.e2e

JOB = "modelrail-canary"
DOTENV = "modelrail-canary.env"
PROMETHEUS_TOKEN = "prom-e2e-token"


@dataclass(frozen=True)
class Scene(CanaryScene):
    def run_canary(self, python_env: Path, modelrail_url: str) -> tuple[PipelineRun, str]:
        """Run the canary job of example-model's default-branch pipeline (a protected
        main) with the kubeconfig as a masked (base64) CI/CD variable; the run and that
        variable."""
        assert "canary" in use_local_components(self.repo, modelrail_url)
        commit_all(self.repo, "the components from this checkout")
        kubeconfig = base64.b64encode(self.standin.kubeconfig().encode()).decode()
        variables = {
            "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main",
            "CI_DEFAULT_BRANCH": "main", "CI_COMMIT_REF_PROTECTED": "true",
            "SERVING_IMAGE": NEW_IMAGE,  # set when the job is run
            "MODELRAIL_OUT_VERSION": "2",  # from modelrail-promote-staging's dotenv report
            "KUBECONFIG": kubeconfig, "PROMETHEUS_URL": self.lab.prometheus_url,
            "PROMETHEUS_TOKEN": PROMETHEUS_TOKEN, "MLFLOW_TRACKING_URI": self.mlflow_url,
            "MLFLOW_TRACKING_TOKEN": MLFLOW_TOKEN,
        }
        # The job has an after_script: no --shell-isolation (tests/support/gitlab_ci_local.py).
        run = run_pipeline(self.repo, variables, job_environment(python_env), jobs=[JOB],
                           shell_isolation=False)
        print(f"{JOB}: pipeline of {run.seconds:.1f} s")  # shown with -rP
        return run, kubeconfig


def report(run: PipelineRun) -> dict[str, Any]:
    """canary.json of the job's report artifact."""
    document: dict[str, Any] = json.loads(
        (run.artifacts(JOB) / "modelrail-canary-report" / "canary.json").read_text())
    return document


def assert_no_secret_printed(run: PipelineRun, scene: Scene, kubeconfig: str) -> None:
    for secret in (scene.standin.token, kubeconfig, PROMETHEUS_TOKEN, MLFLOW_TOKEN):
        assert secret not in run.log


@pytest.fixture
def scene_for(tmp_path: Path, dvc_remote: Path, mlflow: MlflowServer
              ) -> Iterator[Callable[[Side], Scene]]:
    """`scene_for(canary_side)`: the model repo, registry, stand-in and lab, started."""
    with canary_scenes(tmp_path, dvc_remote, mlflow.url) as start:
        yield lambda canary: Scene(**vars(start(canary)))


def test_a_good_canary_reaches_full_traffic_and_becomes_champion(
        scene_for: Callable[[Side], Scene], python_env: Path, modelrail_project: str) -> None:
    scene = scene_for(Side(NEW_IMAGE, version="2"))

    run, kubeconfig = scene.run_canary(python_env, modelrail_project)

    assert run.returncode == 0, run.log[-6000:]
    assert run.job_passed(JOB)
    outputs = run.dotenv(JOB, DOTENV)
    assert (outputs["MODELRAIL_OUT_RESULT"], outputs["MODELRAIL_OUT_WEIGHT"]) == \
        ("promoted", "100")
    assert outputs["MODELRAIL_OUT_FAILED_STEP"] == ""
    champion = scene.check_promoted_to_prod()
    assert champion["reason"] == f"canary of {NEW_IMAGE} passed every step"
    assert [(s["weight"], s["verdict"]) for s in report(run)["steps"]] == \
        [(10, "pass"), (25, "pass"), (50, "pass"), (100, "pass")]
    assert (run.artifacts(JOB) / "modelrail-canary-report" / "canary-report.html").is_file()
    # gitlab-ci-local renders a log section as "<name>_started" ... "<name> took <n>ms".
    for section in ("modelrail_promote", "modelrail_canary", "modelrail_canary_step_4",
                    "modelrail_promote_after"):
        assert f"{section} took" in run.log, section
    assert "modelrail_cleanup" not in run.log
    assert_no_secret_printed(run, scene, kubeconfig)


def test_a_bad_canary_is_aborted_at_the_first_failing_step_and_rolled_back(
        scene_for: Callable[[Side], Scene], python_env: Path, modelrail_project: str) -> None:
    scene = scene_for(Side(NEW_IMAGE, version="2", faulty=True))

    run, kubeconfig = scene.run_canary(python_env, modelrail_project)

    assert run.returncode != 0
    assert run.job_failed(JOB), run.log[-6000:]
    outputs = run.dotenv(JOB, DOTENV)
    assert outputs["MODELRAIL_OUT_RESULT"] == "aborted", run.log[-6000:]
    steps = report(run)["steps"]
    # Aborted at the first step whose analysis failed: every step before it passed.
    assert [s["verdict"] for s in steps] == ["pass"] * (len(steps) - 1) + ["fail"]
    failed = steps[-1]["weight"]
    assert failed < 100
    assert outputs["MODELRAIL_OUT_FAILED_STEP"] == str(failed)
    # The after_script rolled the canary alias back; prod never moved.
    assert "modelrail_cleanup took" in run.log, run.log[-6000:]
    rolled_back = scene.check_aborted_and_rolled_back()
    assert rolled_back["rolled_back_reason"] == \
        f"canary of {NEW_IMAGE} ended aborted at the {failed}% step"
    assert "modelrail_promote_after" not in run.log
    gauges = (run.artifacts(JOB) / "modelrail-canary-report" / "canary.om").read_text()
    assert f'step="{len(steps)}",weight="{failed}",verdict="fail"}} -1.0 ' in gauges
    assert_no_secret_printed(run, scene, kubeconfig)
