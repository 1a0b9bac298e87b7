"""`restore_serving` against the Rollouts stand-in: a fully promoted bad version is replaced
by the image of the version the environment holds after the registry rollback (set-image,
promote --full once the controller has seen the template, Healthy); anything short of that
exits non-zero. `restore_traffic` does the same through the Istio and KServe backends."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelrail.canary.restore import restore_serving, restore_traffic
from modelrail.errors import ExitCode, ModelrailError
from modelrail.registry.client import VersionInfo
from modelrail.rollouts.backend import Condition
from modelrail.rollouts.driver import RolloutDriver
from modelrail.rollouts.istio_backend import IstioBackend
from modelrail.rollouts.kserve_backend import KServeBackend
from modelrail.rollouts.kube import connect
from modelrail.rollouts.policy import IstioConfig

from tests.support.standins.kserve import KServeStandIn
from tests.support.standins.kube_api import MERGE_PATCH, isolated_cluster_env
from tests.support.standins.rollouts import RolloutsStandIn

GOOD = f"ghcr.io/acme/ranker@sha256:{'1' * 64}"
DRIFTED = f"ghcr.io/acme/ranker@sha256:{'2' * 64}"
PREVIOUS = VersionInfo("ranker", 1, tags={"image": GOOD})


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_cluster_env(monkeypatch, "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")


@pytest.fixture
def standin() -> Iterator[RolloutsStandIn]:
    with RolloutsStandIn() as server:
        server.add_rollout("ranker", "ml", image=GOOD, weights=(10, 50, 100))
        yield server


def _driver(standin: RolloutsStandIn, tmp_path: Path) -> RolloutDriver:
    kubeconfig = str(standin.write_kubeconfig(tmp_path / "kubeconfig"))
    return RolloutDriver(connect(kubeconfig).api, "ranker", "ml", log=lambda _line: None)


def _promoted_drifted(standin: RolloutsStandIn, driver: RolloutDriver) -> None:
    """Version 2 (DRIFTED) fully promoted, as after a successful canary."""
    driver.set_image(DRIFTED)
    standin.settle()
    driver.promote(full=True)
    standin.settle()
    state = driver.read()
    assert (state.fully_promoted, state.phase, state.images) == \
        (True, "Healthy", {"server": DRIFTED})


def test_a_fully_promoted_bad_version_is_replaced_by_the_previous_image(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    driver = _driver(standin, tmp_path)
    _promoted_drifted(standin, driver)
    assert driver.abort().changed is False  # what the monitor's abort does: nothing
    standin.clear_requests()

    restored = restore_serving(driver, PREVIOUS, "prod", timeout=30, interval=0.05)

    rollout = standin.rollout("ranker", "ml")
    assert rollout["spec"]["template"]["spec"]["containers"][0]["image"] == GOOD
    assert rollout["status"]["phase"] == "Healthy"
    assert rollout["status"]["stableRS"] == rollout["status"]["currentPodHash"]
    assert standin.traffic("ranker", "ml").stable_image == GOOD
    assert restored.changed
    assert restored.state.phase == "Healthy"
    assert restored.message == (f"serving rolled back: rollout ml/ranker runs {GOOD}, ranker "
                                "version 1 (what prod holds), for all traffic and is Healthy")
    # set-image, then promote --full only once the controller had seen the template
    writes = standin.writes()
    assert [w.content_type for w in writes] == ["application/json-patch+json", MERGE_PATCH]
    assert writes[1].body == {"status": {"promoteFull": True}}


def test_a_re_run_changes_nothing(standin: RolloutsStandIn, tmp_path: Path) -> None:
    driver = _driver(standin, tmp_path)
    _promoted_drifted(standin, driver)
    restore_serving(driver, PREVIOUS, "prod", timeout=30, interval=0.05)
    standin.clear_requests()

    again = restore_serving(driver, PREVIOUS, "prod", timeout=30, interval=0.05)

    assert not again.changed
    assert again.message.startswith("serving already restored")
    assert standin.writes() == []


def test_an_aborted_canary_needs_nothing(standin: RolloutsStandIn, tmp_path: Path) -> None:
    driver = _driver(standin, tmp_path)
    driver.set_image(DRIFTED)
    standin.settle()
    driver.abort()
    standin.settle()
    standin.clear_requests()

    restored = restore_serving(driver, PREVIOUS, "prod", timeout=30, interval=0.05)

    assert not restored.changed
    assert "is aborted" in restored.message
    assert standin.writes() == []


def _failure(driver: RolloutDriver, version: VersionInfo = PREVIOUS) -> ModelrailError:
    with pytest.raises(ModelrailError) as raised:
        restore_serving(driver, version, "prod", timeout=30, interval=0.05)
    return raised.value


def test_fails_closed(standin: RolloutsStandIn, tmp_path: Path) -> None:
    driver = _driver(standin, tmp_path)
    _promoted_drifted(standin, driver)

    untagged = _failure(driver, VersionInfo("ranker", 1))
    assert untagged.exit_code == ExitCode.USAGE
    assert "ranker version 1 (what prod holds) has no `image` tag" in str(untagged)
    assert standin.rollout("ranker", "ml")["spec"]["template"]["spec"]["containers"][0][
        "image"] == DRIFTED

    standin.fail_next(100)  # the API server keeps failing: exit 3, no traceback
    assert _failure(driver).exit_code == ExitCode.SERVICE


def test_a_rollout_mid_update_is_refused(standin: RolloutsStandIn, tmp_path: Path) -> None:
    driver = _driver(standin, tmp_path)
    driver.set_image(DRIFTED)
    standin.settle()
    standin.clear_requests()

    refused = _failure(driver)

    assert refused.exit_code == ExitCode.REJECTED
    assert "abort it first" in str(refused)
    assert standin.writes() == []


def test_a_controller_that_never_acts_is_a_service_failure(standin: RolloutsStandIn,
                                                           tmp_path: Path) -> None:
    driver = _driver(standin, tmp_path)
    _promoted_drifted(standin, driver)
    standin.controller_delay, standin.stale_reads = 3600.0, None  # it never reconciles
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(ModelrailError) as raised:
        restore_serving(driver, PREVIOUS, "prod", clock=lambda: now[0], sleep=sleep)

    assert raised.value.exit_code == ExitCode.SERVICE
    assert "did not observe the image" in str(raised.value)
    assert [w.body for w in standin.writes() if w.content_type == MERGE_PATCH] == \
        [{"status": {"promoteFull": True}}]  # only _promoted_drifted's: none sent blind


# -- the other traffic backends (restore_traffic) ------------------------------------------


def _istio(standin: RolloutsStandIn, tmp_path: Path) -> IstioBackend:
    kubeconfig = str(standin.write_kubeconfig(tmp_path / "kubeconfig"))
    config = IstioConfig(virtual_service="ranker", route="primary",
                         stable_deployment="ranker", canary_deployment="ranker-canary")
    return IstioBackend(connect(kubeconfig).api, "ranker", "ml", config,
                        log=lambda _line: None, sleep=lambda _seconds: time.sleep(0.02))


def _kserve(standin: KServeStandIn, tmp_path: Path) -> KServeBackend:
    kubeconfig = str(standin.write_kubeconfig(tmp_path / "kubeconfig"))
    return KServeBackend(connect(kubeconfig).api, "ranker", "ml", log=lambda _line: None)


def _fully_promoted(backend: IstioBackend | KServeBackend, image: str) -> None:
    """`image` serving all traffic, as after a canary that passed every step."""
    backend.set_image(image)
    backend.promote(full=True)
    assert backend.wait([Condition("healthy")], 30, 0.05).state.fully_promoted


def test_istio_a_promoted_bad_version_goes_back_through_the_stable_deployment(
        tmp_path: Path) -> None:
    with RolloutsStandIn(mesh_delay=0.05, readiness_delay=0.05) as standin:
        standin.add_istio_app("ranker", "ml", image=GOOD)
        _fully_promoted(_istio(standin, tmp_path), DRIFTED)

        restored = restore_traffic(_istio(standin, tmp_path), PREVIOUS, "prod", timeout=30,
                                   interval=0.05)

        assert (restored.changed, restored.state.fully_promoted) == (True, True)
        assert restored.message == (f"serving rolled back: ml/ranker runs {GOOD}, ranker "
                                    "version 1 (what prod holds), for all traffic and is "
                                    "Healthy")
        traffic = standin.istio_traffic("ranker", "ml")
        assert (traffic.stable_image, traffic.canary_weight) == (GOOD, 0)
        again = restore_traffic(_istio(standin, tmp_path), PREVIOUS, "prod", timeout=30,
                                interval=0.05)
        assert again.message.startswith("serving already restored")


def test_kserve_a_promoted_bad_version_gets_a_revision_of_the_previous_image(
        tmp_path: Path) -> None:
    with KServeStandIn(controller_delay=0.02, readiness_delay=0.05) as standin:
        standin.add_inference_service("ranker", "ml", image=GOOD)
        _fully_promoted(_kserve(standin, tmp_path), DRIFTED)

        restored = restore_traffic(_kserve(standin, tmp_path), PREVIOUS, "prod",
                                   timeout=30, interval=0.05)

        assert restored.changed
        assert standin.split("ranker", "ml").percent_by_image == {GOOD: 100}
        predictor = standin.inference_service("ranker", "ml")["spec"]["predictor"]
        assert "canaryTrafficPercent" not in predictor


def test_kserve_an_aborted_canary_needs_nothing_and_one_with_traffic_is_refused(
        tmp_path: Path) -> None:
    with KServeStandIn(controller_delay=0.02, readiness_delay=0.05) as standin:
        standin.add_inference_service("ranker", "ml", image=GOOD)
        backend = _kserve(standin, tmp_path)
        backend.ensure_steps((10, 100))
        backend.set_image(DRIFTED)
        assert backend.wait([Condition("weight", "10")], 30, 0.05).reached
        writes = len(standin.writes())

        with pytest.raises(ModelrailError) as refused:
            restore_traffic(_kserve(standin, tmp_path), PREVIOUS, "prod", timeout=30,
                            interval=0.05)
        assert refused.value.exit_code == ExitCode.REJECTED
        assert "still sends the canary 10%" in str(refused.value)
        _kserve(standin, tmp_path).abort(sleep=lambda _s: time.sleep(0.05))
        standin.settle()
        restored = restore_traffic(_kserve(standin, tmp_path), PREVIOUS, "prod",
                                   timeout=30, interval=0.05)
        assert not restored.changed
        assert "sends the canary no traffic" in restored.message
        assert len(standin.writes()) == writes + 1  # the abort's, nothing else
