"""The Rollouts stand-in's controller rules that are not about mirrors: pause durations
read as RolloutPause.DurationSeconds does (pkg/apis/rollouts/v1alpha1/types.go, Go's
time.ParseDuration), and an unparseable one refused as the validation does; one step per
reconcile, the replica model and the progress deadline."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from modelrail.rollouts.driver import RolloutDriver
from modelrail.rollouts.kube import ROLLOUTS, connect

from tests.support.standins.rollouts import RolloutsStandIn, pause_seconds


@pytest.mark.parametrize(("duration", "seconds"), [
    (30, 30), ("90", 90), ("1h30m", 5400), ("1.5h", 5400), ("2m3s", 123), ("1.9s", 1),
    ("500ms", 0), ("0", 0), ("+10s", 10), (None, None),
    ("soon", -1), ("1d", -1), ("10 s", -1), ("", -1), ("1h30", -1), ("h", -1)])
def test_pause_durations_follow_go_duration_syntax(duration: Any, seconds: int | None) -> None:
    assert pause_seconds(duration) == seconds


@pytest.mark.parametrize(("duration", "phase"), [("1h30m", "Paused"), ("1x", "Degraded")])
def test_a_timed_pause_holds_and_an_unparseable_one_is_invalid(
        tmp_path: Path, duration: str, phase: str) -> None:
    steps: list[dict[str, Any]] = [{"setWeight": 10}, {"pause": {"duration": duration}},
                                   {"setWeight": 50}]
    with RolloutsStandIn() as standin:
        standin.add_rollout("ranker", "ml", image="ranker:v1", steps=steps)
        api = connect(str(standin.write_kubeconfig(tmp_path / "kc"))).api
        RolloutDriver(api, "ranker", "ml", log=lambda _line: None).set_image("ranker:v2")
        standin.settle()
        status = standin.rollout("ranker", "ml")["status"]
        assert status["phase"] == phase
        if phase == "Degraded":
            assert status["message"] == (
                'InvalidSpec: The Rollout "ranker" is invalid: spec.strategy.canary.steps[1]'
                ".pause.duration: Invalid value: -1: Duration needs to be greater than 0")


@contextmanager
def _stand_in(tmp_path: Path, steps: list[dict[str, Any]], **options: Any
              ) -> Iterator[tuple[RolloutsStandIn, Any]]:
    """A stand-in that reconciles only on reads (no stale read), with a Rollout, and an
    API client for it."""
    seed = {k: options.pop(k) for k in ("replicas", "progress_deadline",
                                        "progress_deadline_abort") if k in options}
    with RolloutsStandIn(controller_delay=3600, stale_reads=0, **options) as standin:
        standin.add_rollout("ranker", "ml", image="ranker:v1", steps=steps, **seed)
        yield standin, connect(str(standin.write_kubeconfig(tmp_path / "kc"))).api


def _set_image(api: Any, image: str = "ranker:v2") -> None:
    api.json_patch(ROLLOUTS, "ml", "ranker", [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}])


def test_each_reconcile_completes_at_most_one_step_and_writes_its_status(
        tmp_path: Path) -> None:
    """syncRolloutStatusCanary (rollout/canary.go) increments currentStepIndex once and
    persists: every step index is written, the pause condition comes a reconcile later."""
    steps: list[dict[str, Any]] = [{"setWeight": 10}, {"setWeight": 20}, {"setWeight": 30},
                                   {"pause": {}}]
    with _stand_in(tmp_path, steps, readiness_delay=0) as (_, api):
        _set_image(api)
        seen = []
        for _ in range(10):  # each read is one reconcile here
            status = api.get(ROLLOUTS, "ml", "ranker")["status"]
            seen.append((status["currentStepIndex"], bool(status.get("pauseConditions"))))
            if status.get("pauseConditions"):
                break
    assert seen == [(0, False), (1, False), (2, False), (3, False), (3, True)]


def test_replica_counts_follow_the_weight_and_set_canary_scale(tmp_path: Path) -> None:
    """CalculateReplicaCountsForTrafficRoutedCanary and UseSetCanaryScale
    (utils/replicaset/canary.go): setCanaryScale{weight: 50} scales the canary to half of
    spec.replicas at weight 0, {matchTrafficWeight: true} at weight 0 to no pod, and a
    setWeight of 25 to ceil(25 % x 4) pods while the stable keeps all 4."""
    steps: list[dict[str, Any]] = [{"setCanaryScale": {"weight": 50}}, {"pause": {}},
                                   {"setCanaryScale": {"matchTrafficWeight": True}},
                                   {"pause": {}}, {"setWeight": 25}, {"pause": {}}]
    with _stand_in(tmp_path, steps, replicas=4) as (standin, api):
        _set_image(api)
        counts = []
        for _ in range(3):
            standin.settle()
            status = standin.rollout("ranker", "ml")["status"]
            counts.append((status["currentStepIndex"], status["updatedReplicas"],
                           status["availableReplicas"], status["replicas"],
                           standin.weight("ranker", "ml")))
            api.patch(ROLLOUTS, "ml", "ranker", {"status": {"pauseConditions": None}},
                      subresource="status")
    assert counts == [(1, 2, 6, 6, 0), (3, 0, 4, 4, 0), (5, 1, 5, 5, 25)]


def test_healthy_waits_until_every_new_pod_is_available(tmp_path: Path) -> None:
    """shouldFullPromote (rollout/sync.go) makes the new revision stable only once all its
    pods are available, and CalculateRolloutPhase (utils/rollout/rolloututil.go) says
    Healthy only then: after promoteFull the canary scales up first."""
    with _stand_in(tmp_path, [{"setWeight": 50}, {"pause": {}}],
                             readiness_delay=0.5) as (standin, api):
        _set_image(api)
        standin.settle()
        api.patch(ROLLOUTS, "ml", "ranker", {"status": {"promoteFull": True}},
                  subresource="status")
        scaling = api.get(ROLLOUTS, "ml", "ranker")["status"]
        assert scaling["phase"] == "Progressing"
        assert scaling["stableRS"] != scaling["currentPodHash"]
        assert (scaling["updatedReplicas"], scaling["availableReplicas"]) == (2, 3)
        time.sleep(0.6)
        done = api.get(ROLLOUTS, "ml", "ranker")["status"]
        assert (done["phase"], done["stableRS"]) == ("Healthy", done["currentPodHash"])
        standin.settle()  # the old stable scaled down
        done = standin.rollout("ranker", "ml")["status"]
    assert (done["replicas"], done["updatedReplicas"], done["availableReplicas"]) == (2, 2, 2)


@pytest.mark.parametrize("abort", [False, True])
def test_canary_pods_that_never_get_ready_exceed_the_progress_deadline(
        tmp_path: Path, abort: bool) -> None:
    """calculateRolloutConditions and evaluateProgressDeadlineAbort (rollout/sync.go),
    RolloutTimedOut (utils/conditions/conditions.go): no progress at a setWeight step for
    progressDeadlineSeconds sets Progressing=False/ProgressDeadlineExceeded (Degraded),
    or with progressDeadlineAbort aborts the update; the weight never left 0."""
    with _stand_in(tmp_path, [{"setWeight": 10}, {"pause": {}}],
                             progress_deadline=1, progress_deadline_abort=abort) as (standin, api):
        standin.never_ready("ranker:v2")
        _set_image(api)
        deadline = time.monotonic() + 5
        status = api.get(ROLLOUTS, "ml", "ranker")["status"]
        while status["phase"] != "Degraded" and time.monotonic() < deadline:
            time.sleep(0.1)
            status = api.get(ROLLOUTS, "ml", "ranker")["status"]
        standin.settle()  # after an abort the canary is scaled down
        status = standin.rollout("ranker", "ml")["status"]
        weight = standin.weight("ranker", "ml")
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    timed_out = f'ReplicaSet "ranker-{status["currentPodHash"]}" has timed out progressing.'
    assert (status["phase"], status["currentStepIndex"], weight) == ("Degraded", 0, 0)
    assert (status["updatedReplicas"], status["availableReplicas"]) == (
        (0, 2) if abort else (1, 2))
    if abort:
        assert status["abort"] is True
        assert (progressing["reason"], progressing["message"]) == (
            "RolloutAborted", f"Rollout aborted update to revision 2: {timed_out}")
    else:
        assert "abort" not in status
        assert (progressing["status"], progressing["reason"], progressing["message"]) == (
            "False", "ProgressDeadlineExceeded", timed_out)
