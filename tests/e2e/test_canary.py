"""Promotion with a canary rollout, as a user dispatches it: example-model's Promote
workflow (to: canary, with an image) → modelrail's promote.yml → canary.yml, run by act.

Everything is real except the Kubernetes API + Argo controller (the rollouts stand-in):
two `ctr_serving` processes (stable version 1, canary version 2), a Prometheus scraping
them every second, live traffic split by the stand-in's weight (tests/support/labs/canary.py),
and the MLflow registry. example-model's own policy is used, with steps of seconds instead
of minutes (and sample minimums to match).
"""

import base64
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from modelrail.cli.main import main
from modelrail.local.act import ActRun

from tests.support.labs.canary import Side
from tests.support.workflows.canary_scene import (
    NAMESPACE,
    NEW_IMAGE,
    ROLLOUT,
    CanaryScene,
    canary_scenes,
)
from tests.support.workflows.flows import PROMOTE_WORKFLOW, ExampleWorkbench, promote_dispatch

pytestmark = pytest.mark.e2e

CANARY_JOB = "Canary ctr-ranker to version 2"


@dataclass(frozen=True)
class Scene(CanaryScene):
    bench: ExampleWorkbench
    artifacts: Path

    @property
    def report_dir(self) -> Path:
        return self.artifacts / f"canary-report-{ROLLOUT}-v2"

    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.report_dir / "canary.json").read_text())
        return report

    def promote_to_canary(self) -> ActRun:
        return self.bench.promote(self.repo, "canary", "e2e canary", image=NEW_IMAGE)


@pytest.fixture
def scene_for(tmp_path: Path, dvc_remote: Path, bench: ExampleWorkbench
              ) -> Iterator[Callable[[Side], Scene]]:
    """`scene_for(canary_side)`: the model repo, registry, stand-in and lab, started, and
    the workbench that hands the job their secrets and variables."""
    with canary_scenes(tmp_path, dvc_remote, bench.mlflow_url) as start:

        def start_with_bench(canary: Side) -> Scene:
            scene = start(canary)
            kubeconfig = base64.b64encode(scene.standin.kubeconfig().encode()).decode()
            artifacts = tmp_path / "artifacts"
            workbench = replace(
                bench, secrets={"KUBECONFIG": kubeconfig, "PROMETHEUS_TOKEN": "prom-e2e"},
                variables={"PROMETHEUS_URL": scene.lab.prometheus_url},
                env={"MODELRAIL_LOCAL_ARTIFACT_DIR": str(artifacts)})
            return Scene(**vars(scene), bench=workbench, artifacts=artifacts)

        yield start_with_bench


def test_a_good_canary_reaches_full_traffic_and_becomes_champion(
        scene_for: Callable[[Side], Scene]) -> None:
    scene = scene_for(Side(NEW_IMAGE, version="2"))

    run = scene.promote_to_canary()

    assert run.returncode == 0, run.log[-6000:]
    assert run.outputs(CANARY_JOB, first=True)["result"] == "promoted"
    assert scene.standin.token not in run.log  # the kubeconfig secret is never printed
    scene.check_promoted_to_prod()
    report = scene.report()
    assert [(s["weight"], s["verdict"]) for s in report["steps"]] == \
        [(10, "pass"), (25, "pass"), (50, "pass"), (100, "pass")]
    assert (scene.report_dir / "canary-report.html").is_file()


def test_a_bad_canary_is_aborted_at_the_first_failing_step_and_rolled_back(
        scene_for: Callable[[Side], Scene]) -> None:
    scene = scene_for(Side(NEW_IMAGE, version="2", faulty=True))

    run = scene.promote_to_canary()

    assert run.returncode != 0
    outputs = run.outputs(CANARY_JOB, first=True)
    assert outputs["result"] == "aborted", run.log[-6000:]
    steps = scene.report()["steps"]
    # Aborted at the first step whose analysis failed: every step before it passed.
    assert [s["verdict"] for s in steps] == ["pass"] * (len(steps) - 1) + ["fail"]
    assert outputs["failed-step"] == str(steps[-1]["weight"])
    assert steps[-1]["weight"] < 100
    scene.check_aborted_and_rolled_back()
    assert run.job_result("Promote to prod after the canary") is None  # skipped
    assert "error\\_rate" in run.summary(CANARY_JOB)  # escaped Markdown
    # the uploaded report carries the verdicts as OpenMetrics, the failed step's at -1
    gauges = (scene.report_dir / "canary.om").read_text()
    assert f'step="{len(steps)}",weight="{steps[-1]["weight"]}",verdict="fail"}} -1.0 ' \
        in gauges


def test_cancelling_the_job_mid_rollout_aborts_it_and_rolls_back(
        scene_for: Callable[[Side], Scene], tmp_path: Path) -> None:
    scene = scene_for(Side(NEW_IMAGE, version="2"))
    inputs, name = promote_dispatch(scene.repo, "canary", "e2e cancel", image=NEW_IMAGE)
    command = scene.bench.command(scene.repo, "workflow_dispatch", PROMOTE_WORKFLOW,
                                  {"inputs": inputs}, name)
    log_path = tmp_path / "cancel.log"
    with log_path.open("w") as log:
        act = subprocess.Popen(command, cwd=scene.repo, stdout=log, stderr=subprocess.STDOUT)
        try:
            paused_at = wait_for_weight(scene, 25, act, timeout=600)
            act.send_signal(signal.SIGINT)  # what Ctrl-C (or "Cancel workflow") does
            code = act.wait(timeout=300)
        finally:
            if act.poll() is None:
                act.kill()
    text = log_path.read_text()

    assert paused_at == 25, text[-6000:]
    assert code != 0, text[-6000:]
    assert "Abort the rollout and roll the alias back" in text
    assert scene.standin.weight(ROLLOUT, NAMESPACE) == 0, text[-6000:]
    assert scene.rollout_status().get("abort") is True
    assert scene.alias("canary") == "1", text[-6000:]
    assert scene.alias("champion") == "1"
    assert "cancelled" in scene.client.get_model_version(scene.model, "2") \
        .tags["rolled_back_reason"]


def test_prometheus_check_judges_a_running_canary_once(
        scene_for: Callable[[Side], Scene], tmp_path: Path) -> None:
    """example-model's Canary check workflow (actions/prometheus-check) on a canary that
    the rollout holds at 10 %, started with the rollout commands."""
    scene = scene_for(Side(NEW_IMAGE, version="2", faulty=True))
    kubeconfig = scene.standin.write_kubeconfig(tmp_path / "kubeconfig")
    policy = str(scene.repo / "modelrail.yaml")
    assert main(["rollout", "set-image", "--config", policy, "--kubeconfig", str(kubeconfig),
                 "--image", NEW_IMAGE]) == 0
    # The controller moves traffic on a later reconcile, as a real one does.
    assert main(["rollout", "wait", "--config", policy, "--kubeconfig", str(kubeconfig),
                 "--until", "weight=10", "--timeout", "60"]) == 0
    assert scene.standin.weight(ROLLOUT, NAMESPACE) == 10
    deadline = time.monotonic() + 120
    while scene.lab.counts().get(("2", 200), 0) < 40 and time.monotonic() < deadline:
        time.sleep(1)

    inputs = {"canary-version": "2", "baseline-version": "1", "window": "15s"}
    run = scene.bench.run(scene.repo, "workflow_dispatch", ".github/workflows/canary-check.yml",
                          {"inputs": inputs}, "canary-check")

    assert run.returncode != 0, run.log[-6000:]  # fail-on-reject: a failing verdict is red
    outputs = run.outputs("Canary check")
    assert outputs["outcome"] == "fail", run.log[-6000:]
    report = json.loads(Path(outputs["report-path"]).read_text())
    verdicts = {m["name"]: m["outcome"] for m in report["metrics"]}
    assert verdicts["prediction_score"] == "fail"
    assert verdicts["error_rate"] == "pass"
    assert "prediction\\_score" in run.summary("Canary check")  # escaped Markdown


def wait_for_weight(scene: Scene, weight: int, act: "subprocess.Popen[bytes]",
                    timeout: float) -> int:
    """Poll the stand-in until the rollout holds `weight` (or act ends); the last weight."""
    deadline = time.monotonic() + timeout
    current = scene.standin.weight(ROLLOUT, NAMESPACE)
    while time.monotonic() < deadline and act.poll() is None and current != weight:
        time.sleep(0.2)
        current = scene.standin.weight(ROLLOUT, NAMESPACE)
    return current
