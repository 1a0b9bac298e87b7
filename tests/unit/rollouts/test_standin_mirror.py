"""The Rollouts stand-in's emulation of setCanaryScale and setMirrorRoute, through the real
`kubernetes` client and modelrail's driver: the steps pass at once, the mirror step writes
its route into the Istio VirtualService (first, with its match, mirror and percentage),
an abort, the end or a canary without pods removes it and a passed step never writes it
again, Istio mirrors only the requests the route matches, and a route that is not managed
is refused; `modelrail rollout` checks a policy's mirror phase as `canary run` does."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from modelrail.cli.main import main
from modelrail.errors import UsageError
from modelrail.rollouts.driver import RolloutDriver
from modelrail.rollouts.kube import VIRTUAL_SERVICES, connect

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


# -- the Istio VirtualService (standins/istio.py) ----------------------------------------


def _routes(standin: RolloutsStandIn, tmp_path: Path) -> list[dict[str, object]]:
    """spec.http as a client reads it back through the API."""
    api = connect(str(standin.write_kubeconfig(tmp_path / "kubeconfig"))).api
    routes: list[dict[str, object]] = api.get(VIRTUAL_SERVICES, "ml", "ranker")["spec"]["http"]
    return routes


def test_the_mirror_step_writes_its_route_first_in_the_virtual_service(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    (primary,) = _routes(standin, tmp_path)
    assert primary["name"] == "primary"
    _driver(standin, tmp_path).set_image("ranker:v2")
    standin.settle()
    mirror, after = _routes(standin, tmp_path)
    assert mirror == {"name": "mirror",
                      "match": [{"method": {"exact": "POST"}, "uri": {"prefix": "/predict"}}],
                      "route": primary["route"], "mirror": {"host": "ranker", "subset": "canary"},
                      "mirrorPercentage": {"value": 35.0}}
    assert after == primary


def test_a_route_removed_after_its_step_is_not_written_again(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    driver = _driver(standin, tmp_path)
    driver.set_image("ranker:v2")
    standin.settle()
    assert driver.mirror_problem("mirror") == ""
    standin.remove_managed_routes("ranker", "ml")  # the canary's pods went away
    for _ in range(3):
        state = driver.read()
    standin.settle()
    assert [route["name"] for route in _routes(standin, tmp_path)] == ["primary"]
    assert (state.step_index, state.paused, state.mirror) == (2, True, 35)  # steps say 35
    assert standin.traffic("ranker", "ml").mirror == 0
    assert driver.mirror_problem("mirror") == ("VirtualService ml/ranker: the mirror route "
                                               "'mirror' vanished (routes now: primary)")


@pytest.mark.parametrize(("match", "request_", "share"), [
    (None, ("POST", "/predict", {}), 35.0),
    (None, ("GET", "/metrics", {}), 0.0),
    (({"headers": {"x-mirror": {"exact": "yes"}}},), ("POST", "/predict", {"X-Mirror": "yes"}),
     35.0),
    (({"headers": {"x-mirror": {"exact": "yes"}}},), ("POST", "/predict", {}), 0.0),
])
def test_istio_mirrors_only_the_requests_the_route_matches(
        tmp_path: Path, match: tuple[dict[str, object], ...] | None,
        request_: tuple[str, str, dict[str, str]], share: float) -> None:
    mirror = MIRROR if match is None else Mirror(route="mirror", percentage=35, scale=25,
                                                 match=match)
    with RolloutsStandIn() as standin:
        standin.add_rollout("ranker", "ml", image="ranker:v1", weights=(10, 100), mirror=mirror)
        _driver(standin, tmp_path).set_image("ranker:v2")
        standin.settle()
        assert standin.traffic("ranker", "ml").mirrored(*request_) == share


def test_reading_the_virtual_service_needs_get_on_it(standin: RolloutsStandIn,
                                                     tmp_path: Path) -> None:
    driver = _driver(standin, tmp_path)
    standin.forbid("get", "virtualservices")
    with pytest.raises(UsageError) as refused:
        driver.mirror_problem("mirror")
    assert "may not get virtualservices.networking.istio.io in namespace ml" in str(refused.value)
    assert "resources: [virtualservices], verbs: [get]" in str(refused.value)
