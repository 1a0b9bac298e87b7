"""The Rollouts stand-in's controller rules that are not about mirrors: pause durations
read as RolloutPause.DurationSeconds does (pkg/apis/rollouts/v1alpha1/types.go, Go's
time.ParseDuration), and an unparseable one refused as the validation does."""

from pathlib import Path
from typing import Any

import pytest
from modelrail.rollouts.driver import RolloutDriver
from modelrail.rollouts.kube import connect

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
