"""`modelrail rollout ...` through the real `kubernetes` client against the Rollouts stand-in.

Each test asserts the exact requests the client sent (method, path, content type, JSON
body): they must be the kubectl-argo-rollouts plugin's patches. The CLI runs in-process
through `add_rollout_commands`, with the same error handling as `modelrail.cli.main.main`.
"""

import argparse
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelrail.cli.rollout import add_rollout_commands
from modelrail.errors import ModelrailError
from modelrail.local.processes import free_port
from modelrail.plumbing import runner
from modelrail.rollouts.kube import ROLLOUTS, connect

from tests.support.standins.kube_api import JSON_PATCH, MERGE_PATCH
from tests.support.standins.rollouts import RolloutsStandIn

pytestmark = pytest.mark.integration

ROLLOUT = "/apis/argoproj.io/v1alpha1/namespaces/ml/rollouts/ranker"
STATUS = ROLLOUT + "/status"
ENV_VARS = (
    "KUBECONFIG", "KUBECONFIG_DATA", "KUBERNETES_SERVICE_HOST", "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
    "http_proxy", "https_proxy", "all_proxy",
)
POLICY = "model: ranker\nrollout: {name: ranker, namespace: ml, steps: [10, 25, 50, 100]}\n"


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0.05")
    monkeypatch.setenv("MODELRAIL_HTTP_TIMEOUT", "2")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    return tmp_path


@pytest.fixture
def k8s() -> Iterator[RolloutsStandIn]:
    with RolloutsStandIn() as standin:
        standin.add_rollout("ranker", "ml", image="ranker:v1")
        yield standin


@pytest.fixture
def kubeconfig(k8s: RolloutsStandIn, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = k8s.write_kubeconfig(workdir / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


def run(*argv: str) -> int:
    """`modelrail rollout ...` as cli.main runs it: exit code, message on stderr."""
    parser = argparse.ArgumentParser(prog="modelrail")
    add_rollout_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["rollout", *argv])
    try:
        return int(args.handler(args))
    except ModelrailError as error:
        runner.annotate("error", str(error), title=f"modelrail {args.command}")
        return int(error.exit_code)


def sent(k8s: RolloutsStandIn) -> list[tuple[str, str, str, Any]]:
    """The writes since the last clear: (method, path, content type, body)."""
    return [(r.method, r.path, r.content_type, r.body) for r in k8s.writes()]


def step_outputs(path: Path) -> dict[str, str]:
    """The last value of each step output in a GITHUB_OUTPUT file (name<<DELIM blocks)."""
    values: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        name, _, delimiter = line.partition("<<")
        values[name] = "\n".join(iter(lines.__next__, delimiter))
    return values


def paused_at(k8s: RolloutsStandIn, weight: int) -> None:
    k8s.settle()
    status = k8s.rollout("ranker", "ml")["status"]
    assert status["phase"] == "Paused"
    assert [c["reason"] for c in status["pauseConditions"]] == ["CanaryPauseStep"]
    assert k8s.weight("ranker", "ml") == weight


@pytest.mark.usefixtures("kubeconfig")
class TestPatches:
    """Every operation sends exactly the plugin's request."""

    def test_set_image_patches_only_the_image_of_the_object_as_read(
            self, k8s: RolloutsStandIn) -> None:
        """Where the plugin PUTs the object (`update`), a JSON patch needs only `patch`."""
        before = k8s.rollout("ranker", "ml")
        k8s.forbid("update", "rollouts")
        k8s.clear_requests()
        assert run("set-image", "--image", "ranker:v2") == 0
        assert sent(k8s) == [("PATCH", ROLLOUT, JSON_PATCH, [
            {"op": "test", "path": "/metadata/resourceVersion",
             "value": before["metadata"]["resourceVersion"]},
            {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "server"},
            {"op": "add", "path": "/spec/template/spec/containers/0/image",
             "value": "ranker:v2"}])]
        after = k8s.rollout("ranker", "ml")
        expected = json.loads(json.dumps(before["spec"]))
        expected["template"]["spec"]["containers"][0]["image"] = "ranker:v2"
        assert after["spec"] == expected
        paused_at(k8s, 10)
        assert k8s.traffic("ranker", "ml").canary_image == "ranker:v2"
        assert k8s.traffic("ranker", "ml").stable_image == "ranker:v1"

    def test_set_image_twice_converges(self, k8s: RolloutsStandIn) -> None:
        assert run("set-image", "--image", "ranker:v2") == 0
        k8s.clear_requests()
        assert run("set-image", "--image", "ranker:v2") == 0
        assert sent(k8s) == []

    def test_step_clears_the_pause_condition(self, k8s: RolloutsStandIn) -> None:
        run("set-image", "--image", "ranker:v2")
        k8s.settle()
        k8s.clear_requests()
        assert run("step") == 0
        assert sent(k8s) == [("PATCH", STATUS, MERGE_PATCH,
                              {"status": {"pauseConditions": None}})]
        paused_at(k8s, 25)

    def test_pause_then_promote_clears_status_then_unpauses_spec(self, k8s: RolloutsStandIn
                                                                 ) -> None:
        run("set-image", "--image", "ranker:v2")
        k8s.settle()
        k8s.clear_requests()
        assert run("pause") == 0
        assert run("promote") == 0
        assert sent(k8s) == [
            ("PATCH", ROLLOUT, MERGE_PATCH, {"spec": {"paused": True}}),
            ("PATCH", STATUS, MERGE_PATCH, {"status": {"pauseConditions": None}}),
            ("PATCH", ROLLOUT, MERGE_PATCH, {"spec": {"paused": False}}),
        ]
        paused_at(k8s, 25)

    def test_abort_and_retry(self, k8s: RolloutsStandIn, capsys: pytest.CaptureFixture[str]
                             ) -> None:
        run("set-image", "--image", "ranker:v2")
        k8s.settle()
        run("step")
        k8s.settle()
        k8s.clear_requests()
        assert run("abort") == 0
        assert sent(k8s) == [("PATCH", STATUS, MERGE_PATCH, {"status": {"abort": True}})]
        k8s.settle()
        status = k8s.rollout("ranker", "ml")["status"]
        assert (status["phase"], status["message"]) == (
            "Degraded", "RolloutAborted: Rollout aborted update to revision 2")
        assert k8s.weight("ranker", "ml") == 0
        capsys.readouterr()
        assert run("status") == 0
        assert "Degraded (RolloutAborted: Rollout aborted update to revision 2) · step 0/8 · " \
               "weight 0%" in capsys.readouterr().out
        k8s.clear_requests()
        assert run("retry") == 0
        assert sent(k8s) == [("PATCH", STATUS, MERGE_PATCH, {"status": {"abort": False}})]
        paused_at(k8s, 10)

    def test_promote_full(self, k8s: RolloutsStandIn) -> None:
        run("set-image", "--image", "ranker:v2")
        k8s.settle()
        k8s.clear_requests()
        assert run("promote", "--full") == 0
        assert sent(k8s) == [("PATCH", STATUS, MERGE_PATCH, {"status": {"promoteFull": True}})]
        k8s.settle()
        assert k8s.rollout("ranker", "ml")["status"]["phase"] == "Healthy"
        assert k8s.traffic("ranker", "ml").stable_image == "ranker:v2"
        assert k8s.weight("ranker", "ml") == 100
        k8s.clear_requests()
        assert run("promote", "--full") == 0  # already fully promoted: nothing to send
        assert sent(k8s) == []

    def test_promote_full_unpauses_a_manually_paused_rollout(self, k8s: RolloutsStandIn
                                                             ) -> None:
        run("set-image", "--image", "ranker:v2")
        k8s.settle()
        run("pause")
        k8s.settle()
        k8s.clear_requests()
        assert run("promote", "--full") == 0
        assert sent(k8s) == [
            ("PATCH", STATUS, MERGE_PATCH, {"status": {"promoteFull": True}}),
            ("PATCH", ROLLOUT, MERGE_PATCH, {"spec": {"paused": False}}),
        ]
        k8s.settle()
        assert k8s.rollout("ranker", "ml")["status"]["phase"] == "Healthy"


def test_promote_mid_step_skips_a_step_but_step_waits(workdir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A second promote before the controller reacts bumps currentStepIndex (the plugin's
    mid-step case); `step` sees the rollout is not paused and sends nothing."""
    with RolloutsStandIn(controller_delay=1.0, stale_reads=None) as k8s:
        k8s.add_rollout("ranker", "ml", image="ranker:v1")
        monkeypatch.setenv("KUBECONFIG", str(k8s.write_kubeconfig(workdir / "kc")))
        run("set-image", "--image", "ranker:v2")
        k8s.settle()
        assert run("step") == 0  # clears the pause at index 1; the controller is slow
        k8s.clear_requests()
        assert run("step") == 0
        assert sent(k8s) == []
        assert run("promote") == 0
        assert sent(k8s) == [("PATCH", STATUS, MERGE_PATCH,
                              {"status": {"pauseConditions": None, "currentStepIndex": 2}})]
        k8s.settle()
        paused_at(k8s, 25)


def test_without_a_status_subresource_patches_fall_back_to_the_object(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Argo Rollouts v0.9: /status answers 404; abort and promote patch the object."""
    with RolloutsStandIn(status_subresource=False) as k8s:
        k8s.add_rollout("ranker", "ml", image="ranker:v1")
        monkeypatch.setenv("KUBECONFIG", str(k8s.write_kubeconfig(workdir / "kc")))
        run("set-image", "--image", "ranker:v2")
        k8s.settle()
        k8s.clear_requests()
        assert run("promote") == 0
        assert [(r.method, r.path, r.status, r.body) for r in k8s.writes()] == [
            ("PATCH", STATUS, 404, {"status": {"pauseConditions": None}}),
            ("PATCH", ROLLOUT, 200, {"spec": {"paused": False},
                                     "status": {"pauseConditions": None}}),
        ]
        paused_at(k8s, 25)
        k8s.clear_requests()
        assert run("abort") == 0
        assert [(r.method, r.path, r.status, r.body) for r in k8s.writes()] == [
            ("PATCH", STATUS, 404, {"status": {"abort": True}}),
            ("PATCH", ROLLOUT, 200, {"status": {"abort": True}}),
        ]
        k8s.settle()
        assert k8s.weight("ranker", "ml") == 0


@pytest.mark.usefixtures("kubeconfig")
class TestFailures:
    def test_a_changed_object_is_patched_again_on_a_fresh_read(self, k8s: RolloutsStandIn
                                                               ) -> None:
        k8s.conflict_next_writes(2)
        k8s.clear_requests()
        assert run("set-image", "--image", "ranker:v2") == 0
        patches = [r for r in k8s.requests if r.method == "PATCH"]
        assert [r.status for r in patches] == [422, 422, 200]
        versions = [r.body[0]["value"] for r in patches]
        assert versions[0] != versions[2]  # the retry tested the fresh resourceVersion
        methods = [r.method for r in k8s.requests]
        assert methods[methods.index("PATCH") - 1:] == [
            "GET", "PATCH", "GET", "PATCH", "GET", "PATCH"]
        obj = k8s.rollout("ranker", "ml")
        assert obj["metadata"]["annotations"]["standin/concurrent-writes"] == "2"  # kept
        paused_at(k8s, 10)

    def test_endless_conflicts_fail_closed(self, k8s: RolloutsStandIn,
                                           capsys: pytest.CaptureFixture[str]) -> None:
        k8s.conflict_next_writes(100)
        assert run("set-image", "--image", "ranker:v2") == 3
        assert "(conflict 5 times)" in capsys.readouterr().err

    @pytest.mark.parametrize(("forbidden", "argv", "named"), [
        (("patch", "rollouts/status"), ("retry",),
         "may not patch rollouts.argoproj.io/status in namespace ml"),
        (("patch", "rollouts"), ("set-image", "--image", "ranker:v2"),
         "may not patch rollouts.argoproj.io in namespace ml"),
        (("get", "rollouts"), ("status",), "may not get rollouts.argoproj.io in namespace ml"),
    ])
    def test_403_names_the_rbac_verb_and_resource(
            self, k8s: RolloutsStandIn, capsys: pytest.CaptureFixture[str],
            forbidden: tuple[str, str], argv: tuple[str, ...], named: str) -> None:
        k8s.forbid(*forbidden)
        assert run(*argv) == 2
        err = capsys.readouterr().err
        assert named in err
        assert f"verbs: [{forbidden[0]}]" in err
        assert "Traceback" not in err

    def test_missing_rollout_is_exit_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run("abort", "--name", "ghost") == 2
        err = capsys.readouterr().err
        assert "rollout ml/ghost not found" in err

    def test_5xx_is_retried(self, k8s: RolloutsStandIn) -> None:
        k8s.fail_next(1)
        assert run("status") == 0

    def test_wrong_token_is_exit_2(self, k8s: RolloutsStandIn, workdir: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
        bad = k8s.write_kubeconfig(workdir / "bad", token="wrong")
        assert run("status", "--kubeconfig", str(bad)) == 2
        err = capsys.readouterr().err
        assert "401 Unauthorized" in err
        assert "wrong" not in err

    def test_steps_that_do_not_match_are_refused_before_any_write(
            self, k8s: RolloutsStandIn, capsys: pytest.CaptureFixture[str]) -> None:
        k8s.clear_requests()
        assert run("set-image", "--image", "ranker:v2", "--steps", "20,100") == 2
        assert sent(k8s) == []
        err = capsys.readouterr().err
        assert "step 0: expected `setWeight: 20`, found `setWeight: 10`" in err
        assert "resets status.currentStepIndex to 0" in err


@pytest.mark.usefixtures("kubeconfig")
def test_status_warns_about_steps_or_fails_with_check_steps(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert run("status", "--steps", "10,100") == 0
    assert "warning: rollout steps: rollout ml/ranker: spec.strategy.canary.steps do not " \
           "match" in capsys.readouterr().err
    assert run("status", "--steps", "10,100", "--check-steps") == 2
    assert run("status", "--check-steps") == 0  # the policy's steps match


def test_server_down_is_exit_3_after_bounded_retries(workdir: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    with RolloutsStandIn() as k8s:
        path = k8s.write_kubeconfig(workdir / "kc")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(k8s.url, f"http://127.0.0.1:{free_port()}"), encoding="utf-8")
    assert run("status", "--kubeconfig", str(path)) == 3
    err = capsys.readouterr().err
    assert "kept failing after 2 attempts (get rollouts.argoproj.io ml/ranker)" in err


def test_observed_generation_rule(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    with RolloutsStandIn(controller_delay=1.0, stale_reads=None) as k8s:
        k8s.add_rollout("ranker", "ml", image="ranker:v1")
        monkeypatch.setenv("KUBECONFIG", str(k8s.write_kubeconfig(workdir / "kc")))
        assert run("pause") == 0
        capsys.readouterr()
        assert run("status", "--json", "now.json") == 0
        now = json.loads(Path("now.json").read_text(encoding="utf-8"))["rollout"]
        assert now["phase"] == "Progressing"
        assert now["message"].startswith(
            "unknown: the controller has not observed generation 2 yet")
        assert run("wait", "--until", "paused", "--timeout", "5", "--interval", "0.05") == 0
        assert "Paused (manually paused)" in capsys.readouterr().out


def test_kubeconfig_secret_and_its_context_namespace(k8s: RolloutsStandIn, workdir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """No policy file: the namespace comes from the kubeconfig's context."""
    (workdir / "modelrail.yaml").unlink()
    monkeypatch.setenv("KUBECONFIG_DATA",
                       base64.b64encode(k8s.kubeconfig(namespace="ml").encode()).decode())
    assert run("status", "--name", "ranker") == 0
    assert k8s.requests[-1].path == ROLLOUT


def test_workload_ref_updates_the_deployment(workdir: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    with RolloutsStandIn() as k8s:
        k8s.add_deployment("ranker-app", "ml", image="ranker:v1")
        k8s.add_rollout("ranker", "ml", workload_ref="ranker-app")
        monkeypatch.setenv("KUBECONFIG", str(k8s.write_kubeconfig(workdir / "kc")))
        before = k8s.get("deployments", "ml", "ranker-app")
        k8s.forbid("update", "deployments")
        k8s.clear_requests()
        assert run("set-image", "--image", "ranker:v2") == 0
        assert sent(k8s) == [("PATCH", "/apis/apps/v1/namespaces/ml/deployments/ranker-app",
                              JSON_PATCH, [
            {"op": "test", "path": "/metadata/resourceVersion",
             "value": before["metadata"]["resourceVersion"]},
            {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "server"},
            {"op": "add", "path": "/spec/template/spec/containers/0/image",
             "value": "ranker:v2"}])]
        paused_at(k8s, 10)


@pytest.mark.usefixtures("kubeconfig")
def test_a_good_rollout_from_10_to_100_and_healthy(k8s: RolloutsStandIn, workdir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = workdir / "outputs"
    outputs.touch()
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    wait = ("wait", "--timeout", "5", "--interval", "0.05")
    assert run("set-image", "--image", "ranker:v2") == 0
    seen = []
    for weight, following in ((10, 25), (25, 50), (50, 100), (100, None)):
        assert run(*wait, "--until", "paused", "--until", f"weight={weight}") == 0
        seen.append(k8s.weight("ranker", "ml"))
        if following is None:
            assert run("step") == 0
        else:
            assert run("step", "--to-weight", str(following)) == 0
            assert run("step", "--to-weight", str(following)) == 0  # a re-run converges
    assert run(*wait, "--until", "healthy", "--json", "done.json") == 0
    assert seen == [10, 25, 50, 100]
    done = json.loads(Path("done.json").read_text(encoding="utf-8"))
    assert done["reached"] is True
    assert (done["rollout"]["phase"], done["rollout"]["weight"]) == ("Healthy", 100)
    assert k8s.traffic("ranker", "ml").stable_image == "ranker:v2"
    steps = [json.loads(json.dumps(r.body)) for r in k8s.writes()
             if r.content_type == MERGE_PATCH]
    assert steps == [{"status": {"pauseConditions": None}}] * 4
    last = step_outputs(outputs)
    assert (last["phase"], last["weight"], last["step-index"], last["reached"]) == (
        "Healthy", "100", "8", "true")


@pytest.mark.usefixtures("kubeconfig")
def test_abort_mid_rollout_returns_weight_0(k8s: RolloutsStandIn) -> None:
    run("set-image", "--image", "ranker:v2")
    k8s.settle()
    run("step", "--to-weight", "25")
    k8s.settle()
    assert k8s.weight("ranker", "ml") == 25
    assert run("abort") == 0
    assert run("wait", "--until", "aborted", "--until", "weight=0", "--timeout", "5",
               "--interval", "0.05") == 0
    assert k8s.weight("ranker", "ml") == 0
    assert k8s.traffic("ranker", "ml").stable_image == "ranker:v1"
    assert run("step") == 2  # an aborted rollout needs retry, not step


@pytest.mark.usefixtures("kubeconfig")
def test_wait_gives_up_with_exit_1(k8s: RolloutsStandIn, capsys: pytest.CaptureFixture[str]
                                   ) -> None:
    run("set-image", "--image", "ranker:v2")
    k8s.settle()
    assert run("wait", "--until", "healthy", "--timeout", "0.3", "--interval", "0.05") == 1
    assert "did not reach healthy within 0.3s" in capsys.readouterr().err
    run("abort")
    assert run("wait", "--until", "healthy", "--timeout", "5", "--interval", "0.05") == 1
    assert "is Degraded while waiting for healthy" in capsys.readouterr().err


@pytest.mark.parametrize(("delay", "stale"), [(30.0, 1), (0.3, None)])
def test_wait_after_retry_waits_for_the_controllers_acknowledgement(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, delay: float, stale: int | None
        ) -> None:
    """retry is a status-only patch: the generation stays, and the Degraded/RolloutAborted
    status stays until the controller's next reconcile (one read later, or `delay` s)."""
    with RolloutsStandIn(controller_delay=delay, stale_reads=stale) as k8s:
        k8s.add_rollout("ranker", "ml", image="ranker:v1")
        monkeypatch.setenv("KUBECONFIG", str(k8s.write_kubeconfig(workdir / "kc")))
        run("set-image", "--image", "ranker:v2")
        k8s.settle()
        run("abort")
        k8s.settle()
        assert k8s.rollout("ranker", "ml")["status"]["phase"] == "Degraded"
        assert run("retry", "--json", "retried.json") == 0
        assert k8s.rollout("ranker", "ml")["status"]["phase"] == "Degraded"  # not yet
        retried = json.loads(Path("retried.json").read_text(encoding="utf-8"))["rollout"]
        assert (retried["generation_observed"], retried["acknowledged"], retried["phase"]) \
            == (True, False, "Progressing")
        assert run("wait", "--until", "paused", "--timeout", "5", "--interval", "0.05") == 0
        progressing = [c for c in k8s.rollout("ranker", "ml")["status"]["conditions"]
                       if c["type"] == "Progressing"]
        assert progressing[0]["reason"] in ("RolloutRetry", "RolloutPaused")
        paused_at(k8s, 10)


@pytest.mark.usefixtures("kubeconfig")
def test_abort_of_a_fully_promoted_rollout_is_a_no_op_that_says_so(
        k8s: RolloutsStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    k8s.clear_requests()
    assert run("abort") == 0
    assert k8s.writes() == []
    assert "nothing to abort: the rollout is fully promoted (Healthy) and the controller " \
           "ignores an abort" in capsys.readouterr().out
    assert k8s.rollout("ranker", "ml")["status"]["phase"] == "Healthy"


def test_the_controller_drops_an_abort_of_a_fully_promoted_rollout(
        k8s: RolloutsStandIn, tmp_path: Path) -> None:
    """rollout/controller.go: RemoveAbort when fully promoted; the phase stays Healthy."""
    api = connect(str(k8s.write_kubeconfig(tmp_path / "kc"))).api
    api.patch(ROLLOUTS, "ml", "ranker", {"status": {"abort": True}}, subresource="status")
    k8s.settle()
    status = k8s.rollout("ranker", "ml")["status"]
    assert (status["phase"], status.get("abort")) == ("Healthy", None)


def _granted(role: dict[str, Any]) -> set[tuple[str, str]]:
    return {(verb, resource) for rule in role["rules"] for verb in rule["verbs"]
            for resource in rule["resources"]}


def test_the_example_role_grants_every_call_the_driver_makes(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, repo_root: Path) -> None:
    """example-model/k8s/rbac.yaml: everything it does not grant answers 403."""
    rbac = repo_root / "example-model" / "k8s" / "rbac.yaml"
    documents = yaml.safe_load_all(rbac.read_text(encoding="utf-8"))
    role = next(d for d in documents if d["kind"] == "Role")
    granted = _granted(role)
    assert ("update", "rollouts") not in granted  # set-image patches
    with RolloutsStandIn() as k8s:
        k8s.add_rollout("ranker", "ml", image="ranker:v1")
        for verb in ("get", "update", "patch"):
            for resource in ("rollouts", "rollouts/status", "deployments"):
                if (verb, resource) not in granted:
                    k8s.forbid(verb, resource)
        monkeypatch.setenv("KUBECONFIG", str(k8s.write_kubeconfig(workdir / "kc")))
        for argv in (("set-image", "--image", "ranker:v2"), ("step",), ("pause",),
                     ("promote",), ("abort",), ("retry",), ("promote", "--full"),
                     ("status",)):
            assert run(*argv) == 0, argv
            k8s.settle()
        assert all(r.status < 400 for r in k8s.requests)
        assert k8s.rollout("ranker", "ml")["status"]["phase"] == "Healthy"


@pytest.mark.parametrize("routing", [True, False])
def test_a_new_image_moves_no_traffic_until_a_later_reconcile(
        tmp_path: Path, routing: bool) -> None:
    """The reconcile that sees the new pod template keeps the old status.canary.weights
    (the stable pod hash) and its canary pods are not available; without traffic routing
    no weights are written at all (rollout/canary.go, rollout/trafficrouting.go)."""
    with RolloutsStandIn(controller_delay=3600, readiness_delay=0.3) as standin:  # on reads
        standin.add_rollout("ranker", "ml", image="ranker:v1", traffic_routing=routing)
        stable = standin.rollout("ranker", "ml")["status"]["currentPodHash"]
        api = connect(str(standin.write_kubeconfig(tmp_path / "kc"))).api
        api.json_patch(ROLLOUTS, "ml", "ranker", [
            {"op": "replace", "path": "/spec/template/spec/containers/0/image",
             "value": "ranker:v2"}])
        api.get(ROLLOUTS, "ml", "ranker")  # the stale read
        first = api.get(ROLLOUTS, "ml", "ranker")["status"]
        assert first["currentPodHash"] != stable
        assert (first["currentStepIndex"], standin.weight("ranker", "ml")) == (0, 0)
        assert (first["updatedReplicas"], first["availableReplicas"]) == (1, 2)
        if routing:
            assert first["canary"]["weights"]["canary"]["podTemplateHash"] == stable
        else:
            assert "canary" not in first
        time.sleep(0.35)  # the canary's pod is ready: the setWeight step, then the pause
        later = api.get(ROLLOUTS, "ml", "ranker")["status"]
        for _ in range(20):
            if later.get("pauseConditions"):
                break
            later = api.get(ROLLOUTS, "ml", "ranker")["status"]
        assert standin.weight("ranker", "ml") == 10
        assert later["pauseConditions"][0]["reason"] == "CanaryPauseStep"
        assert ("canary" in later) is routing
        if routing:
            assert later["canary"]["weights"]["canary"] == {
                "weight": 10, "podTemplateHash": later["currentPodHash"],
                "serviceName": "ranker-canary"}


@pytest.mark.parametrize("abort", [False, True])
def test_wait_ends_on_the_progress_deadline_when_canary_pods_never_get_ready(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        abort: bool) -> None:
    """The controller reports ProgressDeadlineExceeded (or, with progressDeadlineAbort,
    aborts) once the canary made no progress for progressDeadlineSeconds (rollout/sync.go):
    `rollout wait` ends there with exit 1 naming it, long before its own --timeout."""
    with RolloutsStandIn() as k8s:
        k8s.add_rollout("ranker", "ml", image="ranker:v1", progress_deadline=1,
                        progress_deadline_abort=abort)
        k8s.never_ready("ranker:v2")
        monkeypatch.setenv("KUBECONFIG", str(k8s.write_kubeconfig(workdir / "kc")))
        assert run("set-image", "--image", "ranker:v2") == 0
        started = time.monotonic()
        code = run("wait", "--until", "paused", "--timeout", "60", "--interval", "0.1")
        elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 1, err
    assert elapsed < 10
    assert "is Degraded while waiting for paused" in err
    assert "ProgressDeadlineExceeded" in err
    assert "has timed out progressing." in err
