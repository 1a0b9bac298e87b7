"""`modelrail canary run` with `rollout.backend: istio` against the live canary lab: real
model servers, a real Prometheus, traffic split by the weights of the VirtualService route
the stand-in's istiod last pushed (asynchronously: mesh_delay after each write).

A good canary walks 10 → 50 → 100 % and is promoted the Flagger way: the stable
Deployment takes its image, then 100 % goes back to the stable subset. The miscalibrated
one is aborted at the first step, all traffic back on stable, the stable Deployment
untouched. Every VirtualService write is a JSON patch of the owned route's weights.
"""

from pathlib import Path

import pytest

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
from tests.support.standins import istio
from tests.support.standins.rollouts import RolloutsStandIn

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not prometheus_available(), reason="needs prometheus")]

WEIGHTS = (10, 50, 100)
POLICY = lab_policy(steps=WEIGHTS, backend="istio")
VS_PATH = f"/apis/networking.istio.io/v1/namespaces/default/virtualservices/{MODEL_NAME}"


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner_env(tmp_path, monkeypatch)



def _canary_weights(standin: RolloutsStandIn) -> list[int]:
    return [op["value"] for r in standin.writes() if r.path == VS_PATH
            for op in r.body if op["path"] == "/spec/http/0/route/1/weight"]


def _image(standin: RolloutsStandIn, deployment: str) -> str:
    spec = standin.get("deployments", "default", deployment)["spec"]
    return str(spec["template"]["spec"]["containers"][0]["image"])


def test_a_good_canary_is_promoted_through_the_stable_deployment(tmp_path: Path) -> None:
    with RolloutsStandIn() as standin, canary_lab(tmp_path / "lab", standin, stable=STABLE,
                                                  canary=GOOD, backend="istio") as lab:
        code = run_canary(lab, standin, GOOD, tmp_path, POLICY)
        traffic = standin.istio_traffic(MODEL_NAME)
        counts = lab.counts()
    result = canary_json(tmp_path)
    assert code == 0, result
    assert result["result"] == "promoted"
    assert result["baseline"] == "1"  # the stable Deployment's v1 tag
    assert [(s["weight"], s["verdict"]) for s in result["steps"]] == \
        [(10, "pass"), (50, "pass"), (100, "pass")]
    assert _canary_weights(standin) == [10, 50, 100, 0]
    assert (_image(standin, MODEL_NAME), _image(standin, f"{MODEL_NAME}-canary")) == \
        (GOOD.image, GOOD.image)
    assert (traffic.stable_image, traffic.canary_weight) == (GOOD.image, 0)
    assert standin.get(istio.PLURAL, "default", MODEL_NAME)["status"]["conditions"][0][
        "type"] == "Reconciled"
    assert counts.get(("2", 200), 0) > 0
    assert counts.get(("unrouted", 0), 0) == 0
    outputs = parse_file_command((tmp_path / "github_output").read_text())
    assert (outputs["result"], outputs["weight"]) == ("promoted", "100")  # the new image's


def test_a_miscalibrated_canary_is_aborted_with_all_traffic_back_on_stable(
        tmp_path: Path) -> None:
    with RolloutsStandIn() as standin, canary_lab(tmp_path / "lab", standin, stable=STABLE,
                                                  canary=FAULTY, backend="istio") as lab:
        code = run_canary(lab, standin, FAULTY, tmp_path, POLICY)
        traffic = standin.istio_traffic(MODEL_NAME)
        max_weight = lab.max_weight()
    result = canary_json(tmp_path)
    assert code == 1, result
    assert result["result"] == "aborted"
    assert [(s["weight"], s["verdict"]) for s in result["steps"]] == [(10, "fail")]
    metrics = {m["name"]: m for m in result["steps"][0]["metrics"]}
    assert metrics["prediction_p90"]["outcome"] == "fail"
    assert _canary_weights(standin) == [10, 0]
    assert max_weight == 10  # no user request was ever split by more than the first step
    assert (traffic.canary_weight, traffic.stable_image) == (0, STABLE.image)
    assert _image(standin, MODEL_NAME) == STABLE.image
    assert "traffic is back on stable" in result["message"]
