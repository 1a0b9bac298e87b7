"""A local stand-in for KServe InferenceServices (serving.kserve.io/v1beta1) in the
serverless (Knative) deployment mode, with an emulation of the KServe controller and of
the Knative Service it drives.

The API server slice is ``kube_api.py``'s (GET, PUT, merge and JSON PATCH of
``/apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices/{name}``; the CRD
has the status subresource, so a write of the object keeps the status). The controllers
follow KServe at aaac4e294dae2c7b1aa1886447793f3aa1c30912 and Knative Serving at
98e5ef90aa7033797aa0a61ef97f3ff7e49a3944; each rule names its upstream file. They
reconcile ``controller_delay`` seconds after a write, never inside it; each pass runs the
KServe reconcile (one InferenceService status write) and then one Knative reconcile, so
the InferenceService reports what Knative resolved in the pass before, as on a cluster:

- KServe's predictor reconciler builds the Knative Service (createKnativeService,
  ``pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go``): its
  revision template is the predictor without ``canaryTrafficPercent`` plus the
  InferenceService's annotations but the disallowed ones
  (``ServiceAnnotationDisallowedList``, ``pkg/constants/constants.go``), so an annotation
  change also starts a revision; with ``canaryTrafficPercent`` N and a
  ``latestRolledoutRevision``, its traffic is N % to the latest revision and 100 - N to
  the last rolled-out one (tag ``prev``), else 100 % to the latest revision.
- Knative creates a revision ``<name>-predictor-0000N`` for the Configuration's
  generation N, one more per new template, even one an older revision had
  (``pkg/reconciler/configuration/configuration.go``, ``resources/revision.go``); it
  becomes ready ``readiness_delay`` seconds later, or, for an image given to
  ``never_ready``, fails after ``progress_deadline`` seconds (ProgressDeadlineExceeded,
  ``pkg/apis/serving/v1/revision_lifecycle.go``); ``latestReadyRevisionName`` is the
  newest ready revision (findAndSetLatestReadyRevision); the route resolves "latest
  revision" to it, so a revision that is not ready gets no traffic; ConfigurationsReady is
  Unknown while the latest created revision is not ready and False (RevisionFailed) when
  it failed (``pkg/apis/serving/v1/configuration_lifecycle.go``,
  ``service_lifecycle.go``); Ready is both it and RoutesReady.
- KServe copies that status into the InferenceService (PropagateStatus,
  ``pkg/apis/serving/v1beta1/inference_service_status.go``): ``latestCreatedRevision``,
  ``latestReadyRevision``, ``traffic``; ``latestRolledoutRevision`` moves to the latest
  ready revision once it has 100 % (the old one becomes ``previousRolledoutRevision``),
  and back to ``previousRolledoutRevision`` when the latest ready revision is the rolled
  out one and ``canaryTrafficPercent`` 0 leaves it none (a rollback); PredictorReady is
  the Knative Service's Ready; ``status.observedGeneration`` is the *Knative Service's*
  observed generation, not the InferenceService's. IngressReady turns True once the
  predictor has a URL (IngressReconciler.Reconcile,
  ``reconcilers/ingress/ingress_reconciler.go``); Ready is PredictorReady and
  IngressReady (the living condition set).

``status.deploymentMode`` is the mode the annotation names, normalized (``Knative``;
``Standard`` without the annotation: KServe's default at that commit).

Not emulated: transformers, explainers, model-format predictors (a ServingRuntime), the
``Standard`` (raw Deployment) mode beyond its ``status.deploymentMode``, ``spec.canary``,
tags' URLs, scale to zero, and Knative's webhook refusing a percent outside 0..100 (the
client refuses it first).
"""

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tests.support.standins.kube_api import JSON, ApiState, Kind, KubeApiStandIn, now_text

GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
PROGRESS_DEADLINE = 600.0  # Knative's default progress-deadline (config-deployment)
DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
CONTAINER = "kserve-container"  # the name KServe gives a custom predictor's container
DISALLOWED_ANNOTATIONS = frozenset({  # ServiceAnnotationDisallowedList (constants.go)
    "autoscaling.knative.dev/min-scale", "autoscaling.knative.dev/max-scale",
    "internal.serving.kserve.io/storage-initializer-sourceuri",
    "kubectl.kubernetes.io/last-applied-configuration", "serving.kserve.io/model-format"})
_CONFIGURATIONS, _ROUTES, _READY = "ConfigurationsReady", "RoutesReady", "Ready"


@dataclass
class _Revision:
    name: str
    generation: int  # the Configuration's generation it was created for
    template: JSON
    created: float
    ready_at: float  # when its pods pass their readiness probe (unless never_ready)

    @property
    def images(self) -> list[str]:
        return [str(c.get("image")) for c in self.template["spec"].get("containers") or []]


@dataclass
class _KnativeService:
    """The Knative Service KServe owns for the predictor: its spec and the status Knative
    last wrote."""

    name: str  # <InferenceService>-predictor
    namespace: str
    generation: int = 0
    configuration_generation: int = 0  # its Configuration's: one more per new template
    template: JSON | None = None
    targets: list[JSON] = field(default_factory=list)
    revisions: list[_Revision] = field(default_factory=list)
    observed_generation: int = 0
    latest_ready: str = ""
    traffic: list[JSON] = field(default_factory=list)
    conditions: dict[str, tuple[str, str, str]] = field(default_factory=dict)


@dataclass
class _State(ApiState):
    services: dict[tuple[str, str], _KnativeService] = field(default_factory=dict)


@dataclass(frozen=True)
class Split:
    """How a splitter should send live requests: percent per image (revisions running the
    same image add up)."""

    percent_by_image: dict[str, int]


class KServeStandIn(KubeApiStandIn):
    """A threaded HTTP server on 127.0.0.1 (free port); use as a context manager."""

    KINDS: ClassVar[dict[str, Kind]] = {
        PLURAL: Kind(GROUP, VERSION, "InferenceService", status_subresource=True)}
    CONTROLLED: ClassVar[str] = PLURAL
    _state: _State

    def __init__(self, progress_deadline: float = PROGRESS_DEADLINE, **options: Any) -> None:
        self.progress_deadline = progress_deadline
        super().__init__(**options)

    def _new_state(self) -> _State:
        return _State()

    # -- seeding and inspection ----------------------------------------------------------

    def add_inference_service(self, name: str, namespace: str = "default",
                              image: str = "app:v1", annotations: JSON | None = None) -> JSON:
        """An InferenceService with a custom predictor container, as `kubectl apply`
        creates it, reconciled until its first revision serves 100 %."""
        metadata_annotations = {DEPLOYMENT_MODE: "Serverless", **(annotations or {})}
        spec = {"predictor": {"minReplicas": 1, "containers": [
            {"name": CONTAINER, "image": image,
             "ports": [{"name": "http1", "containerPort": 8080, "protocol": "TCP"}]}]}}
        self._create(PLURAL, namespace, name, spec, annotations=metadata_annotations)
        self.settle()  # applied long ago: its first revision is ready
        return self.inference_service(name, namespace)

    def inference_service(self, name: str, namespace: str = "default") -> JSON:
        return self.get(PLURAL, namespace, name)

    def revision_images(self, name: str, namespace: str = "default") -> dict[str, list[str]]:
        """Each revision's container images, by revision name."""
        with self._lock:
            service = self._state.services.get((namespace, name))
            if service is None:
                return {}
            return {r.name: r.images for r in service.revisions}

    def split(self, name: str, namespace: str = "default") -> Split:
        """What the data plane does now: the Knative route's resolved traffic, by image."""
        images = self.revision_images(name, namespace)
        with self._lock:
            traffic = self._state.services[(namespace, name)].traffic
            shares: dict[str, int] = {}
            for target in traffic:
                for image in images.get(str(target.get("revisionName")), [])[:1]:
                    shares[image] = shares.get(image, 0) + int(target.get("percent") or 0)
        return Split({image: share for image, share in shares.items() if share})

    # -- controller emulation ------------------------------------------------------------

    def _reconcile(self, namespace: str) -> bool:
        """One KServe reconcile and one Knative reconcile of each InferenceService in
        `namespace`; True when a status changed. A change is reconciled again after
        `controller_delay` (the owned Knative Service's status change is watched), and a
        revision waiting to become ready (or fail) when that time comes."""
        changed, wakes = False, []
        now = time.monotonic()
        for (plural, ns, name), obj in list(self._state.objects.items()):
            if plural != PLURAL or ns != namespace:
                continue
            service = self._state.services.setdefault(
                (ns, name), _KnativeService(f"{name}-predictor", ns))
            status = _kserve_reconcile(obj, service)
            knative = _knative_reconcile(service, now, self.readiness_delay,
                                         self._revision_state)
            if status != obj["status"]:
                updated = {**obj, "status": status}
                self._bump(updated)
                self._state.objects[(plural, ns, name)] = updated
            if status != obj["status"] or knative:
                changed = True
                wakes.append(self.controller_delay)
            pending = self._next_revision_event(service, now)
            if pending is not None:
                wakes.append(pending)
        if wakes:
            self._wake(namespace, min(wakes))
        return changed

    def _never_ready(self, revision: _Revision) -> bool:
        return any(image in self._state.never_ready for image in revision.images)

    def _revision_state(self, revision: _Revision, now: float) -> str:
        """'True' (ready), 'False' (failed) or 'Unknown' (deploying)."""
        if self._never_ready(revision):
            return "False" if now - revision.created >= self.progress_deadline else "Unknown"
        return "True" if now >= revision.ready_at else "Unknown"

    def _next_revision_event(self, service: _KnativeService, now: float) -> float | None:
        if not service.revisions:
            return None
        latest = service.revisions[-1]
        if self._revision_state(latest, now) != "Unknown":
            return None
        due = latest.created + self.progress_deadline if self._never_ready(latest) \
            else latest.ready_at
        return max(due - now, 0.0)


# -- KServe ------------------------------------------------------------------------------


def _desired_template(obj: JSON) -> JSON:
    """The Knative revision template KServe builds: the predictor's pod spec and the
    annotations that propagate (createKnativeService; buildPredictorResources in
    components/predictor.go)."""
    predictor = copy.deepcopy((obj.get("spec") or {}).get("predictor") or {})
    predictor.pop("canaryTrafficPercent", None)
    annotations = {key: value for key, value in
                   ((obj.get("metadata") or {}).get("annotations") or {}).items()
                   if key not in DISALLOWED_ANNOTATIONS}
    return {"metadata": {"annotations": annotations}, "spec": predictor}


def _desired_targets(obj: JSON, rolled_out: str) -> list[JSON]:
    """The Knative traffic targets (createKnativeService, ksvc_reconciler.go)."""
    percent = ((obj.get("spec") or {}).get("predictor") or {}).get("canaryTrafficPercent")
    if percent is None or not rolled_out:
        return [{"latestRevision": True, "percent": 100}]
    targets: list[JSON] = [{"latestRevision": True, "percent": int(percent)}]
    if int(percent) < 100:
        targets.append({"revisionName": rolled_out, "latestRevision": False,
                        "percent": 100 - int(percent), "tag": "prev"})
    return targets


def deployment_mode(obj: JSON) -> str:
    """ParseDeploymentMode (pkg/constants/constants.go): the annotation, the legacy names
    normalized; without it the default, Standard (raw Deployments)."""
    mode = str(((obj.get("metadata") or {}).get("annotations") or {}).get(DEPLOYMENT_MODE)
               or "Standard")
    return {"Serverless": "Knative", "RawDeployment": "Standard"}.get(mode, mode)


def _kserve_reconcile(obj: JSON, service: _KnativeService) -> JSON:
    """Update the Knative Service from the spec and the status as read at the start of the
    reconcile, then propagate the Knative Service's status (as Knative last wrote it).
    Another deployment mode gets only status.deploymentMode (updateStatus, controller.go):
    it is not emulated."""
    status = copy.deepcopy(obj.get("status") or {})
    status["deploymentMode"] = deployment_mode(obj)
    if status["deploymentMode"] != "Knative":
        return status
    predictor = dict((status.get("components") or {}).get("predictor") or {})
    template = _desired_template(obj)
    targets = _desired_targets(obj, str(predictor.get("latestRolledoutRevision") or ""))
    if template != service.template:
        service.configuration_generation += 1
    if (template, targets) != (service.template, service.targets):
        service.template, service.targets = template, targets
        service.generation += 1
    if service.observed_generation == 0:
        return status  # Knative has not reconciled the new Service yet
    _propagate(status, predictor, service)
    return status


def _propagate(status: JSON, predictor: JSON, service: _KnativeService) -> None:
    """PropagateStatus (inference_service_status.go) and the ingress's IngressReady."""
    created = service.revisions[-1].name if service.revisions else ""
    predictor["latestCreatedRevision"] = created
    _track_rollouts(predictor, service, created)
    predictor["latestReadyRevision"] = service.latest_ready
    if service.conditions.get(_READY, ("Unknown", "", ""))[0] == "True":
        predictor["url"] = f"http://{service.name}.{service.namespace}.example.com"
    predictor["traffic"] = copy.deepcopy(service.traffic)
    predictor = {key: value for key, value in predictor.items() if value not in ("", None)}
    status.setdefault("components", {})["predictor"] = predictor
    if predictor.get("url"):
        status["url"] = predictor["url"]
    _propagate_conditions(status, service, has_url=bool(predictor.get("url")))
    status["observedGeneration"] = service.observed_generation


def _track_rollouts(predictor: JSON, service: _KnativeService, created: str) -> None:
    """latestRolledoutRevision and previousRolledoutRevision, as PropagateStatus moves
    them: forward once the latest ready revision has 100 %, back on a rollback (the
    latest ready revision is the rolled-out one and gets less than 100 % as "latest"
    while it has 100 % in all)."""
    totals: dict[str, int] = {}
    for target in service.traffic:
        name = str(target.get("revisionName"))
        totals[name] = totals.get(name, 0) + int(target.get("percent") or 0)
    for target in service.traffic:
        if target.get("revisionName") != service.latest_ready or not target.get("latestRevision"):
            continue
        if predictor.get("latestRolledoutRevision") != service.latest_ready:
            if target.get("percent") == 100:
                predictor["previousRolledoutRevision"] = predictor.get("latestRolledoutRevision")
                predictor["latestRolledoutRevision"] = service.latest_ready
        elif service.latest_ready == created and int(target.get("percent") or 0) < 100 \
                and totals.get(service.latest_ready) == 100 \
                and predictor.get("previousRolledoutRevision"):
            predictor["latestRolledoutRevision"] = predictor["previousRolledoutRevision"]


def _propagate_conditions(status: JSON, service: _KnativeService, *, has_url: bool) -> None:
    """The predictor's conditions from the Knative Service's; IngressReady once the
    predictor has a URL; Ready from PredictorReady and IngressReady."""
    unknown = ("Unknown", "", "")
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    _set(conditions, "PredictorReady", service.conditions.get(_READY, unknown))
    _set(conditions, "PredictorRouteReady", service.conditions.get(_ROUTES, unknown))
    _set(conditions, "PredictorConfigurationReady",
         service.conditions.get(_CONFIGURATIONS, unknown))
    _set(conditions, "IngressReady", ("True", "", "") if has_url
         else _state_of(conditions, "IngressReady"))
    _set(conditions, _READY, _all_of(_state_of(conditions, "PredictorReady"),
                                     _state_of(conditions, "IngressReady")))
    status["conditions"] = [conditions[kind] for kind in sorted(conditions)]


def _state_of(conditions: dict[str, JSON], kind: str) -> tuple[str, str, str]:
    condition = conditions.get(kind) or {}
    return (str(condition.get("status") or "Unknown"), str(condition.get("reason") or ""),
            str(condition.get("message") or ""))


def _set(conditions: dict[str, JSON], kind: str, state: tuple[str, str, str]) -> None:
    """A knative.dev/pkg apis.Condition; lastTransitionTime moves only with the status."""
    before = conditions.get(kind) or {}
    condition: JSON = {"type": kind, "status": state[0]}
    if state[1]:
        condition["reason"] = state[1]
    if state[2]:
        condition["message"] = state[2]
    condition["lastTransitionTime"] = before.get("lastTransitionTime") \
        if before.get("status") == state[0] and before.get("lastTransitionTime") else now_text()
    conditions[kind] = condition


def _all_of(*states: tuple[str, str, str]) -> tuple[str, str, str]:
    """A living condition set's Ready: False if one is False, Unknown if one is, else
    True; the first unhappy one's reason and message."""
    for wanted in ("False", "Unknown"):
        for state in states:
            if state[0] == wanted:
                return state
    return "True", "", ""


# -- Knative -----------------------------------------------------------------------------


def _knative_reconcile(service: _KnativeService, now: float, readiness_delay: float,
                       revision_state: Callable[[_Revision, float], str]) -> bool:
    """One Knative reconcile of the Service: a revision for a new template, the latest
    ready revision, the route's resolved traffic and the conditions. True when its status
    changed."""
    if service.template is None:
        return False
    before = (service.observed_generation, len(service.revisions), service.latest_ready,
              copy.deepcopy(service.traffic), dict(service.conditions))
    generation = service.configuration_generation
    if not service.revisions or service.revisions[-1].generation != generation:
        # named after the Configuration's generation (resources/revision.go)
        service.revisions.append(_Revision(f"{service.name}-{generation:05d}", generation,
                                           copy.deepcopy(service.template), now,
                                           now + readiness_delay))
    latest = service.revisions[-1]
    for revision in reversed(service.revisions):
        if revision.name == service.latest_ready:
            break
        if revision_state(revision, now) == "True":
            service.latest_ready = revision.name
            break
    state = revision_state(latest, now)
    configurations = ("True", "", "") if state == "True" else (
        "False", "RevisionFailed", f'Revision "{latest.name}" failed with message: Initial '
        "scale was never achieved.") if state == "False" else ("Unknown", "", "")
    service.traffic = _resolve(service.targets, service.latest_ready) \
        if service.latest_ready else []
    routes = ("True", "", "") if service.traffic else \
        ("Unknown", "TrafficNotMigrated", "Traffic is not yet migrated to the latest revision.")
    service.conditions = {_CONFIGURATIONS: configurations, _ROUTES: routes,
                          _READY: _all_of(configurations, routes)}
    service.observed_generation = service.generation
    return before != (service.observed_generation, len(service.revisions),
                      service.latest_ready, service.traffic, dict(service.conditions))


def _resolve(targets: list[JSON], latest_ready: str) -> list[JSON]:
    """The route's status traffic: "latest revision" is the latest ready one."""
    resolved = []
    for target in targets:
        entry = {"revisionName": latest_ready if target.get("latestRevision")
                 else target.get("revisionName"),
                 "latestRevision": bool(target.get("latestRevision")),
                 "percent": int(target.get("percent") or 0)}
        if target.get("tag"):
            entry["tag"] = target["tag"]
        resolved.append(entry)
    return resolved
