"""example-model promoted to canary against the live canary lab, for the canary e2e tests
of both CI systems (act: tests/e2e/test_canary.py; gitlab-ci-local:
tests/e2e/test_gitlab_canary.py): a model of its own in the shared MLflow registry (version
1 everywhere, version 2 in staging), its repository with seconds-long steps, the Argo
Rollouts stand-in and the lab's servers, Prometheus and traffic."""

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from tests.support.labs.canary import STABLE, CanaryLab, Side, canary_lab
from tests.support.standins.rollouts import RolloutsStandIn
from tests.support.workflows.flows import named_model_repo

ROLLOUT, NAMESPACE = "ctr-ranker", "ml"
NEW_IMAGE = "ghcr.io/acme/ctr-ranker@sha256:" + "2" * 64
RATE = 40.0  # requests/s in total: 4/s reach the canary at the 10% step
STEP_SECONDS = 8


def short_canary_steps(policy: dict[str, Any]) -> None:
    """example-model's policy with seconds-long steps: same metrics, same queries, sample
    minimums for ~30 canary requests at 10 %, and latency judged with room for a machine
    whose cores the other tests share (both sides are the same code)."""
    policy["rollout"]["step_seconds"] = STEP_SECONDS
    metrics = policy["analysis"]["metrics"]
    for name in ("error_rate", "latency_p99", "prediction_score"):
        metrics[name]["min_samples"] = 15
    metrics["latency_p99"]["allowed_ratio"] = 3


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
    standin: RolloutsStandIn
    mlflow_url: str

    def alias(self, alias: str) -> str:
        return str(self.client.get_model_version_by_alias(self.model, alias).version)

    def rollout_status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.standin.rollout(ROLLOUT, NAMESPACE)["status"]
        return status

    def check_promoted_to_prod(self) -> dict[str, str]:
        """The new image serves all traffic (Healthy), version 2 answered without errors and
        holds canary and prod (@champion), prod moved because the canary passed; version
        2's tags. Assertions (a failure names what differs)."""
        assert self.standin.weight(ROLLOUT, NAMESPACE) == 100
        assert self.standin.traffic(ROLLOUT, NAMESPACE).stable_image == NEW_IMAGE
        assert self.rollout_status()["phase"] == "Healthy"
        assert (self.alias("canary"), self.alias("champion")) == ("2", "2")
        champion: dict[str, str] = self.client.get_model_version(self.model, "2").tags
        assert champion["previous_version.prod"] == "1"
        assert "passed every step" in champion["reason"]
        served = self.lab.counts()
        assert served.get(("2", 200), 0) > 0
        assert not [key for key in served if key[0] == "2" and key[1] != 200]
        return champion

    def check_aborted_and_rolled_back(self) -> dict[str, str]:
        """All traffic back on the stable image of an aborted rollout, version 1 in canary
        and prod again, version 2 marked as rolled back from canary; version 2's tags."""
        assert self.standin.weight(ROLLOUT, NAMESPACE) == 0
        assert self.rollout_status().get("abort") is True
        assert self.standin.traffic(ROLLOUT, NAMESPACE).stable_image == STABLE.image
        assert (self.alias("canary"), self.alias("champion")) == ("1", "1")
        rolled_back: dict[str, str] = self.client.get_model_version(self.model, "2").tags
        assert rolled_back["rolled_back_env"] == "canary"
        return rolled_back


@contextlib.contextmanager
def canary_scenes(root: Path, dvc_remote: Path, mlflow_url: str
                  ) -> Iterator[Callable[[Side], CanaryScene]]:
    """`start(canary_side)`: the model repo, registry, stand-in and lab, started; all
    stopped on exit."""
    with contextlib.ExitStack() as stack:
        standin = stack.enter_context(RolloutsStandIn())

        def start(canary: Side) -> CanaryScene:
            model = f"ctr-ranker-{uuid.uuid4().hex[:6]}"
            repo = named_model_repo(root / "ctr-model", dvc_remote, model, short_canary_steps)
            client = MlflowClient(mlflow_url)
            register_canary_versions(client, model)
            lab = stack.enter_context(canary_lab(
                root / "lab", standin, rollout=ROLLOUT, namespace=NAMESPACE,
                stable=STABLE, canary=canary, rate=RATE))
            return CanaryScene(repo, model, client, lab, standin, mlflow_url)

        yield start
