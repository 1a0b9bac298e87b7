"""A KServe InferenceService (serving.kserve.io/v1beta1, serverless mode) as a canary's
traffic driver: its state read as KServe reports it, and the patches that step
`spec.predictor.canaryTrafficPercent`.

KServe (inference_service_status.go, ksvc_reconciler.go; docs/kserve.md) sends
`canaryTrafficPercent` % to the latest *ready* revision and the rest to the last one
rolled out with 100 %; removing the field promotes; 0 pins every request on the last
rolled-out revision. So the canary's served share is the percent of the traffic entries
naming its revision, once the status reports that revision as `latestCreatedRevision`
(it reports the old one until the controllers have seen the write) and as
`latestReadyRevision` ("latest revision" resolves to an older one until then).
`status.observedGeneration` is the Knative Service's, not the InferenceService's: it
cannot tell whether a write was seen, so the canary's revision is told by its name.

The start also writes what an abort needs (the predictor before it, the revisions it
knew) as the annotation `CANARY_START` in the same patch as the new image: KServe copies
the InferenceService's annotations into the revision template, so a change on its own would
start a revision, and with the image it is one. An abort from another process (the clean-up
step of a cancelled job) reads it back (`recorded_start`).

Pure functions build the patches (unit-tested); the calls at the end read and send them.
The image changes are JSON patches whose first operation tests `metadata.generation`, so
a spec another writer changed since the read is refused (422, a ConflictError), while
the controller's status writes in between are not.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelrail.errors import UsageError
from modelrail.rollouts.kube import JSON, KubeApi, Resource
from modelrail.rollouts.objects import integer, mappings, nested
from modelrail.rollouts.patches import pick_container

INFERENCE_SERVICES = Resource("serving.kserve.io", "v1beta1", "inferenceservices")
DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
SERVERLESS_MODES = ("Serverless", "Knative")  # "Knative" is its name from KServe 0.16
CANARY_START = "modelrail.io/canary-start"  # the annotation the start writes (above)
PROMOTE: JSON = {"spec": {"predictor": {"canaryTrafficPercent": None}}}
_PERCENT = "canaryTrafficPercent"


@dataclass(frozen=True)
class TrafficTarget:
    """One entry of `status.components.predictor.traffic` (a Knative TrafficTarget)."""

    revision: str
    percent: int
    latest: bool  # the "latest ready revision" target
    tag: str


@dataclass(frozen=True)
class InferenceServiceState:
    """What modelrail needs of an InferenceService, read from the object as served."""

    namespace: str
    name: str
    generation: int
    deployment_mode: str  # status.deploymentMode, else the annotation; "" when neither
    canary_percent: int | None  # spec.predictor.canaryTrafficPercent; None: not set
    predictor: Mapping[str, Any]  # spec.predictor as read: what an abort restores
    annotations: Mapping[str, str]  # metadata.annotations; {} when there are none
    images: Mapping[str, str]  # predictor container name → image
    latest_created: str
    latest_ready: str
    latest_rolled_out: str
    previous_rolled_out: str
    traffic: tuple[TrafficTarget, ...]
    ready: bool
    not_ready_because: str  # "" when ready
    failed: bool = False  # PredictorReady, IngressReady or Ready is False (not Unknown)

    @property
    def new_revision_ready(self) -> bool:
        """The newest revision the status reports is ready."""
        return bool(self.latest_created) and self.latest_created == self.latest_ready

    def canary_revision(self, created_before: str) -> str:
        """The revision a canary started after `created_before` (the latestCreatedRevision
        read before the start) runs; "" while the status does not report it yet (until
        then the newest revision it names is the old one)."""
        return self.latest_created if self.latest_created != created_before else ""

    def canary_share(self, created_before: str) -> int:
        """The share of requests that canary's revision gets now: 0 until it is reported
        and ready."""
        revision = self.canary_revision(created_before)
        return self.percent_of(revision) if revision and self.new_revision_ready else 0

    def percent_of(self, revision: str) -> int:
        """The share of requests `revision` gets (targets naming it add up)."""
        return sum(t.percent for t in self.traffic if t.revision == revision)


def read_state(obj: Mapping[str, Any]) -> InferenceServiceState:
    """The state of an InferenceService as served; a missing field reads as empty."""
    metadata, status = nested(obj, "metadata"), nested(obj, "status")
    predictor = nested(obj, "spec", "predictor")
    component = nested(status, "components", "predictor")
    traffic = tuple(
        TrafficTarget(revision=str(entry.get("revisionName") or ""),
                      percent=integer(entry.get("percent")) or 0,
                      latest=entry.get("latestRevision") is True,
                      tag=str(entry.get("tag") or ""))
        for entry in mappings(component.get("traffic")))
    ready, because, failed = _readiness(status)
    return InferenceServiceState(
        namespace=str(metadata.get("namespace") or ""), name=str(metadata.get("name") or ""),
        generation=integer(metadata.get("generation")) or 0,
        deployment_mode=str(status.get("deploymentMode")
                            or nested(metadata, "annotations").get(DEPLOYMENT_MODE) or ""),
        canary_percent=integer(predictor.get(_PERCENT)), predictor=predictor,
        annotations={str(key): str(value)
                     for key, value in nested(metadata, "annotations").items()},
        images=_images(predictor),
        latest_created=str(component.get("latestCreatedRevision") or ""),
        latest_ready=str(component.get("latestReadyRevision") or ""),
        latest_rolled_out=str(component.get("latestRolledoutRevision") or ""),
        previous_rolled_out=str(component.get("previousRolledoutRevision") or ""),
        traffic=traffic, ready=ready, not_ready_because=because, failed=failed)


def _images(predictor: Mapping[str, Any]) -> dict[str, str]:
    return {str(c.get("name") or ""): str(c.get("image") or "")
            for c in mappings(predictor.get("containers"))}


def _readiness(status: Mapping[str, Any]) -> tuple[bool, str, bool]:
    """The Ready condition (PredictorReady and IngressReady); when it is not True, the
    first unhappy condition's type, reason and message, and whether it is False (failed,
    e.g. RevisionFailed) rather than Unknown (still deploying)."""
    conditions = {str(c.get("type")): c for c in mappings(status.get("conditions"))}
    if conditions.get("Ready", {}).get("status") == "True":
        return True, "", False
    for kind in ("PredictorReady", "IngressReady", "Ready"):
        condition = conditions.get(kind, {})
        if condition.get("status") != "True":
            detail = ": ".join(str(condition.get(key)) for key in ("reason", "message")
                               if condition.get(key))
            state = condition.get("status") or "not reported"
            return False, f"{kind} is {state}" + (f" ({detail})" if detail else ""), \
                state == "False"
    return False, "Ready is not reported", False


# -- patches -----------------------------------------------------------------------------


def _checked_percent(percent: int) -> int:
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise UsageError(f"canaryTrafficPercent must be a whole number from 0 to 100, "
                         f"not {percent!r}")
    return percent


def percent_patch(percent: int) -> JSON:
    """The merge patch setting the canary's share."""
    return {"spec": {"predictor": {_PERCENT: _checked_percent(percent)}}}


def require_serverless(state: InferenceServiceState) -> str:
    """Refuse (exit 2) an InferenceService not in the serverless mode, where
    canaryTrafficPercent does nothing; else its name for messages."""
    what = f"InferenceService {state.namespace}/{state.name}"
    if state.deployment_mode not in SERVERLESS_MODES:
        mode = state.deployment_mode or "not set (KServe's default is Standard)"
        raise UsageError(f"{what}: deployment mode {mode}; canaryTrafficPercent works only "
                         f"in the serverless mode: annotate it {DEPLOYMENT_MODE}: Serverless")
    return what


@dataclass(frozen=True)
class StartedCanary:
    """What a canary's start knew before its write: what an abort needs."""

    created_before: str  # latestCreatedRevision: the canary's revision is a later one
    stable_revision: str  # latestRolledoutRevision: where an abort sends everything back
    previous_predictor: Mapping[str, Any]  # spec.predictor: what an abort restores

    def to_annotation(self) -> str:
        return json.dumps({"createdBefore": self.created_before,
                           "stableRevision": self.stable_revision,
                           "predictor": dict(self.previous_predictor)},
                          sort_keys=True, separators=(",", ":"))


def started_from(before: InferenceServiceState) -> StartedCanary:
    """The record of a canary started on `before` (the InferenceService as read)."""
    return StartedCanary(created_before=before.latest_created,
                         stable_revision=before.latest_rolled_out or before.latest_created,
                         previous_predictor=dict(before.predictor))


def recorded_start(state: InferenceServiceState) -> StartedCanary:
    """The start recorded in the annotation `CANARY_START`; exit 2 naming it when it is
    missing or not what a start writes: an abort never guesses the predictor."""
    what = f"InferenceService {state.namespace}/{state.name}"
    text = state.annotations.get(CANARY_START)
    if text is None:
        raise UsageError(f"{what} has canaryTrafficPercent {state.canary_percent} but no "
                         f"{CANARY_START} annotation (the predictor before the canary, "
                         "which `canary run` writes when it starts one): nothing to restore "
                         "from; put the previous predictor back by hand")
    try:
        record = json.loads(text)
        created, stable = record["createdBefore"], record["stableRevision"]
        predictor = record["predictor"]
    except (ValueError, TypeError, KeyError) as garbled:
        raise UsageError(f"{what}: annotation {CANARY_START} is not the JSON a canary's "
                         f"start writes ({garbled!r}): nothing to restore from; put the "
                         "previous predictor back by hand") from None
    if not (isinstance(created, str) and isinstance(stable, str)
            and isinstance(predictor, dict) and _images(predictor)):
        raise UsageError(f"{what}: annotation {CANARY_START} lacks the revisions or the "
                         "predictor containers a canary's start writes: nothing to restore "
                         "from; put the previous predictor back by hand")
    return StartedCanary(created, stable, predictor)


def start_operations(state: InferenceServiceState, image: str, percent: int,
                     container: str | None = None) -> list[JSON]:
    """The JSON patch giving the predictor container (the named one, or the only one; `*`:
    all) `image` and the new revision `percent` %, and recording the start
    (`CANARY_START`), in one write (one new revision)."""
    what = require_serverless(state)
    chosen = pick_container(state.images, container, what)
    operations: list[JSON] = [
        {"op": "test", "path": "/metadata/generation", "value": state.generation}]
    for index, name in enumerate(state.images):
        if chosen in ("*", name):
            path = f"/spec/predictor/containers/{index}"
            operations += [{"op": "test", "path": f"{path}/name", "value": name},
                           {"op": "replace", "path": f"{path}/image", "value": image}]
    operations.append({"op": "add", "path": f"/spec/predictor/{_PERCENT}",
                       "value": _checked_percent(percent)})
    record = started_from(state).to_annotation()
    key = CANARY_START.replace("~", "~0").replace("/", "~1")  # a JSON pointer token
    operations.append(
        {"op": "add", "path": f"/metadata/annotations/{key}", "value": record}
        if state.annotations else
        {"op": "add", "path": "/metadata/annotations", "value": {CANARY_START: record}})
    return operations


def abort_operations(state: InferenceServiceState,
                     previous_predictor: Mapping[str, Any]) -> list[JSON]:
    """The JSON patch putting `previous_predictor` (the spec before the canary started)
    back with `canaryTrafficPercent: 0`: every request stays on the last rolled-out
    revision, and the revision the restored spec starts never gets any."""
    return [{"op": "test", "path": "/metadata/generation", "value": state.generation},
            {"op": "replace", "path": "/spec/predictor",
             "value": restored_predictor(previous_predictor)}]


def restored_predictor(previous_predictor: Mapping[str, Any]) -> JSON:
    """`previous_predictor` with canaryTrafficPercent 0: the predictor an abort writes."""
    kept = {key: value for key, value in previous_predictor.items() if key != _PERCENT}
    return {**kept, _PERCENT: 0}


# -- calls -------------------------------------------------------------------------------


def read(api: KubeApi, namespace: str, name: str) -> InferenceServiceState:
    return read_state(api.get(INFERENCE_SERVICES, namespace, name))


@dataclass(frozen=True)
class CanaryStart:
    state: InferenceServiceState  # the write's answer (the status the controller last wrote)
    started: StartedCanary  # what was known before the start (also in the annotation)


def start_canary(api: KubeApi, namespace: str, name: str, image: str, *, percent: int,
                 container: str | None = None) -> CanaryStart:
    """Start a canary of `image` at `percent` % of the requests."""
    before = read(api, namespace, name)
    answer = api.json_patch(INFERENCE_SERVICES, namespace, name,
                            start_operations(before, image, percent, container))
    return CanaryStart(read_state(answer), started_from(before))


def set_canary_percent(api: KubeApi, namespace: str, name: str,
                       percent: int) -> InferenceServiceState:
    return read_state(api.patch(INFERENCE_SERVICES, namespace, name, percent_patch(percent)))


def promote(api: KubeApi, namespace: str, name: str) -> InferenceServiceState:
    """Remove canaryTrafficPercent: the latest ready revision gets every request."""
    return read_state(api.patch(INFERENCE_SERVICES, namespace, name, PROMOTE))


def abort(api: KubeApi, namespace: str, name: str,
          previous_predictor: Mapping[str, Any]) -> InferenceServiceState:
    current = read(api, namespace, name)
    return read_state(api.json_patch(INFERENCE_SERVICES, namespace, name,
                                     abort_operations(current, previous_predictor)))
