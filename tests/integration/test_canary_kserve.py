"""`modelrail canary run` with `rollout.backend: kserve` against the live canary lab: real
model servers, a real Prometheus, traffic split as Knative resolved the InferenceService's
route in the KServe stand-in (asynchronously: its controllers reconcile after each write).

A good canary walks 10 → 50 → 100 % of canaryTrafficPercent and is promoted by removing
the field: its revision is then the rolled-out one. The miscalibrated one is aborted at
the first step: the predictor read before the start comes back with the percent at 0,
every request on the revision that served before.
"""

from pathlib import Path
from typing import Any

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
from tests.support.standins.kserve import KServeStandIn

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not prometheus_available(), reason="needs prometheus")]

WEIGHTS = (10, 50, 100)
POLICY = lab_policy(steps=WEIGHTS, backend="kserve")
REV1, REV2 = f"{MODEL_NAME}-predictor-00001", f"{MODEL_NAME}-predictor-00002"


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner_env(tmp_path, monkeypatch)


PERCENT_PATHS = ("/spec/predictor", "/spec/predictor/canaryTrafficPercent")


def _percents(standin: KServeStandIn) -> list[object]:
    """canaryTrafficPercent of each write, in order (None: removed)."""
    written: list[object] = []
    for request in standin.writes():
        if isinstance(request.body, dict):
            written.append(request.body["spec"]["predictor"]["canaryTrafficPercent"])
        else:
            (op,) = [op for op in request.body if op["path"] in PERCENT_PATHS]
            written.append(op["value"].get("canaryTrafficPercent")
                           if op["path"] == "/spec/predictor" else op["value"])
    return written


def _predictor_status(standin: KServeStandIn) -> dict[str, Any]:
    status: dict[str, Any] = standin.inference_service(MODEL_NAME)["status"]
    return dict(status["components"]["predictor"])


def test_a_good_canary_is_promoted_and_its_revision_rolled_out(tmp_path: Path) -> None:
    with KServeStandIn() as standin, canary_lab(tmp_path / "lab", standin, stable=STABLE,
                                                canary=GOOD, backend="kserve") as lab:
        code = run_canary(lab, standin, GOOD, tmp_path, POLICY)
        split = standin.split(MODEL_NAME).percent_by_image
        counts = lab.counts()
        predictor = standin.inference_service(MODEL_NAME)["spec"]["predictor"]
        status = _predictor_status(standin)
    result = canary_json(tmp_path)
    assert code == 0, result
    assert result["result"] == "promoted"
    assert result["baseline"] == "1"  # the predictor's v1 tag before the start
    assert [(s["weight"], s["verdict"]) for s in result["steps"]] == \
        [(10, "pass"), (50, "pass"), (100, "pass")]
    assert _percents(standin) == [10, 50, 100, None]
    assert "canaryTrafficPercent" not in predictor
    assert predictor["containers"][0]["image"] == GOOD.image
    assert (status["latestRolledoutRevision"], status["previousRolledoutRevision"]) == \
        (REV2, REV1)
    assert split == {GOOD.image: 100}
    assert counts.get(("2", 200), 0) > 0
    assert counts.get(("unrouted", 0), 0) == 0
    outputs = parse_file_command((tmp_path / "github_output").read_text())
    assert (outputs["result"], outputs["weight"]) == ("promoted", "100")


def test_a_miscalibrated_canary_is_aborted_with_the_previous_predictor_restored(
        tmp_path: Path) -> None:
    with KServeStandIn() as standin, canary_lab(tmp_path / "lab", standin, stable=STABLE,
                                                canary=FAULTY, backend="kserve") as lab:
        before = standin.inference_service(MODEL_NAME)["spec"]["predictor"]
        code = run_canary(lab, standin, FAULTY, tmp_path, POLICY)
        split = standin.split(MODEL_NAME).percent_by_image
        max_weight = lab.max_weight()
        predictor = standin.inference_service(MODEL_NAME)["spec"]["predictor"]
        status = _predictor_status(standin)
    result = canary_json(tmp_path)
    assert code == 1, result
    assert result["result"] == "aborted"
    assert [(s["weight"], s["verdict"]) for s in result["steps"]] == [(10, "fail")]
    metrics = {m["name"]: m for m in result["steps"][0]["metrics"]}
    assert metrics["prediction_p90"]["outcome"] == "fail"
    assert _percents(standin) == [10, 0]
    assert predictor == {**before, "canaryTrafficPercent": 0}
    assert status["latestRolledoutRevision"] == REV1
    assert split == {STABLE.image: 100}
    assert max_weight == 10  # no user request was ever split by more than the first step
    assert "traffic is back on stable" in result["message"]
