"""modelrail.rollouts.kserve through the real `kubernetes` client and a kubeconfig against
the KServe stand-in (tests/support/standins/kserve.py): a canary stepped 10 → 50 →
promoted, one aborted back to the previous predictor, one whose image never gets ready,
and a rollback after a promotion; each step asserts the traffic block KServe reports,
what the data plane does (the stand-in's split) and the exact request sent."""

import copy
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import kubernetes
import pytest
import yaml
from modelrail.errors import UsageError
from modelrail.rollouts import kserve
from modelrail.rollouts.kserve import InferenceServiceState
from modelrail.rollouts.kube import ConflictError, KubeApi, NotFoundError, Resource, connect

from tests.support.paths import EXAMPLE_MODEL
from tests.support.standins.kserve import KServeStandIn
from tests.support.standins.kube_api import JSON_PATCH, MERGE_PATCH

pytestmark = pytest.mark.integration

PATH = "/apis/serving.kserve.io/v1beta1/namespaces/ml/inferenceservices/ranker"
REV1, REV2, REV3 = (f"ranker-predictor-0000{n}" for n in (1, 2, 3))
Block = list[tuple[str, int, bool, str]]


@pytest.fixture
def standin() -> Iterator[KServeStandIn]:
    with KServeStandIn(progress_deadline=1.0) as server:
        server.add_inference_service("ranker", "ml", image="ranker:v1")
        yield server


@pytest.fixture
def api(standin: KServeStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KubeApi:
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0.05")
    monkeypatch.setenv("MODELRAIL_HTTP_TIMEOUT", "2")
    return connect(str(standin.write_kubeconfig(tmp_path / "kubeconfig", "ml"))).api


def wait_for(api: KubeApi, done: Callable[[InferenceServiceState], bool],
             timeout: float = 5.0) -> InferenceServiceState:
    """Poll as the backend will: the controller answers asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        state = kserve.read(api, "ml", "ranker")
        if done(state) or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def block(state: InferenceServiceState) -> Block:
    return [(t.revision, t.percent, t.latest, t.tag) for t in state.traffic]


def last_write(standin: KServeStandIn) -> tuple[str, str, str, object]:
    request = standin.writes()[-1]
    return request.method, request.path, request.content_type, request.body


def start(api: KubeApi, standin: KServeStandIn, image: str) -> kserve.CanaryStart:
    before = kserve.read(api, "ml", "ranker")
    started = kserve.start_canary(api, "ml", "ranker", image, percent=10)
    record = kserve.StartedCanary(REV1, REV1, before.predictor)
    assert last_write(standin) == ("PATCH", PATH, JSON_PATCH, [
        {"op": "test", "path": "/metadata/generation", "value": 1},
        {"op": "test", "path": "/spec/predictor/containers/0/name",
         "value": "kserve-container"},
        {"op": "replace", "path": "/spec/predictor/containers/0/image", "value": image},
        {"op": "add", "path": "/spec/predictor/canaryTrafficPercent", "value": 10},
        {"op": "add", "path": "/metadata/annotations/modelrail.io~1canary-start",
         "value": record.to_annotation()}])
    # the write's answer: the controllers have not seen it, the old revision is the newest
    assert (started.state.canary_percent, started.state.latest_created) == (10, REV1)
    assert started.started == record == kserve.recorded_start(started.state)
    assert started.state.canary_share(REV1) == 0
    assert started.state.new_revision_ready
    return started


def test_a_canary_stepped_to_50_and_promoted(api: KubeApi, standin: KServeStandIn) -> None:
    initial = kserve.read(api, "ml", "ranker")
    assert block(initial) == [(REV1, 100, True, "")]
    assert initial.ready

    start(api, standin, "ranker:v2")
    state = wait_for(api, lambda s: s.canary_share(REV1) == 10)
    assert block(state) == [(REV2, 10, True, ""), (REV1, 90, False, "prev")]
    assert (state.latest_created, state.latest_ready, state.latest_rolled_out) == (
        REV2, REV2, REV1)
    assert standin.split("ranker", "ml").percent_by_image == {"ranker:v2": 10, "ranker:v1": 90}

    kserve.set_canary_percent(api, "ml", "ranker", 50)
    assert last_write(standin) == ("PATCH", PATH, MERGE_PATCH,
                                   {"spec": {"predictor": {"canaryTrafficPercent": 50}}})
    state = wait_for(api, lambda s: s.canary_share(REV1) == 50)
    assert block(state) == [(REV2, 50, True, ""), (REV1, 50, False, "prev")]
    assert standin.revision_images("ranker", "ml") == {REV1: ["ranker:v1"],
                                                       REV2: ["ranker:v2"]}

    kserve.promote(api, "ml", "ranker")
    assert last_write(standin) == ("PATCH", PATH, MERGE_PATCH,
                                   {"spec": {"predictor": {"canaryTrafficPercent": None}}})
    state = wait_for(api, lambda s: s.latest_rolled_out == REV2)
    assert block(state) == [(REV2, 100, True, "")]
    assert (state.canary_percent, state.previous_rolled_out, state.ready) == (None, REV1, True)
    assert standin.split("ranker", "ml").percent_by_image == {"ranker:v2": 100}


def test_an_aborted_canary_is_restored(api: KubeApi, standin: KServeStandIn) -> None:
    previous = start(api, standin, "ranker:v2").started.previous_predictor
    wait_for(api, lambda s: s.canary_share(REV1) == 10)

    kserve.abort(api, "ml", "ranker", previous)
    assert last_write(standin) == ("PATCH", PATH, JSON_PATCH, [
        {"op": "test", "path": "/metadata/generation", "value": 2},
        {"op": "replace", "path": "/spec/predictor",
         "value": {**previous, "canaryTrafficPercent": 0}}])
    state = wait_for(api, lambda s: s.new_revision_ready and s.latest_created == REV3)
    # the restored spec is a new revision (Knative never reuses one), pinned at 0 %
    assert block(state) == [(REV3, 0, True, ""), (REV1, 100, False, "prev")]
    assert (state.latest_rolled_out, state.images) == (REV1, {"kserve-container": "ranker:v1"})
    assert standin.split("ranker", "ml").percent_by_image == {"ranker:v1": 100}
    assert state.ready


def test_an_image_that_never_gets_ready_gets_no_traffic(api: KubeApi,
                                                        standin: KServeStandIn) -> None:
    standin.never_ready("ranker:broken")
    previous = start(api, standin, "ranker:broken").started.previous_predictor
    state = wait_for(api, lambda s: s.latest_created == REV2 and not s.ready)
    assert block(state) == [(REV1, 10, True, ""), (REV1, 90, False, "prev")]
    assert (state.canary_revision(REV1), state.new_revision_ready) == (REV2, False)
    assert state.canary_share(REV1) == 0
    assert state.not_ready_because == "PredictorReady is Unknown"
    state = wait_for(api, lambda s: "RevisionFailed" in s.not_ready_because)
    assert state.not_ready_because.startswith(
        f'PredictorReady is False (RevisionFailed: Revision "{REV2}" failed')
    assert standin.split("ranker", "ml").percent_by_image == {"ranker:v1": 100}

    kserve.abort(api, "ml", "ranker", previous)
    state = wait_for(api, lambda s: s.ready and s.latest_ready == REV3)
    assert block(state) == [(REV3, 0, True, ""), (REV1, 100, False, "prev")]


def test_0_percent_after_a_promotion_rolls_back(api: KubeApi, standin: KServeStandIn) -> None:
    """PropagateStatus moves latestRolledoutRevision back to the previous one, and the
    next reconcile pins every request there."""
    start(api, standin, "ranker:v2")
    wait_for(api, lambda s: s.canary_share(REV1) == 10)
    kserve.promote(api, "ml", "ranker")
    wait_for(api, lambda s: s.latest_rolled_out == REV2)

    kserve.set_canary_percent(api, "ml", "ranker", 0)
    state = wait_for(api, lambda s: s.percent_of(REV1) == 100)
    assert block(state) == [(REV2, 0, True, ""), (REV1, 100, False, "prev")]
    assert state.latest_rolled_out == REV1
    assert standin.split("ranker", "ml").percent_by_image == {"ranker:v1": 100}


def test_a_spec_changed_since_the_read_is_a_conflict(api: KubeApi,
                                                     standin: KServeStandIn) -> None:
    stale = kserve.read(api, "ml", "ranker")
    kserve.set_canary_percent(api, "ml", "ranker", 20)  # another writer
    with pytest.raises(ConflictError, match="test failed"):
        api.json_patch(kserve.INFERENCE_SERVICES, "ml", "ranker",
                       kserve.start_operations(stale, "ranker:v2", 10))
    assert kserve.read(api, "ml", "ranker").images == {"kserve-container": "ranker:v1"}


def test_a_status_write_since_the_read_is_no_conflict(api: KubeApi,
                                                      standin: KServeStandIn) -> None:
    before = kserve.read(api, "ml", "ranker")
    standin.conflict_next_writes()  # another writer bumps resourceVersion only
    api.json_patch(kserve.INFERENCE_SERVICES, "ml", "ranker",
                   kserve.start_operations(before, "ranker:v2", 10))
    assert kserve.read(api, "ml", "ranker").images == {"kserve-container": "ranker:v2"}


def test_missing_rights_name_the_rbac_rule(api: KubeApi, standin: KServeStandIn) -> None:
    standin.forbid("patch", "inferenceservices")
    with pytest.raises(UsageError, match=r"apiGroups: \[serving.kserve.io\], "
                       r"resources: \[inferenceservices\], verbs: \[patch\]"):
        kserve.promote(api, "ml", "ranker")


def test_an_annotation_change_starts_a_revision(api: KubeApi, standin: KServeStandIn) -> None:
    """KServe copies the InferenceService's annotations into the revision template:
    a patch that only adds one still rolls out a new revision."""
    api.patch(kserve.INFERENCE_SERVICES, "ml", "ranker",
              {"metadata": {"annotations": {"example.com/note": "x"}}})
    state = wait_for(api, lambda s: s.latest_rolled_out == REV2)
    assert block(state) == [(REV2, 100, True, "")]
    # status.observedGeneration is the Knative Service's (PropagateStatus), not this one's
    served = standin.inference_service("ranker", "ml")
    assert (served["metadata"]["generation"], served["status"]["observedGeneration"]) == (1, 2)


def test_the_example_role_grants_every_call_and_no_more(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """example-model/k8s/kserve-rbac.yaml grants get and patch on inferenceservices, and
    a whole canary walk needs nothing it does not grant (the rest answers 403)."""
    rbac = EXAMPLE_MODEL / "k8s" / "kserve-rbac.yaml"
    role = next(d for d in yaml.safe_load_all(rbac.read_text(encoding="utf-8"))
                if d["kind"] == "Role")
    granted = {(verb, resource) for rule in role["rules"] for verb in rule["verbs"]
               for resource in rule["resources"]}
    assert granted == {("get", "inferenceservices"), ("patch", "inferenceservices")}
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "1")
    with KServeStandIn() as standin:
        standin.add_inference_service("ranker", "ml", image="ranker:v1")
        for verb in ("get", "update", "patch"):
            for resource in ("inferenceservices", "inferenceservices/status"):
                if (verb, resource) not in granted:
                    standin.forbid(verb, resource)
        api = connect(str(standin.write_kubeconfig(tmp_path / "kc", "ml"))).api
        previous = kserve.start_canary(api, "ml", "ranker", "ranker:v2",
                                       percent=10).started.previous_predictor
        kserve.set_canary_percent(api, "ml", "ranker", 50)
        kserve.abort(api, "ml", "ranker", previous)
        kserve.promote(api, "ml", "ranker")
        assert all(r.status < 400 for r in standin.requests)
        assert {r.method for r in standin.requests} == {"GET", "PATCH"}


def test_a_put_with_a_stale_resource_version_is_a_conflict(standin: KServeStandIn,
                                                          tmp_path: Path) -> None:
    """The API server's optimistic concurrency (kube_api.py), and the status subresource:
    an update of the object leaves its status alone."""
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(standin.write_kubeconfig(tmp_path / "kc", "ml")),
        client_configuration=config)
    objects = kubernetes.client.CustomObjectsApi(kubernetes.client.ApiClient(config))
    stale = standin.inference_service("ranker", "ml")
    kserve_api = ("serving.kserve.io", "v1beta1", "ml", "inferenceservices", "ranker")
    fresh = {**copy.deepcopy(stale), "status": {"conditions": []}}
    fresh["spec"]["predictor"]["minReplicas"] = 2
    updated = objects.replace_namespaced_custom_object(*kserve_api, fresh)
    assert isinstance(updated, dict)
    assert updated["status"] == stale["status"]
    assert updated["metadata"]["generation"] == 2
    with pytest.raises(kubernetes.client.ApiException) as refused:
        objects.replace_namespaced_custom_object(*kserve_api, stale)
    assert refused.value.status == 409


def test_only_the_served_version_is_found(api: KubeApi) -> None:
    with pytest.raises(NotFoundError):
        api.get(Resource("serving.kserve.io", "v1alpha1", "inferenceservices"), "ml", "ranker")
    assert kserve.read(api, "ml", "ranker").name == "ranker"


def test_the_status_follows_a_write_reconciles_later(tmp_path: Path) -> None:
    """Asynchronous as on a cluster: the write's answer and the next read show the old
    status; the reconcile that sees the write updates the Knative Service and reports its
    status as it was; only the next one reports the new revision (still serving
    nothing). Reconciles here run only on reads (a resync), one per read."""
    with KServeStandIn(controller_delay=3600) as standin:
        standin.add_inference_service("ranker", "ml", image="ranker:v1")
        standin.readiness_delay = 3600  # the new revision stays unready
        api = connect(str(standin.write_kubeconfig(tmp_path / "kc", "ml"))).api
        answer = kserve.start_canary(api, "ml", "ranker", "ranker:v2", percent=10).state
        reads = [kserve.read(api, "ml", "ranker") for _ in range(3)]
    for state in (answer, reads[0], reads[1]):
        assert (state.latest_created, block(state)) == (REV1, [(REV1, 100, True, "")])
        assert state.ready
    assert (reads[2].latest_created, reads[2].latest_ready) == (REV2, REV1)
    assert block(reads[2]) == [(REV1, 10, True, ""), (REV1, 90, False, "prev")]
    assert reads[2].not_ready_because == "PredictorReady is Unknown"


def test_without_the_serverless_annotation_no_canary_starts(tmp_path: Path) -> None:
    """KServe's default mode is Standard (raw Deployments), which ignores
    canaryTrafficPercent: the start is refused before any write."""
    with KServeStandIn() as standin:
        standin.add_inference_service("ranker", "ml", annotations={
            "serving.kserve.io/deploymentMode": "RawDeployment"})
        api = connect(str(standin.write_kubeconfig(tmp_path / "kc", "ml"))).api
        assert kserve.read(api, "ml", "ranker").deployment_mode == "Standard"
        with pytest.raises(UsageError, match="deployment mode Standard"):
            kserve.start_canary(api, "ml", "ranker", "ranker:v2", percent=10)
        assert standin.writes() == []
