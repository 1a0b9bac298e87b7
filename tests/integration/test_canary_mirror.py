"""`modelrail canary run` with a mirror phase (Argo Rollouts' setCanaryScale +
setMirrorRoute) against the live canary lab: real model servers, a real Prometheus, the
Rollouts stand-in, and a splitter that answers every user from the weight's side while
copying the active mirror's share of the requests to the canary (answers dropped).

The good canary passes the mirror phase (judged on mirrored copies only) and goes on
through 50 and 100 %; the miscalibrated one is aborted at the mirror step: the weight never
left 0 and no user request was answered by it. Steps last 15 s (about 2 min in all).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.builders.runner_files import parse_file_command
from tests.support.labs.canary import (
    FAULTY,
    GOOD,
    STABLE,
    Side,
    canary_json,
    canary_lab,
    lab_policy,
    run_canary,
    runner_env,
)
from tests.support.services.prometheus import prometheus_available
from tests.support.standins.rollouts import Mirror, RolloutsStandIn, Traffic

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not prometheus_available(), reason="needs prometheus")]

WEIGHTS = (50, 100)
MIRROR = Mirror(route="mirror", percentage=50, scale=50)


@dataclass(frozen=True)
class MirrorRun:
    exit_code: int
    result: dict[str, Any]
    answered: dict[tuple[str, int], int]  # user requests by (version, status)
    mirrored: dict[tuple[str, int], int]  # mirrored copies by (version, status)
    max_weight: int  # the highest weight any user request was split by
    traffic: Traffic  # the stand-in's split after the run


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner_env(tmp_path, monkeypatch)


def _run(tmp_path: Path, canary: Side) -> MirrorRun:
    with RolloutsStandIn() as standin, canary_lab(tmp_path / "lab", standin, stable=STABLE,
                                                  canary=canary, weights=WEIGHTS,
                                                  mirror=MIRROR) as lab:
        code = run_canary(lab, standin, canary, tmp_path,
                          lab_policy(steps=WEIGHTS, mirror=MIRROR))
        return MirrorRun(code, canary_json(tmp_path),
                         lab.counts(), lab.mirrored(), lab.max_weight(),
                         standin.traffic(lab.rollout))


def _steps(result: dict[str, Any]) -> list[tuple[int, int | None, str]]:
    return [(s["weight"], s["mirror"], s["verdict"]) for s in result["steps"]]


def test_a_good_canary_passes_the_mirror_phase_and_goes_on_to_100(tmp_path: Path) -> None:
    run = _run(tmp_path, GOOD)
    assert run.exit_code == 0, run.result
    assert _steps(run.result) == [(0, 50, "pass"), (50, None, "pass"), (100, None, "pass")]
    mirror_metrics = {m["name"]: m for m in run.result["steps"][0]["metrics"]}
    assert mirror_metrics["prediction_p90"]["canary"]["count"] >= 15  # mirrored copies
    assert run.mirrored.get(("2", 200), 0) > 0
    assert run.max_weight == 100  # users then reached it through the weights
    assert run.traffic.stable_image == GOOD.image
    assert run.traffic.mirror == 0  # the mirror route is gone
    assert run.result["users_saw_canary"] is True


def test_a_miscalibrated_canary_is_aborted_at_the_mirror_step_unseen_by_users(
        tmp_path: Path) -> None:
    run = _run(tmp_path, FAULTY)
    assert run.exit_code == 1, run.result
    assert _steps(run.result) == [(0, 50, "fail")]
    metrics = {m["name"]: m for m in run.result["steps"][0]["metrics"]}
    assert metrics["prediction_p90"]["outcome"] == "fail"
    assert metrics["error_rate"]["outcome"] == "pass"

    # the canary answered only mirrored copies; every user was answered by stable
    assert run.mirrored.get(("3", 200), 0) >= 15
    assert {version for version, _ in run.answered} == {"1"}, run.answered
    assert run.max_weight == 0
    assert (run.traffic.canary_weight, run.traffic.mirror) == (0, 0)
    assert run.result["users_saw_canary"] is False
    assert "no user request was answered by the canary" in run.result["message"]

    outputs = parse_file_command((tmp_path / "github_output").read_text())
    assert outputs == {"result": "aborted", "failed-step": "0", "weight": "0",
                       "baseline": "1"}
    summary = (tmp_path / "github_summary").read_text()
    assert "| mirror 50% | ❌ fail |" in summary
    assert "**no user request was answered by the canary**" in summary
