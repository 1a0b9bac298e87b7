"""The Istio traffic backend: its JSON patches (pure), the route it refuses, the state it
reads, and the canary loop driving it against the stand-in's istiod and Deployments."""

import copy
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelrail.canary.loop import CanaryPlan, CanaryResult, CanaryRun
from modelrail.cli.main import main
from modelrail.errors import UsageError
from modelrail.rollouts.backend import Condition
from modelrail.rollouts.istio_backend import IstioBackend
from modelrail.rollouts.istio_routes import (
    IstioObjects,
    istio_state,
    mirror_patch,
    owned_route,
    reconcile_pending,
    weights_patch,
)
from modelrail.rollouts.kube import DEPLOYMENTS, VIRTUAL_SERVICES, connect
from modelrail.rollouts.policy import IstioConfig, MirrorConfig

from tests.support.paths import EXAMPLE_MODEL
from tests.support.standins import istio
from tests.support.standins.kube_api import isolated_cluster_env
from tests.support.standins.rollouts import RolloutsStandIn
from tests.unit.canary.fakes import FakeClock, ScriptedJudge

CONFIG = IstioConfig(virtual_service="ranker", route="primary", stable_deployment="ranker",
                     canary_deployment="ranker-canary")
WEIGHTS = (10, 50, 100)
VS_PATH = "/apis/networking.istio.io/v1/namespaces/ml/virtualservices/ranker"


def _vs(**route: Any) -> dict[str, Any]:
    spec = istio.virtual_service_spec("ranker")
    spec["http"].insert(0, {"name": "header-canary", "route": [
        {"destination": {"host": "ranker", "subset": "canary"}}]})
    spec["http"][1].update(route)
    return {"metadata": {"generation": 3}, "spec": spec,
            "status": istio.reconciled_status(3)}


def test_a_step_is_a_json_patch_of_the_owned_route_guarded_by_its_name_and_subsets() -> None:
    owned = owned_route(_vs(), CONFIG, "ml/ranker")
    assert (owned.index, owned.stable, owned.canary, owned.canary_weight) == (1, 0, 1, 0)
    assert weights_patch(owned, CONFIG, 25) == [
        {"op": "test", "path": "/spec/http/1/name", "value": "primary"},
        {"op": "test", "path": "/spec/http/1/route/0/destination/subset", "value": "stable"},
        {"op": "test", "path": "/spec/http/1/route/1/destination/subset", "value": "canary"},
        {"op": "add", "path": "/spec/http/1/route/0/weight", "value": 75},
        {"op": "add", "path": "/spec/http/1/route/1/weight", "value": 25}]


def test_the_mirror_is_written_with_the_weights_at_0_and_removed_by_the_next_step() -> None:
    owned = owned_route(_vs(), CONFIG, "ml/ranker")
    assert mirror_patch(owned, CONFIG, 35)[-2:] == [
        {"op": "add", "path": "/spec/http/1/mirror",
         "value": {"host": "ranker", "subset": "canary"}},
        {"op": "add", "path": "/spec/http/1/mirrorPercentage", "value": {"value": 35}}]
    mirrored = owned_route(_vs(mirror={"host": "ranker", "subset": "canary"},
                               mirrorPercentage={"value": 35.0}), CONFIG, "ml/ranker")
    assert mirrored.mirror == 35
    assert weights_patch(mirrored, CONFIG, 10)[-2:] == [
        {"op": "remove", "path": "/spec/http/1/mirror"},
        {"op": "remove", "path": "/spec/http/1/mirrorPercentage"}]


@pytest.mark.parametrize(("vs", "message"), [
    ({"spec": {"http": [{"name": "other"}]}},
     "has no HTTP route named 'primary' .*its routes: other"),
    (_vs(route=[{"destination": {"host": "ranker", "subset": "v1"}, "weight": 100}]),
     r"routes to subsets \['v1'\]; modelrail needs exactly two destinations"),
    (_vs(route=[{"destination": {"host": "a", "subset": "stable"}, "weight": 100},
                {"destination": {"host": "b", "subset": "canary"}}]),
     "must be on one host"),
])
def test_a_route_that_is_not_the_two_subsets_is_refused(vs: dict[str, Any],
                                                        message: str) -> None:
    with pytest.raises(UsageError, match=message):
        owned_route(vs, CONFIG, "ml/ranker")


def test_a_weight_counts_only_once_istiod_reports_its_generation_reconciled() -> None:
    vs = _vs()
    assert reconcile_pending(vs) == ""
    vs["metadata"]["generation"] = 4
    assert "has not reported generation 4 Reconciled yet (it last observed 3)" in \
        reconcile_pending(vs)
    del vs["status"]
    assert "PILOT_ENABLE_STATUS" in reconcile_pending(vs)
    deployment = {"metadata": {"generation": 1}, "spec": {"replicas": 1, "template": {}},
                  "status": istio.deployment_status(
                      {"metadata": {"generation": 1}, "spec": {"replicas": 1}})}
    state = istio_state(IstioObjects(vs, deployment, deployment), CONFIG,
                        ref=("ml", "ranker"))
    assert (state.observed, state.phase) == (False, "Progressing")
    relaxed = istio_state(IstioObjects(vs, deployment, deployment),
                          replace(CONFIG, require_status=False),
                          ref=("ml", "ranker"))
    assert (relaxed.observed, relaxed.phase, relaxed.fully_promoted) == \
        (True, "Healthy", True)


# -- against the stand-in ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_cluster_env(monkeypatch)


@pytest.fixture
def standin() -> Iterator[RolloutsStandIn]:
    with RolloutsStandIn(mesh_delay=0.05, readiness_delay=0.05) as server:
        server.add_istio_app("ranker", "ml", image="ranker:v1")
        yield server


class TickingClock(FakeClock):
    """A fake clock whose every sleep also lets `real` seconds pass: the stand-in's delays
    run in real time, so however fast the loop's ticks, they reach them."""

    def __init__(self, real: float = 0.005) -> None:
        super().__init__()
        self.real = real

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        time.sleep(self.real)


def _backend(standin: RolloutsStandIn, tmp_path: Path, clock: FakeClock) -> IstioBackend:
    api = connect(str(standin.write_kubeconfig(tmp_path / "kubeconfig"))).api
    return IstioBackend(api, "ranker", "ml", CONFIG, log=lambda _line: None, clock=clock,
                        sleep=clock.sleep)


def _run(standin: RolloutsStandIn, tmp_path: Path, judge: ScriptedJudge,
         mirror: MirrorConfig | None = None, clock: FakeClock | None = None) -> CanaryResult:
    clock = clock or TickingClock()
    plan = CanaryPlan(image="ranker:v2", version="2", baseline="1",
                      baseline_source="--baseline-version", weights=WEIGHTS,
                      step_seconds=10.0, looks=len(WEIGHTS) + (1 if mirror else 0),
                      extra_seconds=10.0, interval=2.0, mirror=mirror)
    return CanaryRun(_backend(standin, tmp_path, clock), judge, plan,
                     log=lambda _line: None, clock=clock, sleep=clock.sleep).run()


def _canary_weights(standin: RolloutsStandIn) -> list[int]:
    """The canary weight of each VirtualService patch, in order."""
    return [op["value"] for r in standin.writes() if r.path == VS_PATH
            for op in r.body if op["path"] == "/spec/http/0/route/1/weight"]


def _images(standin: RolloutsStandIn, name: str) -> str:
    spec = standin.get("deployments", "ml", name)["spec"]
    return str(spec["template"]["spec"]["containers"][0]["image"])


def test_a_good_canary_steps_through_the_weights_and_the_stable_subset_takes_its_image(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    judge = ScriptedJudge("pass")
    result = _run(standin, tmp_path, judge)
    assert (result.result, int(result.exit_code), result.weight) == ("promoted", 0, 100)
    assert [(s.weight, s.verdict) for s in result.steps] == [(10, "pass"), (50, "pass"),
                                                             (100, "pass")]
    assert _canary_weights(standin) == [10, 50, 100, 0]
    assert (_images(standin, "ranker-canary"), _images(standin, "ranker")) == \
        ("ranker:v2", "ranker:v2")
    # the stable Deployment was patched before the traffic went back to it
    paths = [r.path.rsplit("/", 1)[-1] for r in standin.writes()]
    assert paths == ["ranker-canary", "ranker", "ranker", "ranker", "ranker", "ranker"]
    assert [r.path for r in standin.writes()][-2:] == [
        "/apis/apps/v1/namespaces/ml/deployments/ranker", VS_PATH]
    traffic = standin.istio_traffic("ranker", "ml")
    assert (traffic.stable_image, traffic.canary_weight) == ("ranker:v2", 0)
    assert "promoted" in result.message


def test_a_failing_canary_puts_all_traffic_back_on_stable(standin: RolloutsStandIn,
                                                          tmp_path: Path) -> None:
    result = _run(standin, tmp_path, ScriptedJudge("pass", "fail"))
    assert (result.result, int(result.exit_code), result.weight) == ("aborted", 1, 0)
    assert (result.failed_weight, _canary_weights(standin)) == (50, [10, 50, 0])
    assert "traffic is back on stable" in result.message
    assert _images(standin, "ranker") == "ranker:v1"
    assert standin.istio_traffic("ranker", "ml").canary_weight == 0


def test_the_mirror_phase_mirrors_at_weight_0_and_ends_with_the_first_weight(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    mirror = MirrorConfig(route="primary", percentage=35, scale=35)
    result = _run(standin, tmp_path, ScriptedJudge("pass", "fail"), mirror)
    assert [(s.weight, s.mirror, s.verdict) for s in result.steps] == \
        [(0, 35, "pass"), (10, None, "fail")]
    bodies = [r.body for r in standin.writes() if r.path == VS_PATH]
    assert {"op": "add", "path": "/spec/http/0/mirrorPercentage",
            "value": {"value": 35}} in bodies[0]
    assert {"op": "remove", "path": "/spec/http/0/mirror"} in bodies[1]
    assert "mirror" not in standin.get(istio.PLURAL, "ml", "ranker")["spec"]["http"][0]


def test_weights_changed_by_someone_else_stop_the_run(standin: RolloutsStandIn,
                                                      tmp_path: Path) -> None:
    class Meddler(ScriptedJudge):
        def look(self, look: int, looks: int, held: float) -> Any:
            api = connect(str(tmp_path / "kubeconfig")).api
            api.json_patch(VIRTUAL_SERVICES, "ml", "ranker", [
                {"op": "replace", "path": "/spec/http/0/route/0/weight", "value": 100},
                {"op": "replace", "path": "/spec/http/0/route/1/weight", "value": 0}])
            return super().look(look, looks, held)

    result = _run(standin, tmp_path, Meddler("pass"))
    assert (result.result, int(result.exit_code)) == ("aborted", 1)
    assert "changed outside this run" in result.message


def test_istio_refuses_weights_that_do_not_sum_to_100(standin: RolloutsStandIn,
                                                      tmp_path: Path) -> None:
    backend = _backend(standin, tmp_path, FakeClock())
    before = copy.deepcopy(standin.get(istio.PLURAL, "ml", "ranker"))
    with pytest.raises(UsageError, match=r"HTTP 400.*validation.istio.io.*total destination "
                                         r"weight 110 != 100"):
        backend.api.json_patch(VIRTUAL_SERVICES, "ml", "ranker", [
            {"op": "replace", "path": "/spec/http/0/route/1/weight", "value": 10}])
    assert standin.get(istio.PLURAL, "ml", "ranker") == before


def test_a_canary_deployment_scaled_to_0_is_refused_before_anything_changes(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    backend = _backend(standin, tmp_path, FakeClock())
    backend.api.patch(DEPLOYMENTS, "ml", "ranker-canary", {"spec": {"replicas": 0}})
    writes = len(standin.writes())
    result = _run(standin, tmp_path, ScriptedJudge("pass"))
    assert (result.result, int(result.exit_code)) == ("aborted", 2)
    assert "has spec.replicas 0" in result.message
    assert len(standin.writes()) == writes


# -- the CLI -------------------------------------------------------------------------------

POLICY = """\
model: ranker
rollout: {name: ranker, namespace: ml, steps: [10, 50], BACKEND}
analysis:
  metrics:
    errors: {kind: threshold, query: 'errors{version="{{version}}"}', max: 0.05}
"""


@pytest.mark.parametrize(("backend", "command", "message"), [
    ("backend: kserve", ["rollout", "status"],
     "`modelrail rollout status` drives Argo Rollouts (abort and restore work on every "
     "backend), and the policy's rollout.backend is kserve"),
    ("backend: istio, istio: {route: primary}", ["rollout", "step"],
     "`modelrail rollout step` drives Argo Rollouts (abort and restore work on every "
     "backend), and the policy's rollout.backend is istio"),
])
def test_the_cli_says_what_a_backend_cannot_do_and_exits_2(
        backend: str, command: list[str], message: str, tmp_path: Path,
        standin: RolloutsStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "modelrail.yaml"
    policy.write_text(POLICY.replace("BACKEND", backend), encoding="utf-8")
    kubeconfig = str(standin.write_kubeconfig(tmp_path / "kubeconfig"))
    assert main([*command, "--config", str(policy), "--kubeconfig", kubeconfig]) == 2
    assert message in capsys.readouterr().err
    assert standin.writes() == []


def test_rollout_abort_from_another_process_puts_all_traffic_on_stable_and_drops_the_mirror(
        tmp_path: Path, standin: RolloutsStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    """The clean-up step of a cancelled job: `canary run` is gone, mid mirror phase."""
    clock = TickingClock()
    started = _backend(standin, tmp_path, clock)
    started.set_image("ranker:v2")
    assert started.wait([Condition.parse("paused")], 30, clock=clock, sleep=clock.sleep).reached
    assert started.start_mirror(MirrorConfig(route="primary", percentage=35, scale=35))
    policy = tmp_path / "modelrail.yaml"
    policy.write_text(POLICY.replace("BACKEND", "backend: istio, istio: {route: primary}"),
                      encoding="utf-8")
    command = ["rollout", "abort", "--config", str(policy),
               "--kubeconfig", str(tmp_path / "kubeconfig"), "--json", str(tmp_path / "out")]

    assert main(command) == 0
    route = standin.get(istio.PLURAL, "ml", "ranker")["spec"]["http"][0]
    assert not {"mirror", "mirrorPercentage"} & set(route)
    assert [d.get("weight") for d in route["route"]] == [100, 0]
    document = yaml.safe_load((tmp_path / "out").read_text())
    assert (document["action"], document["changed"]) == ("abort", True)
    assert (document["rollout"]["name"], document["rollout"]["aborted"]) == ("ranker", True)
    writes = len(standin.writes())
    assert main(command) == 0  # a re-run: nothing left to send
    assert len(standin.writes()) == writes
    assert "all traffic was already on the stable subset" in capsys.readouterr().out


def test_the_example_istio_role_grants_every_call_and_nothing_else_is_needed(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    """example-model/k8s/rbac-istio.yaml: whatever it does not grant answers 403, and a
    canary with a mirror phase, a failed one and a promoted one all go through."""
    documents = yaml.safe_load_all((EXAMPLE_MODEL / "k8s" / "rbac-istio.yaml").read_text())
    role = next(d for d in documents if d["kind"] == "Role")
    granted = {(verb, resource) for rule in role["rules"] for verb in rule["verbs"]
               for resource in rule["resources"]}
    assert granted == {("get", "virtualservices"), ("patch", "virtualservices"),
                       ("get", "deployments"), ("patch", "deployments")}
    for verb in ("get", "update", "patch"):
        for resource in ("virtualservices", "deployments", "rollouts"):
            if (verb, resource) not in granted:
                standin.forbid(verb, resource)
    mirror = MirrorConfig(route="primary", percentage=35, scale=35)
    assert _run(standin, tmp_path, ScriptedJudge("pass", "fail"), mirror).exit_code == 1
    assert _run(standin, tmp_path, ScriptedJudge("pass"), mirror).exit_code == 0
    assert {r.status for r in standin.requests} == {200}


def test_without_istiod_status_nothing_starts_unless_status_is_not_required(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    backend = _backend(standin, tmp_path, FakeClock())
    standin.clear_status(istio.PLURAL, "ml", "ranker")
    with pytest.raises(UsageError, match="PILOT_ENABLE_STATUS=true"):
        backend.ensure_steps(WEIGHTS)
    backend.config = replace(CONFIG, require_status=False)
    assert backend.ensure_steps(WEIGHTS).phase == "Healthy"


def test_a_canary_whose_pods_never_get_ready_is_aborted_at_its_progress_deadline(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    backend = _backend(standin, tmp_path, FakeClock())
    backend.api.patch(DEPLOYMENTS, "ml", "ranker-canary",
                      {"spec": {"progressDeadlineSeconds": 1}})
    standin.never_ready("ranker:v2")
    result = _run(standin, tmp_path, ScriptedJudge("pass"), clock=TickingClock(real=0.05))
    assert (result.result, int(result.exit_code)) == ("aborted", 1)
    assert [(s.weight, s.verdict) for s in result.steps] == [(10, "error")]
    assert "is Degraded: Deployment ranker-canary exceeded its progress deadline" in \
        result.message
    assert _canary_weights(standin) == []  # no user request ever reached the canary
