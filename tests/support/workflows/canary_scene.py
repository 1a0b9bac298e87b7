"""example-model promoted to canary against the live canary lab, for the canary e2e tests
of both CI systems (act: tests/e2e/test_canary.py; gitlab-ci-local:
tests/e2e/test_gitlab_canary.py): a model of its own in the shared MLflow registry (version
1 everywhere, version 2 in staging), its repository with seconds-long steps and the
traffic backend's `rollout:` section, the backend's stand-in (Argo Rollouts and istiod:
RolloutsStandIn; KServe and Knative: KServeStandIn) and the lab's servers, Prometheus and
traffic."""

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from tests.support.labs.canary import STABLE, Backend, CanaryLab, LabStandIn, Side, canary_lab
from tests.support.standins import istio, kserve
from tests.support.standins.kserve import KServeStandIn
from tests.support.standins.rollouts import RolloutsStandIn
from tests.support.workflows.flows import named_model_repo

ROLLOUT, NAMESPACE = "ctr-ranker", "ml"
NEW_IMAGE = "ghcr.io/acme/ctr-ranker@sha256:" + "2" * 64
RATE = 40.0  # requests/s in total: 4/s reach the canary at the 10% step
STEP_SECONDS = 8
REVISIONS = tuple(f"{ROLLOUT}-predictor-0000{n}" for n in (1, 2))  # KServe's, before/canary


def short_canary_steps(policy: dict[str, Any]) -> None:
    """example-model's policy with seconds-long steps: same metrics, same queries, sample
    minimums for ~30 canary requests at 10 %, and latency judged with room for a machine
    whose cores the other tests share (both sides are the same code)."""
    policy["rollout"]["step_seconds"] = STEP_SECONDS
    metrics = policy["analysis"]["metrics"]
    for name in ("error_rate", "latency_p99", "prediction_score"):
        metrics[name]["min_samples"] = 15
    metrics["latency_p99"]["allowed_ratio"] = 3


def on_backend(backend: Backend) -> Callable[[dict[str, Any]], None]:
    """The policy edit for `backend`: short steps, and the rollout section the backend's
    stand-in app answers (Istio: the route `add_istio_app` makes; KServe: the predictor
    container `add_inference_service` makes)."""
    def edit(policy: dict[str, Any]) -> None:
        short_canary_steps(policy)
        rollout = policy["rollout"]
        if backend == "istio":
            rollout.update(backend="istio", istio={"route": istio.PRIMARY})
        elif backend == "kserve":
            rollout.update(backend="kserve", container=kserve.CONTAINER)
    return edit


def register_canary_versions(client: MlflowClient, model: str) -> None:
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


@dataclass(frozen=True)
class CanaryScene:
    repo: Path
    model: str
    client: MlflowClient
    lab: CanaryLab
    standin: LabStandIn
    mlflow_url: str
    backend: Backend
    predictor_before: dict[str, Any]  # KServe: spec.predictor before the canary ({} else)

    def alias(self, alias: str) -> str:
        return str(self.client.get_model_version_by_alias(self.model, alias).version)

    @property
    def argo(self) -> RolloutsStandIn:
        assert isinstance(self.standin, RolloutsStandIn)
        return self.standin

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

    def kserve_split(self) -> dict[str, int]:
        """Percent of requests per image, as Knative resolved the route."""
        assert isinstance(self.standin, KServeStandIn)
        return self.standin.split(ROLLOUT, NAMESPACE).percent_by_image

    def check_promoted_to_prod(self) -> dict[str, str]:
        """The new image serves all traffic as the backend does it after a promotion,
        version 2 answered without errors and holds canary and prod (@champion), prod moved
        because the canary passed; version 2's tags. Assertions (a failure names what
        differs)."""
        self.check_promoted_on_the_backend()
        assert (self.alias("canary"), self.alias("champion")) == ("2", "2")
        champion: dict[str, str] = self.client.get_model_version(self.model, "2").tags
        assert champion["previous_version.prod"] == "1"
        assert "passed every step" in champion["reason"]
        served = self.lab.counts()
        assert served.get(("2", 200), 0) > 0
        assert not [key for key in served if key[0] == "2" and key[1] != 200]
        return champion

    def check_promoted_on_the_backend(self) -> None:
        assert self.lab.traffic().stable_image == NEW_IMAGE
        if self.backend == "argo":
            assert self.argo.weight(ROLLOUT, NAMESPACE) == 100
            assert self.rollout_status()["phase"] == "Healthy"
        elif self.backend == "istio":  # the stable Deployment took the image, then 100 %
            assert self.deployment_image(ROLLOUT) == NEW_IMAGE
            assert self.route_weights() == [100, 0]
        else:  # canaryTrafficPercent removed: the canary's revision is the rolled-out one
            predictor, status = self.inference_service()
            assert "canaryTrafficPercent" not in predictor
            assert predictor["containers"][0]["image"] == NEW_IMAGE
            assert (status["latestRolledoutRevision"],
                    status["previousRolledoutRevision"]) == REVISIONS[::-1]
            assert self.kserve_split() == {NEW_IMAGE: 100}

    def check_aborted_and_rolled_back(self) -> dict[str, str]:
        """All traffic back on the stable image as the backend does it after an abort,
        version 1 in canary and prod again, version 2 marked as rolled back from canary;
        version 2's tags."""
        self.check_aborted_on_the_backend()
        assert (self.alias("canary"), self.alias("champion")) == ("1", "1")
        rolled_back: dict[str, str] = self.client.get_model_version(self.model, "2").tags
        assert rolled_back["rolled_back_env"] == "canary"
        return rolled_back

    def check_aborted_on_the_backend(self) -> None:
        traffic = self.lab.traffic()
        assert (traffic.stable_image, traffic.canary_weight) == (STABLE.image, 0)
        if self.backend == "argo":
            assert self.rollout_status().get("abort") is True
        elif self.backend == "istio":  # 100/0 on the route, the stable Deployment untouched
            assert self.route_weights() == [100, 0]
            assert self.deployment_image(ROLLOUT) == STABLE.image
        else:  # the predictor before the canary, at canaryTrafficPercent 0
            predictor, status = self.inference_service()
            assert predictor == {**self.predictor_before, "canaryTrafficPercent": 0}
            assert status["latestRolledoutRevision"] == REVISIONS[0]
            assert self.kserve_split() == {STABLE.image: 100}


@contextlib.contextmanager
def canary_scenes(root: Path, dvc_remote: Path, mlflow_url: str, backend: Backend = "argo",
                  artifacts: Path | None = None) -> Iterator[Callable[[Side], CanaryScene]]:
    """`start(canary_side)`: the model repo, registry, `backend`'s stand-in and lab,
    started (`artifacts`: the lab's models, trained once for several scenes); all stopped
    on exit."""
    with contextlib.ExitStack() as stack:
        standin: LabStandIn = KServeStandIn() if backend == "kserve" else RolloutsStandIn()
        stack.enter_context(standin)

        def start(canary: Side) -> CanaryScene:
            model = f"ctr-ranker-{uuid.uuid4().hex[:6]}"
            repo = named_model_repo(root / "ctr-model", dvc_remote, model,
                                    on_backend(backend))
            client = MlflowClient(mlflow_url)
            register_canary_versions(client, model)
            lab = stack.enter_context(canary_lab(
                root / "lab", standin, rollout=ROLLOUT, namespace=NAMESPACE,
                stable=STABLE, canary=canary, rate=RATE, backend=backend,
                artifacts=artifacts))
            before = standin.get(kserve.PLURAL, NAMESPACE, ROLLOUT)["spec"]["predictor"] \
                if backend == "kserve" else {}
            return CanaryScene(repo, model, client, lab, standin, mlflow_url, backend, before)

        yield start
