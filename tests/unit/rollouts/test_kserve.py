"""A KServe InferenceService read as modelrail reads it, and the patches it sends
(modelrail.rollouts.kserve): pure functions over objects as KServe serves them."""

from typing import Any

import pytest
from modelrail.errors import UsageError
from modelrail.rollouts.kserve import (
    CANARY_START,
    PROMOTE,
    StartedCanary,
    TrafficTarget,
    abort_operations,
    percent_patch,
    read_state,
    recorded_start,
    start_operations,
)

PREDICTOR = {"minReplicas": 1, "containers": [
    {"name": "kserve-container", "image": "ranker:v1", "ports": [{"containerPort": 8080}]}]}


def served(predictor: dict[str, Any] | None = None, generation: int = 3,
           component: dict[str, Any] | None = None,
           conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "ranker", "namespace": "ml", "generation": generation,
                         "resourceVersion": "1234"},
            "spec": {"predictor": predictor or PREDICTOR},
            "status": {"components": {"predictor": component or {}},
                       "conditions": conditions or [], "deploymentMode": "Knative"}}


CANARY = {  # a canary at 10 % whose new revision is ready (KServe's own status shape)
    "latestCreatedRevision": "ranker-predictor-00002",
    "latestReadyRevision": "ranker-predictor-00002",
    "latestRolledoutRevision": "ranker-predictor-00001",
    "traffic": [{"revisionName": "ranker-predictor-00002", "percent": 10,
                 "latestRevision": True},
                {"revisionName": "ranker-predictor-00001", "percent": 90,
                 "latestRevision": False, "tag": "prev"}]}


def test_a_canary_is_read_with_its_traffic_block() -> None:
    state = read_state(served({**PREDICTOR, "canaryTrafficPercent": 10}, component=CANARY,
                              conditions=[{"type": "Ready", "status": "True"}]))
    assert (state.canary_percent, state.generation, state.images) == (
        10, 3, {"kserve-container": "ranker:v1"})
    assert state.traffic == (
        TrafficTarget("ranker-predictor-00002", 10, latest=True, tag=""),
        TrafficTarget("ranker-predictor-00001", 90, latest=False, tag="prev"))
    assert (state.new_revision_ready, state.canary_share("ranker-predictor-00001")) == (
        True, 10)
    assert state.canary_share("ranker-predictor-00002") == 0  # not started after it
    assert state.percent_of(state.latest_rolled_out) == 90
    assert (state.ready, state.not_ready_because) == (True, "")


def test_a_new_revision_not_ready_yet_serves_nothing() -> None:
    """"Latest revision" resolves to the latest *ready* one: both targets name the old
    revision, and the new one's share is 0, whatever the spec says."""
    component = {"latestCreatedRevision": "ranker-predictor-00002",
                 "latestReadyRevision": "ranker-predictor-00001",
                 "latestRolledoutRevision": "ranker-predictor-00001",
                 "traffic": [{"revisionName": "ranker-predictor-00001", "percent": 10,
                              "latestRevision": True},
                             {"revisionName": "ranker-predictor-00001", "percent": 90,
                              "latestRevision": False, "tag": "prev"}]}
    conditions = [{"type": "PredictorReady", "status": "Unknown"},
                  {"type": "IngressReady", "status": "True"},
                  {"type": "Ready", "status": "Unknown"}]
    state = read_state(served({**PREDICTOR, "canaryTrafficPercent": 10}, component=component,
                              conditions=conditions))
    assert state.canary_revision("ranker-predictor-00001") == "ranker-predictor-00002"
    assert (state.new_revision_ready, state.canary_share("ranker-predictor-00001")) == (
        False, 0)
    assert state.percent_of("ranker-predictor-00001") == 100
    assert (state.ready, state.not_ready_because) == (False, "PredictorReady is Unknown")


def test_why_a_failed_revision_is_not_ready() -> None:
    conditions = [{"type": "PredictorReady", "status": "False", "reason": "RevisionFailed",
                   "message": 'Revision "ranker-predictor-00002" failed'},
                  {"type": "Ready", "status": "False"}]
    state = read_state(served(conditions=conditions))
    assert state.not_ready_because == (
        'PredictorReady is False (RevisionFailed: Revision "ranker-predictor-00002" failed)')


def test_an_object_without_status_reads_as_empty_not_ready() -> None:
    state = read_state({"metadata": {"name": "ranker"}, "spec": {"predictor": None},
                        "status": {"components": {"predictor": {"traffic": "junk"}}}})
    assert (state.canary_percent, state.traffic, state.images, state.ready) == (
        None, (), {}, False)
    assert state.not_ready_because == "PredictorReady is not reported"


def test_the_start_replaces_the_image_and_sets_the_percent_in_one_write() -> None:
    assert start_operations(read_state(served()), "ranker:v2", 10) == [
        {"op": "test", "path": "/metadata/generation", "value": 3},
        {"op": "test", "path": "/spec/predictor/containers/0/name",
         "value": "kserve-container"},
        {"op": "replace", "path": "/spec/predictor/containers/0/image", "value": "ranker:v2"},
        {"op": "add", "path": "/spec/predictor/canaryTrafficPercent", "value": 10},
        {"op": "add", "path": "/metadata/annotations",
         "value": {CANARY_START: StartedCanary("", "", PREDICTOR).to_annotation()}}]


def test_the_start_is_recorded_in_an_annotation_an_abort_reads_back() -> None:
    obj = served(component=CANARY)
    obj["metadata"]["annotations"] = {"serving.kserve.io/deploymentMode": "Serverless"}
    before = read_state(obj)
    operation = start_operations(before, "ranker:v2", 10)[-1]
    # a key of the annotations the object has (a JSON pointer escapes its "/")
    assert operation["path"] == "/metadata/annotations/modelrail.io~1canary-start"
    obj["metadata"]["annotations"][CANARY_START] = operation["value"]
    obj["spec"]["predictor"] = {**PREDICTOR, "canaryTrafficPercent": 10}
    assert recorded_start(read_state(obj)) == StartedCanary(
        created_before="ranker-predictor-00002", stable_revision="ranker-predictor-00001",
        previous_predictor=PREDICTOR)


@pytest.mark.parametrize(("annotation", "error"), [
    (None, f"canaryTrafficPercent 10 but no {CANARY_START} annotation"),
    ("{not json", f"annotation {CANARY_START} is not the JSON a canary's start writes"),
    ('{"createdBefore": "r1", "predictor": {}}', "is not the JSON"),
    ('{"createdBefore": "r1", "stableRevision": "r1", "predictor": {"containers": []}}',
     "lacks the revisions or the predictor containers"),
    ('["r1"]', "is not the JSON")])
def test_a_missing_or_garbled_start_record_is_refused_naming_it(annotation: str | None,
                                                                error: str) -> None:
    obj = served({**PREDICTOR, "canaryTrafficPercent": 10})
    if annotation is not None:
        obj["metadata"]["annotations"] = {CANARY_START: annotation}
    with pytest.raises(UsageError, match=error.replace("{", "\\{")) as refused:
        recorded_start(read_state(obj))
    assert "InferenceService ml/ranker" in str(refused.value)


def test_the_start_names_a_container_when_there_are_several() -> None:
    two = {"containers": [{"name": "kserve-container", "image": "ranker:v1"},
                          {"name": "sidecar", "image": "proxy:v1"}]}
    state = read_state(served(two))
    with pytest.raises(UsageError, match="has 2 containers"):
        start_operations(state, "ranker:v2", 10)
    operations = start_operations(state, "proxy:v2", 10, container="sidecar")
    assert operations[1:3] == [
        {"op": "test", "path": "/spec/predictor/containers/1/name", "value": "sidecar"},
        {"op": "replace", "path": "/spec/predictor/containers/1/image", "value": "proxy:v2"}]
    with pytest.raises(UsageError, match="no container named 'server'"):
        start_operations(state, "proxy:v2", 10, container="server")


@pytest.mark.parametrize(("annotation", "status"), [
    ("Standard", None), (None, "RawDeployment"), (None, None), ("ModelMesh", "ModelMesh")])
def test_a_canary_needs_the_serverless_mode(annotation: str | None,
                                            status: str | None) -> None:
    """canaryTrafficPercent is the Knative reconciler's: another mode ignores it."""
    obj = served()
    obj["status"]["deploymentMode"] = status
    obj["metadata"]["annotations"] = {"serving.kserve.io/deploymentMode": annotation} \
        if annotation else {}
    with pytest.raises(UsageError, match=(
            r"ml/ranker: deployment mode .*; canaryTrafficPercent works only in the "
            r"serverless mode: annotate it serving.kserve.io/deploymentMode: Serverless")):
        start_operations(read_state(obj), "ranker:v2", 10)


@pytest.mark.parametrize(("annotation", "status"), [("Serverless", None), (None, "Knative"),
                                                    ("Serverless", "Serverless")])
def test_the_serverless_mode_by_either_name(annotation: str | None, status: str | None) -> None:
    obj = served()
    obj["status"]["deploymentMode"] = status
    obj["metadata"]["annotations"] = {"serving.kserve.io/deploymentMode": annotation} \
        if annotation else {}
    assert start_operations(read_state(obj), "ranker:v2", 10)[-2]["value"] == 10


@pytest.mark.parametrize("percent", [-1, 101, 12.5, True, "10"])
def test_a_percent_outside_0_to_100_is_refused(percent: Any) -> None:
    with pytest.raises(UsageError, match="canaryTrafficPercent must be a whole number"):
        percent_patch(percent)
    with pytest.raises(UsageError, match="canaryTrafficPercent"):
        start_operations(read_state(served()), "ranker:v2", percent)


def test_set_and_promote_are_merge_patches_of_the_field() -> None:
    assert percent_patch(50) == {"spec": {"predictor": {"canaryTrafficPercent": 50}}}
    assert percent_patch(0) == {"spec": {"predictor": {"canaryTrafficPercent": 0}}}
    assert PROMOTE == {"spec": {"predictor": {"canaryTrafficPercent": None}}}


def test_the_abort_restores_the_previous_predictor_pinned_at_0() -> None:
    canary = read_state(served({"containers": [{"name": "kserve-container",
                                                "image": "ranker:v2"}],
                                "canaryTrafficPercent": 10, "maxReplicas": 4}, generation=5))
    previous = {**PREDICTOR, "canaryTrafficPercent": 100}
    assert abort_operations(canary, previous) == [
        {"op": "test", "path": "/metadata/generation", "value": 5},
        {"op": "replace", "path": "/spec/predictor",
         "value": {**PREDICTOR, "canaryTrafficPercent": 0}}]
