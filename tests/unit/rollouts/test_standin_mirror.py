"""The Rollouts stand-in's emulation of setCanaryScale and setMirrorRoute, through the real
`kubernetes` client and modelrail's driver: the steps pass at once, the mirror follows the
step index, an abort or the end removes it, and a route that is not managed is refused;
`modelrail rollout` checks a policy's mirror phase as `canary run` does."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from modelrail.cli.main import main
from modelrail.rollouts.driver import RolloutDriver
from modelrail.rollouts.kube import connect

from tests.support.standins.rollouts import Mirror, RolloutsStandIn

MIRROR = Mirror(route="mirror", percentage=35, scale=25)


@pytest.fixture
def standin() -> Iterator[RolloutsStandIn]:
    with RolloutsStandIn() as server:
        server.add_rollout("ranker", "ml", image="ranker:v1", weights=(10, 100), mirror=MIRROR)
        yield server


def _driver(standin: RolloutsStandIn, tmp_path: Path) -> RolloutDriver:
    api = connect(str(standin.write_kubeconfig(tmp_path / "kubeconfig"))).api
    return RolloutDriver(api, "ranker", "ml", log=lambda _line: None)


def test_the_new_revision_goes_straight_to_the_mirror_pause_at_weight_0(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    assert standin.traffic("ranker", "ml").mirror == 0  # stable: no mirror
    driver = _driver(standin, tmp_path)
    driver.set_image("ranker:v2")
    standin.settle()
    state = driver.read()
    assert (state.step_index, state.phase, state.weight, state.mirror) == (2, "Paused", 0, 35)
    traffic = standin.traffic("ranker", "ml")
    assert (traffic.canary_image, traffic.canary_weight, traffic.mirror) == ("ranker:v2", 0, 35)
    status = standin.rollout("ranker", "ml")["status"]
    assert status["canary"]["weights"]["canary"]["weight"] == 0
    assert not any("mirror" in key.lower() for key in status)  # nothing invented in status

    driver.promote()  # out of the mirror pause: remove the route, then setWeight 10
    standin.settle()
    state = driver.read()
    assert (state.step_index, state.weight, state.mirror) == (6, 10, 0)
    assert standin.traffic("ranker", "ml").mirror == 0


def test_an_abort_removes_the_mirror(standin: RolloutsStandIn, tmp_path: Path) -> None:
    driver = _driver(standin, tmp_path)
    driver.set_image("ranker:v2")
    standin.settle()
    assert standin.traffic("ranker", "ml").mirror == 35
    driver.abort()
    standin.settle()
    traffic = standin.traffic("ranker", "ml")
    assert (traffic.canary_weight, traffic.mirror) == (0, 0)


def test_a_full_promotion_removes_the_mirror(standin: RolloutsStandIn, tmp_path: Path) -> None:
    driver = _driver(standin, tmp_path)
    driver.set_image("ranker:v2")
    standin.settle()
    driver.promote(full=True)
    standin.settle()
    traffic = standin.traffic("ranker", "ml")
    assert (traffic.stable_image, traffic.canary_weight, traffic.mirror) == \
        ("ranker:v2", 100, 0)


@pytest.mark.parametrize(("routes", "routing", "why"), [
    ((), True, 'steps[1].setMirrorRoute: Invalid value: "mirror": Steps define a route that '
               "does not exist in spec.strategy.canary.trafficRouting.managedRoutes"),
    (None, False, "SetCanaryScale requires TrafficRouting"),
    (None, {"nginx": {"stableIngress": "ranker"}},
     "steps[1].setMirrorRoute: Invalid value: SetMirrorRoute requires TrafficRouting, "
     "supports Istio only"),
])
def test_an_unmanaged_route_is_refused_by_the_controller(
        tmp_path: Path, routes: tuple[str, ...] | None, routing: bool | dict[str, object],
        why: str) -> None:
    with RolloutsStandIn() as standin:
        standin.add_rollout("ranker", "ml", weights=(10, 100), mirror=MIRROR,
                            managed_routes=routes, traffic_routing=routing)
        state = _driver(standin, tmp_path).read()
        assert state.phase == "Degraded"
        assert state.message.startswith('InvalidSpec: The Rollout "ranker" is invalid: ')
        assert why in state.message
        assert standin.traffic("ranker", "ml").mirror == 0


@pytest.mark.parametrize(("mirror", "code"), [
    (", mirror: {route: mirror, percentage: 35, scale: 25}", 0), ("", 2)])
def test_the_rollout_commands_check_the_policys_mirror_steps(
        standin: RolloutsStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        mirror: str, code: int) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    policy = tmp_path / "modelrail.yaml"
    policy.write_text(f"rollout: {{name: ranker, namespace: ml, steps: [10, 100]{mirror}}}\n",
                      encoding="utf-8")
    kubeconfig = str(standin.write_kubeconfig(tmp_path / "kubeconfig"))
    assert main(["rollout", "status", "--config", str(policy), "--kubeconfig", kubeconfig,
                 "--check-steps"]) == code
    assert main(["rollout", "set-image", "--config", str(policy), "--kubeconfig", kubeconfig,
                 "--image", "ranker:v2"]) == code
    standin.settle()
    assert standin.traffic("ranker", "ml").mirror == (35 if code == 0 else 0)
