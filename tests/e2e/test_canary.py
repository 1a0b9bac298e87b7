"""Promotion with a canary rollout, as a user dispatches it: example-model's Promote
workflow (to: canary, with an image) → modelrail's promote.yml → canary.yml, run by act,
on every traffic backend (`rollout.backend`): Argo Rollouts, Istio and KServe.

Everything is real except the Kubernetes API and its controllers (the stand-ins: Argo
Rollouts and istiod in RolloutsStandIn, KServe and Knative in KServeStandIn): two
`ctr_serving` processes (stable version 1, canary version 2), a Prometheus scraping them
every second, live traffic split as the backend's stand-in routes it
(tests/support/labs/canary.py), and the MLflow registry. example-model's own policy is
used, with its rollout.backend set, and steps of seconds instead of minutes (and sample
minimums to match).
"""

import base64
import contextlib
import json
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from modelrail.cli.main import main
from modelrail.local.act import ActRun

from tests.support.labs.canary import (
    STABLE,
    Backend,
    CanaryLab,
    LabStandIn,
    Side,
    canary_lab,
    train_artifacts,
)
from tests.support.standins import istio, kserve
from tests.support.standins.kserve import KServeStandIn
from tests.support.standins.rollouts import RolloutsStandIn
from tests.support.workflows.flows import (
    PROMOTE_WORKFLOW,
    ExampleWorkbench,
    named_model_repo,
    promote_dispatch,
)

pytestmark = pytest.mark.e2e

ROLLOUT, NAMESPACE = "ctr-ranker", "ml"
NEW_IMAGE = "ghcr.io/acme/ctr-ranker@sha256:" + "2" * 64
CANARY_JOB = "Canary ctr-ranker to version 2"
STEP_SECONDS = 8
RATE = 40.0  # requests/s in total: 4/s reach the canary at the 10% step


REVISIONS = tuple(f"{ROLLOUT}-predictor-0000{n}" for n in (1, 2))  # KServe's, before/canary
CLEAN_UP = "Abort the rollout and roll the alias back"


@dataclass(frozen=True)
class Scene:
    repo: Path
    model: str
    client: MlflowClient
    lab: CanaryLab
    backend: Backend
    standin: LabStandIn
    bench: ExampleWorkbench
    artifacts: Path
    predictor_before: dict[str, Any]  # KServe: spec.predictor before the canary ({} else)

    def alias(self, alias: str) -> str:
        return str(self.client.get_model_version_by_alias(self.model, alias).version)

    @property
    def argo(self) -> RolloutsStandIn:
        assert isinstance(self.standin, RolloutsStandIn)
        return self.standin

    def kserve_split(self) -> dict[str, int]:
        """Percent of requests per image, as Knative resolved the route."""
        assert isinstance(self.standin, KServeStandIn)
        return self.standin.split(ROLLOUT, NAMESPACE).percent_by_image

    def rollout_status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.argo.rollout(ROLLOUT, NAMESPACE)["status"]
        return status

    def deployment_image(self, name: str) -> str:
        spec = self.standin.get("deployments", NAMESPACE, name)["spec"]
        return str(spec["template"]["spec"]["containers"][0]["image"])

    def route_weights(self) -> list[int]:
        """The stable and canary weights of the Istio route modelrail owns."""
        route = self.standin.get(istio.PLURAL, NAMESPACE, ROLLOUT)["spec"]["http"][0]
        return [int(destination.get("weight") or 0) for destination in route["route"]]

    def inference_service(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The InferenceService's spec.predictor and its status' predictor component, once
        the controllers have caught up."""
        self.standin.settle()
        served = self.standin.get(kserve.PLURAL, NAMESPACE, ROLLOUT)
        return served["spec"]["predictor"], served["status"]["components"]["predictor"]

    @property
    def report_dir(self) -> Path:
        return self.artifacts / f"canary-report-{ROLLOUT}-v2"

    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.report_dir / "canary.json").read_text())
        return report

    def promote_to_canary(self) -> ActRun:
        return self.bench.promote(self.repo, "canary", "e2e canary", image=NEW_IMAGE)


def short_steps(policy: dict[str, Any]) -> None:
    """example-model's policy with seconds-long steps: same metrics, same queries, sample
    minimums for ~30 canary requests at 10 %, and latency judged with room for a machine
    whose cores the other tests share (both sides are the same code)."""
    policy["rollout"]["step_seconds"] = STEP_SECONDS
    metrics = policy["analysis"]["metrics"]
    for name in ("error_rate", "latency_p99", "prediction_score"):
        metrics[name]["min_samples"] = 15
    metrics["latency_p99"]["allowed_ratio"] = 3


def register_versions(client: MlflowClient, model: str) -> None:
    """Version 1 in every environment (prod = @champion), version 2 gated and in staging."""
    client.create_registered_model(model)
    run = client.create_run(experiment_id="0")
    client.log_text(run.info.run_id, "flavors: {}\n", "model/MLmodel")
    for _ in range(2):
        client.create_model_version(model, f"runs:/{run.info.run_id}/model",
                                    run_id=run.info.run_id,
                                    tags={"validation_status": "passed"})
    for alias in ("dev", "staging", "canary", "champion"):
        client.set_registered_model_alias(model, alias, "1")
    for alias in ("dev", "staging"):
        client.set_registered_model_alias(model, alias, "2")


def on_backend(backend: Backend) -> Callable[[dict[str, Any]], None]:
    """The policy edit for `backend`: short steps, and the rollout section the backend's
    stand-in app answers (Istio: the route `add_istio_app` makes; KServe: the predictor
    container `add_inference_service` makes)."""
    def edit(policy: dict[str, Any]) -> None:
        short_steps(policy)
        rollout = policy["rollout"]
        if backend == "istio":
            rollout.update(backend="istio", istio={"route": istio.PRIMARY})
        elif backend == "kserve":
            rollout.update(backend="kserve", container=kserve.CONTAINER)
    return edit


@pytest.fixture(params=["argo", "istio", "kserve"])
def backend(request: pytest.FixtureRequest) -> Backend:
    name: Backend = request.param
    return name


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lab's good and faulty models, trained once for every scene."""
    return train_artifacts(tmp_path_factory.mktemp("lab-artifacts"))


@pytest.fixture
def scene_for(tmp_path: Path, dvc_remote: Path, bench: ExampleWorkbench, backend: Backend,
              trained: Path) -> Iterator[Callable[[Side], Scene]]:
    """`scene_for(canary_side)`: the model repo, registry, stand-in and lab, started."""
    with contextlib.ExitStack() as stack:
        standin: LabStandIn = KServeStandIn() if backend == "kserve" else RolloutsStandIn()
        stack.enter_context(standin)

        def start(canary: Side) -> Scene:
            model = f"ctr-ranker-{uuid.uuid4().hex[:6]}"
            repo = named_model_repo(tmp_path / "ctr-model", dvc_remote, model,
                                    on_backend(backend))
            client = MlflowClient(bench.mlflow_url)
            register_versions(client, model)
            lab = stack.enter_context(canary_lab(
                tmp_path / "lab", standin, rollout=ROLLOUT, namespace=NAMESPACE,
                stable=STABLE, canary=canary, rate=RATE, backend=backend,
                artifacts=trained))
            before = standin.get(kserve.PLURAL, NAMESPACE, ROLLOUT)["spec"]["predictor"] \
                if backend == "kserve" else {}
            kubeconfig = base64.b64encode(standin.kubeconfig().encode()).decode()
            artifacts = tmp_path / "artifacts"
            workbench = replace(
                bench, secrets={"KUBECONFIG": kubeconfig, "PROMETHEUS_TOKEN": "prom-e2e"},
                variables={"PROMETHEUS_URL": lab.prometheus_url},
                env={"MODELRAIL_LOCAL_ARTIFACT_DIR": str(artifacts)})
            return Scene(repo, model, client, lab, backend, standin, workbench, artifacts,
                         before)

        yield start


def assert_promoted_on_the_backend(scene: Scene) -> None:
    """The new image serves all traffic as the backend does it after a promotion."""
    assert scene.lab.traffic().stable_image == NEW_IMAGE
    if scene.backend == "argo":
        assert scene.argo.weight(ROLLOUT, NAMESPACE) == 100
        assert scene.rollout_status()["phase"] == "Healthy"
    elif scene.backend == "istio":  # the stable Deployment took the image, then 100 % back
        assert scene.deployment_image(ROLLOUT) == NEW_IMAGE
        assert scene.route_weights() == [100, 0]
    else:  # canaryTrafficPercent removed: the canary's revision is the rolled-out one
        predictor, status = scene.inference_service()
        assert "canaryTrafficPercent" not in predictor
        assert predictor["containers"][0]["image"] == NEW_IMAGE
        assert (status["latestRolledoutRevision"], status["previousRolledoutRevision"]) == \
            REVISIONS[::-1]
        assert scene.kserve_split() == {NEW_IMAGE: 100}


def assert_aborted_on_the_backend(scene: Scene) -> None:
    """Every request back on the stable version, as the backend does it after an abort."""
    traffic = scene.lab.traffic()
    assert (traffic.stable_image, traffic.canary_weight) == (STABLE.image, 0)
    if scene.backend == "argo":
        assert scene.rollout_status().get("abort") is True
    elif scene.backend == "istio":  # 100/0 on the route, the stable Deployment untouched
        assert scene.route_weights() == [100, 0]
        assert scene.deployment_image(ROLLOUT) == STABLE.image
    else:  # the predictor before the canary, at canaryTrafficPercent 0
        predictor, status = scene.inference_service()
        assert predictor == {**scene.predictor_before, "canaryTrafficPercent": 0}
        assert status["latestRolledoutRevision"] == REVISIONS[0]
        assert scene.kserve_split() == \
            {STABLE.image: 100}


def test_a_good_canary_reaches_full_traffic_and_becomes_champion(
        scene_for: Callable[[Side], Scene]) -> None:
    scene = scene_for(Side(NEW_IMAGE, version="2"))

    run = scene.promote_to_canary()

    assert run.returncode == 0, run.log[-6000:]
    assert run.outputs(CANARY_JOB, first=True)["result"] == "promoted"
    assert scene.standin.token not in run.log  # the kubeconfig secret is never printed
    assert_promoted_on_the_backend(scene)
    assert scene.alias("canary") == "2"
    assert scene.alias("champion") == "2"
    champion = scene.client.get_model_version(scene.model, "2").tags
    assert champion["previous_version.prod"] == "1"
    assert "passed every step" in champion["reason"]
    served = scene.lab.counts()
    assert served.get(("2", 200), 0) > 0
    assert not [key for key in served if key[0] == "2" and key[1] != 200]
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
    assert scene.standin.token not in run.log
    assert_aborted_on_the_backend(scene)
    assert run.job_result(CANARY_JOB) == "failed"
    assert f"Success - Main {CLEAN_UP}" in run.log  # the clean-up works on every backend
    assert scene.alias("canary") == "1"
    assert scene.alias("champion") == "1"
    rolled_back = scene.client.get_model_version(scene.model, "2").tags
    assert rolled_back["rolled_back_env"] == "canary"
    assert run.job_result("Promote to prod after the canary") is None  # skipped
    assert "error\\_rate" in run.summary(CANARY_JOB)  # escaped Markdown
    # the uploaded report carries the verdicts as OpenMetrics, the failed step's at -1
    gauges = (scene.report_dir / "canary.om").read_text()
    assert f'step="{len(steps)}",weight="{steps[-1]["weight"]}",verdict="fail"}} -1.0 ' \
        in gauges


@pytest.mark.parametrize("backend", ["argo", "kserve"])
def test_cancelling_the_job_mid_rollout_aborts_it_and_rolls_back(
        scene_for: Callable[[Side], Scene], tmp_path: Path) -> None:
    """The clean-up step runs in a process of its own: on KServe it restores the
    predictor the start recorded on the InferenceService (or finds it restored)."""
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
    assert f"Success - Main {CLEAN_UP}" in text, text[-6000:]
    assert scene.standin.token not in text
    assert_aborted_on_the_backend(scene)
    assert scene.alias("canary") == "1", text[-6000:]
    assert scene.alias("champion") == "1"
    assert "cancelled" in scene.client.get_model_version(scene.model, "2") \
        .tags["rolled_back_reason"]


@pytest.mark.parametrize("backend", ["argo"])  # it starts the canary with the Argo commands
def test_prometheus_check_judges_a_running_canary_once(
        scene_for: Callable[[Side], Scene], tmp_path: Path) -> None:
    """example-model's Canary check workflow (actions/prometheus-check) on a canary that
    the rollout holds at 10 %, started with the rollout commands."""
    scene = scene_for(Side(NEW_IMAGE, version="2", faulty=True))
    kubeconfig = scene.argo.write_kubeconfig(tmp_path / "kubeconfig")
    policy = str(scene.repo / "modelrail.yaml")
    assert main(["rollout", "set-image", "--config", policy, "--kubeconfig", str(kubeconfig),
                 "--image", NEW_IMAGE]) == 0
    # The controller moves traffic on a later reconcile, as a real one does.
    assert main(["rollout", "wait", "--config", policy, "--kubeconfig", str(kubeconfig),
                 "--until", "weight=10", "--timeout", "60"]) == 0
    assert scene.argo.weight(ROLLOUT, NAMESPACE) == 10
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
    """Poll the lab's split until the canary has `weight` (or act ends); the last weight."""
    deadline = time.monotonic() + timeout
    current = scene.lab.traffic().canary_weight
    while time.monotonic() < deadline and act.poll() is None and current != weight:
        time.sleep(0.2)
        current = scene.lab.traffic().canary_weight
    return current
