"""The KServe traffic backend: the state it reads off an InferenceService (pure), and the
canary loop driving it against the KServe stand-in's asynchronous controllers."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from modelrail.canary.loop import CanaryPlan, CanaryResult, CanaryRun
from modelrail.cli.main import main
from modelrail.errors import UsageError
from modelrail.rollouts import kserve
from modelrail.rollouts.backend import Condition
from modelrail.rollouts.kserve import StartedCanary, read_state
from modelrail.rollouts.kserve_backend import KServeBackend, kserve_state
from modelrail.rollouts.kube import connect
from modelrail.rollouts.policy import MirrorConfig

from tests.support.standins.kserve import KServeStandIn
from tests.support.standins.kube_api import JSON_PATCH, MERGE_PATCH, isolated_cluster_env
from tests.unit.canary.fakes import FakeClock, ScriptedJudge

WEIGHTS = (10, 50, 100)
PATH = "/apis/serving.kserve.io/v1beta1/namespaces/ml/inferenceservices/ranker"
REV1, REV2, REV3 = (f"ranker-predictor-0000{n}" for n in (1, 2, 3))
PREVIOUS = {"containers": [{"name": "kserve-container", "image": "ranker:v1"}]}
STARTED = StartedCanary(created_before=REV1, stable_revision=REV1,
                        previous_predictor=PREVIOUS)


def _served(traffic: list[tuple[str, int]], *, created: str = REV2, ready_rev: str = REV2,
            rolled_out: str = REV1, percent: int | None = 10, ready: str = "True",
            image: str = "ranker:v2") -> dict[str, Any]:
    predictor: dict[str, Any] = {"containers": [{"name": "kserve-container",
                                                 "image": image}]}
    if percent is not None:
        predictor["canaryTrafficPercent"] = percent
    return {
        "metadata": {"name": "ranker", "namespace": "ml", "generation": 2},
        "spec": {"predictor": predictor},
        "status": {"deploymentMode": "Knative",
                   "conditions": [{"type": "Ready", "status": ready},
                                  {"type": "PredictorReady", "status": ready}],
                   "components": {"predictor": {
                       "latestCreatedRevision": created, "latestReadyRevision": ready_rev,
                       "latestRolledoutRevision": rolled_out,
                       "traffic": [{"revisionName": name, "percent": share}
                                   for name, share in traffic]}}}}


def test_the_weight_counts_only_once_the_canary_revision_is_reported_with_its_share() -> None:
    # right after the start the status still names the old revision as the newest
    stale = kserve_state(read_state(_served([(REV1, 100)], created=REV1, ready_rev=REV1)),
                         STARTED, percent=10, aborted=False)
    assert (stale.observed, stale.weight, stale.phase) == (False, 0, "Progressing")
    deploying = kserve_state(read_state(_served([(REV1, 10), (REV1, 90)], ready_rev=REV1,
                                                ready="Unknown")),
                             STARTED, percent=10, aborted=False)
    assert (deploying.observed, deploying.weight, deploying.paused) == (True, 0, False)
    assert f"revision {REV2} is not ready" in deploying.message
    there = kserve_state(read_state(_served([(REV2, 10), (REV1, 90)])), STARTED, percent=10,
                         aborted=False)
    assert (there.observed, there.weight, there.paused) == (True, 10, True)
    assert dict(there.stable_images) == {"kserve-container": "ranker:v1"}
    moving = kserve_state(read_state(_served([(REV2, 10), (REV1, 90)], percent=50)),
                          STARTED, percent=50, aborted=False)
    assert (moving.observed, moving.weight) == (False, 10)
    assert not Condition.parse("weight=10").holds(moving)


def test_a_failed_revision_is_degraded_and_a_promotion_counts_once_rolled_out() -> None:
    failed = kserve_state(read_state(_served([(REV1, 10), (REV1, 90)], ready_rev=REV1,
                                             ready="False")),
                          STARTED, percent=10, aborted=False)
    assert (failed.observed, failed.phase) == (True, "Degraded")
    rolling = kserve_state(read_state(_served([(REV2, 100)], percent=None)), STARTED,
                           percent=None, aborted=False)
    assert (rolling.observed, rolling.fully_promoted) == (False, False)
    done = kserve_state(read_state(_served([(REV2, 100)], percent=None, rolled_out=REV2)),
                        STARTED, percent=None, aborted=False)
    assert (done.phase, done.weight, done.fully_promoted) == ("Healthy", 100, True)
    assert dict(done.stable_images) == {"kserve-container": "ranker:v2"}


def test_an_abort_counts_once_every_request_is_back_on_the_stable_revision() -> None:
    # the restore's revision is not ready yet; the canary's still has its 10 %
    pending = kserve_state(read_state(_served([(REV2, 10), (REV1, 90)], created=REV3,
                                              percent=0, image="ranker:v1")),
                           STARTED, percent=10, aborted=True)
    assert (pending.aborted, pending.weight) == (True, 10)
    assert not Condition.parse("aborted").holds(pending)
    back = kserve_state(read_state(_served([(REV3, 0), (REV1, 100)], created=REV3,
                                           ready_rev=REV3, percent=0, image="ranker:v1")),
                        STARTED, percent=10, aborted=True)
    assert Condition.parse("aborted").holds(back)


# -- the loop against the stand-in ---------------------------------------------------------


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_cluster_env(monkeypatch)


@pytest.fixture
def standin() -> Iterator[KServeStandIn]:
    with KServeStandIn(controller_delay=0.02, readiness_delay=0.05,
                       progress_deadline=0.5) as server:
        server.add_inference_service("ranker", "ml", image="ranker:v1")
        yield server


class TickingClock(FakeClock):
    """A fake clock whose every sleep also lets `real` seconds pass, so the stand-in's
    real-time delays are reached however fast the loop's ticks."""

    def __init__(self, real: float = 0.005) -> None:
        super().__init__()
        self.real = real

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        time.sleep(self.real)


def _backend(standin: KServeStandIn, tmp_path: Path) -> KServeBackend:
    api = connect(str(standin.write_kubeconfig(tmp_path / "kubeconfig"))).api
    return KServeBackend(api, "ranker", "ml", log=lambda _line: None)


def _run(standin: KServeStandIn, tmp_path: Path, judge: ScriptedJudge,
         image: str = "ranker:v2", mirror: MirrorConfig | None = None) -> CanaryResult:
    clock = TickingClock()
    plan = CanaryPlan(image=image, version="2", baseline="1",
                      baseline_source="--baseline-version", weights=WEIGHTS,
                      step_seconds=10.0, looks=len(WEIGHTS), extra_seconds=10.0,
                      interval=2.0, mirror=mirror)
    return CanaryRun(_backend(standin, tmp_path), judge, plan, log=lambda _line: None,
                     clock=clock, sleep=clock.sleep).run()


PERCENT_PATHS = ("/spec/predictor", "/spec/predictor/canaryTrafficPercent")


def _percents(standin: KServeStandIn) -> list[object]:
    """canaryTrafficPercent of each write, in order (None: removed)."""
    written: list[object] = []
    for request in standin.writes():
        assert request.path == PATH
        if request.content_type == MERGE_PATCH:
            written.append(request.body["spec"]["predictor"]["canaryTrafficPercent"])
        else:
            assert request.content_type == JSON_PATCH
            (op,) = [op for op in request.body if op["path"] in PERCENT_PATHS]
            written.append(op["value"].get("canaryTrafficPercent")
                           if op["path"] == "/spec/predictor" else op["value"])
    return written


def _predictor(standin: KServeStandIn) -> dict[str, Any]:
    return dict(standin.inference_service("ranker", "ml")["spec"]["predictor"])


def test_a_good_canary_steps_through_the_weights_and_is_rolled_out(
        standin: KServeStandIn, tmp_path: Path) -> None:
    result = _run(standin, tmp_path, ScriptedJudge("pass"))
    assert (result.result, int(result.exit_code), result.weight) == ("promoted", 0, 100)
    assert [(s.weight, s.verdict) for s in result.steps] == [(10, "pass"), (50, "pass"),
                                                             (100, "pass")]
    assert _percents(standin) == [10, 50, 100, None]
    assert "canaryTrafficPercent" not in _predictor(standin)
    status = standin.inference_service("ranker", "ml")["status"]["components"]["predictor"]
    assert status["latestRolledoutRevision"] == REV2
    assert standin.split("ranker", "ml").percent_by_image == {"ranker:v2": 100}


def test_a_failing_canary_gets_the_previous_predictor_back_at_0(
        standin: KServeStandIn, tmp_path: Path) -> None:
    before = _predictor(standin)
    result = _run(standin, tmp_path, ScriptedJudge("pass", "fail"))
    assert (result.result, int(result.exit_code), result.weight) == ("aborted", 1, 0)
    assert (result.failed_weight, _percents(standin)) == (50, [10, 50, 0])
    assert "traffic is back on stable" in result.message
    assert _predictor(standin) == {**before, "canaryTrafficPercent": 0}
    assert standin.split("ranker", "ml").percent_by_image == {"ranker:v1": 100}


def test_a_canary_failing_at_100_is_rolled_back_by_kserve_then_restored(
        standin: KServeStandIn, tmp_path: Path) -> None:
    before = _predictor(standin)
    result = _run(standin, tmp_path, ScriptedJudge("pass", "pass", "fail"))
    assert (result.result, int(result.exit_code), result.weight) == ("aborted", 1, 0)
    # at 100 % KServe had rolled the canary out: 0 alone rolls back, then the restore
    assert (result.failed_weight, _percents(standin)) == (100, [10, 50, 100, 0, 0])
    assert _predictor(standin) == {**before, "canaryTrafficPercent": 0}
    status = standin.inference_service("ranker", "ml")["status"]["components"]["predictor"]
    assert status["latestRolledoutRevision"] == REV1
    assert standin.split("ranker", "ml").percent_by_image == {"ranker:v1": 100}


def test_a_canary_whose_revision_never_gets_ready_ends_degraded_with_no_traffic(
        standin: KServeStandIn, tmp_path: Path) -> None:
    standin.never_ready("ranker:bad")
    result = _run(standin, tmp_path, ScriptedJudge("pass"), image="ranker:bad")
    assert (result.result, int(result.exit_code)) == ("aborted", 1)
    assert "Degraded" in result.message
    assert result.steps[0].verdict == "error"
    assert standin.split("ranker", "ml").percent_by_image == {"ranker:v1": 100}


def test_a_re_run_of_the_promoted_image_changes_nothing(standin: KServeStandIn,
                                                       tmp_path: Path) -> None:
    assert _run(standin, tmp_path, ScriptedJudge("pass")).result == "promoted"
    writes = len(standin.writes())
    again = _run(standin, tmp_path, ScriptedJudge("fail"))
    assert (again.result, int(again.exit_code)) == ("promoted", 0)
    assert "nothing to do" in again.message
    assert len(standin.writes()) == writes


def test_a_mirror_or_a_standard_mode_service_is_refused_before_any_write(
        standin: KServeStandIn, tmp_path: Path) -> None:
    backend = _backend(standin, tmp_path)
    with pytest.raises(UsageError, match=r"rollout\.mirror: the KServe backend has no mirror"):
        backend.ensure_steps(WEIGHTS, MirrorConfig(route="m", percentage=10, scale=10))
    standin.add_inference_service("raw", "ml", annotations={
        "serving.kserve.io/deploymentMode": "RawDeployment"})
    raw = KServeBackend(backend.api, "raw", "ml", log=lambda _line: None)
    with pytest.raises(UsageError, match="canaryTrafficPercent works only in the serverless"):
        raw.ensure_steps(WEIGHTS)
    missing = KServeBackend(backend.api, "nope", "ml", log=lambda _line: None)
    with pytest.raises(UsageError, match=r"InferenceService ml/nope not found: "
                                         r"check rollout\.name"):
        missing.read()
    assert standin.writes() == []


POLICY = """\
model: ranker
rollout: {name: ranker, namespace: ml, steps: [10, 50], backend: kserve, MIRROR}
analysis:
  metrics:
    errors: {kind: threshold, query: 'errors{version="{{version}}"}', max: 0.05}
"""


def test_a_mirror_with_kserve_is_refused_at_policy_load(
        standin: KServeStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "modelrail.yaml"
    policy.write_text(POLICY.replace("MIRROR", "mirror: {route: m, percentage: 10}"),
                      encoding="utf-8")
    code = main(["canary", "run", "--image", "ranker:v2", "--version", "2",
                 "--baseline-version", "1", "--prometheus-url", "http://127.0.0.1:9",
                 "--config", str(policy),
                 "--kubeconfig", str(standin.write_kubeconfig(tmp_path / "kubeconfig"))])
    assert code == 2
    assert "rollout.mirror: the KServe backend has no mirror phase" in capsys.readouterr().err
    assert standin.writes() == []


def _started_at_10(standin: KServeStandIn, tmp_path: Path) -> None:
    """A canary of ranker:v2 at 10 %, started by a backend that is then gone (a cancelled
    `canary run`)."""
    backend = _backend(standin, tmp_path)
    backend.ensure_steps(WEIGHTS)
    backend.set_image("ranker:v2")
    clock = TickingClock()
    assert backend.wait([Condition.parse("weight=10")], 30, clock=clock,
                        sleep=clock.sleep).reached


def test_an_abort_from_another_process_restores_the_predictor_the_start_recorded(
        standin: KServeStandIn, tmp_path: Path) -> None:
    before = _predictor(standin)
    _started_at_10(standin, tmp_path)

    clock = TickingClock()
    outcome = _backend(standin, tmp_path).abort(clock=clock, sleep=clock.sleep)
    assert (outcome.changed, outcome.state.aborted) == (True, True)
    assert _percents(standin) == [10, 0]
    assert _predictor(standin) == {**before, "canaryTrafficPercent": 0}
    again = _backend(standin, tmp_path).abort(clock=clock, sleep=clock.sleep)
    assert (again.changed, again.state.aborted) == (False, True)
    assert "already aborted" in again.message
    assert len(standin.writes()) == 2  # the re-run sent nothing
    deadline = time.monotonic() + 10
    while standin.split("ranker", "ml").percent_by_image != {"ranker:v1": 100} \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    assert standin.split("ranker", "ml").percent_by_image == {"ranker:v1": 100}


def test_an_abort_with_no_canary_under_way_sends_nothing(standin: KServeStandIn,
                                                         tmp_path: Path) -> None:
    outcome = _backend(standin, tmp_path).abort()
    assert (outcome.changed, outcome.message) == (
        False, "nothing to abort: no canary is under way (canaryTrafficPercent is not set)")
    assert standin.writes() == []


def test_an_abort_without_the_start_record_is_refused_naming_the_annotation(
        standin: KServeStandIn, tmp_path: Path) -> None:
    backend = _backend(standin, tmp_path)
    kserve.set_canary_percent(backend.api, "ml", "ranker", 10)  # a canary started by hand
    writes = len(standin.writes())
    with pytest.raises(UsageError, match=f"no {kserve.CANARY_START} annotation"):
        _backend(standin, tmp_path).abort()
    assert len(standin.writes()) == writes
