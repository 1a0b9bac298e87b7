"""A local stand-in for the Kubernetes API slice that Argo Rollouts tooling uses, with an
emulation of the Argo Rollouts controller's canary step semantics.

No Kubernetes API server or Argo controller can run here (docs/argo-rollouts.md), so
this serves, on 127.0.0.1 and a free port, what the real `kubernetes` client sends:

- ``GET|PUT|PATCH /apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts/{name}`` and
  ``.../status``; ``GET|PUT /apis/apps/v1/namespaces/{ns}/deployments/{name}`` (for a
  Rollout's ``workloadRef``); ``GET|PUT|PATCH
  /apis/networking.istio.io/v1/namespaces/{ns}/virtualservices/{name}``;
with the API server's semantics of ``kube_api.py`` (merge and JSON patches,
resourceVersion conflicts, auth, forbidden verbs, injected faults); with the status
subresource off, ``/status`` answers 404 as on Argo v0.9.

The controller emulation reconciles ``controller_delay``
seconds after each write (default 0.05), never inside it, so a write's answer and the reads
before that reconcile show the status the controller last wrote, as on a cluster; it
reconciles again after each status it writes (its informer sees it), when a pod becomes
ready, when a timed pause ends and at the progress deadline, and on a read owed no stale
answer (a resync). Its rules follow Argo Rollouts v1.10 (the upstream file is named at each
rule). Each reconcile completes at most one canary step and writes its status
(syncRolloutStatusCanary, ``rollout/canary.go``). A new pod template starts a revision at
step 0 in a reconcile that runs no step and keeps the old ``status.canary.weights`` (the
stable pod hash). Pods (``rollout_replicas.py``) become ready ``readiness_delay`` seconds
after they are created (default 0.1; ``never_ready(image)``: never); the canary is scaled
to its share of ``spec.replicas`` (default 1) for the step's weight or ``setCanaryScale``,
and a ``setWeight`` or ``setCanaryScale`` step completes, and its weight is written (with
traffic routing only), once the canary is at its counts with every pod available;
``replicas``/``updatedReplicas``/``readyReplicas``/``availableReplicas`` are always
written. A ``pause: {}`` step adds the ``CanaryPauseStep`` pause condition and waits until
it is cleared, a timed pause (Go duration syntax, ``1h30m``) until it expires; abort sends
the weight to 0, scales the canary to 0 and sets the ``Progressing`` condition to
``RolloutAborted`` (phase Degraded); clearing abort (retry) is acknowledged with
``RolloutRetry`` on the next reconcile and starts again from step 0; an abort of a fully
promoted rollout is dropped (it stays Healthy); ``promoteFull`` or the end of the steps
scales the canary to every replica and makes the new revision stable once they are all
available (Healthy only then). No progress for ``progressDeadlineSeconds`` (default 600)
outside a pause sets ``Progressing`` to ``ProgressDeadlineExceeded`` (phase Degraded), or
with ``progressDeadlineAbort`` aborts the update. ``setMirrorRoute`` steps pass at once, as
the controller completes them, and change no weight. With Istio traffic routing (a mirror
phase seeds it, with its VirtualService) the reconcile edits the VirtualServices
``trafficRouting.istio`` names as Argo's Istio reconciler does (``standins/istio.py``):
each ``setMirrorRoute`` step that is current during a reconcile writes (with a ``match``)
or removes (with only its ``name``) its route, and only then, as
``reconcileTrafficRouting`` (``rollout/trafficrouting.go``) calls ``SetMirrorRoute`` only
for the current step; an abort, a full promotion and a new revision whose pods are not
available yet remove every managed route (``RemoveManagedRoutes``), and
``remove_managed_routes`` does what a canary losing its pods makes the controller do. A
route removed after its step is never written again. The controller writes nothing about
mirrors into status, so neither does this; a missing VirtualService and traffic-router
plugins' mirrors are not emulated. As the controller's validation does, a
``setMirrorRoute`` without Istio or a traffic-router plugin or whose route is not listed in
``trafficRouting.managedRoutes``, a ``setCanaryScale`` without traffic routing, or an
unparseable pause duration adds the ``InvalidSpec`` condition (phase Degraded), and no step
runs.
``weight()``/``traffic()`` tell a traffic splitter how to split live requests and, from the
VirtualService's routes, what share of which requests to mirror.
"""

import copy
import functools
import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from tests.support.standins import istio
from tests.support.standins.kube_api import (
    JSON,
    ApiState,
    Kind,
    KubeApiStandIn,
    now_text,
)
from tests.support.standins.rollout_replicas import (
    Counts,
    ReplicaSet,
    desired_counts,
    previous_set_weight,
    set_weight_at,
    total_replicas,
)

PAUSE_STEP = "CanaryPauseStep"
REVISION = "rollout.argoproj.io/revision"
TIMED_OUT = "ProgressDeadlineExceeded"  # TimedOutReason (utils/conditions/conditions.go)


@dataclass(frozen=True)
class Traffic:
    """How a splitter should send live requests: `canary_weight` % to the new revision,
    and a copy of the requests the VirtualService's routes mirror to it too (its answer
    dropped)."""

    stable_image: str
    canary_image: str
    canary_weight: int
    virtual_service: JSON | None = None  # the first one trafficRouting.istio names

    @property
    def mirror(self) -> int:
        """The highest mirrorPercentage of any route (of the requests that route takes)."""
        routes = ((self.virtual_service or {}).get("spec") or {}).get("http") or []
        return max((int((r.get("mirrorPercentage") or {}).get("value", 100))
                    for r in routes if r.get("mirror")), default=0)

    def mirrored(self, method: str, path: str, headers: dict[str, str]) -> float:
        """The % of requests like this one that Istio mirrors to the new revision."""
        return istio.mirrored_share(self.virtual_service, method, path, headers)


@dataclass(frozen=True)
class Mirror:
    """A mirror phase before the weights: the steps the policy's `rollout.mirror` asks for."""

    route: str = "mirror"
    percentage: int = 50
    scale: int = 50
    match: tuple[JSON, ...] = ({"method": {"exact": "POST"}, "path": {"prefix": "/predict"}},)


def pod_hash(template: Any) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def canary_steps(weights: Sequence[int], mirror: Mirror | None = None) -> list[JSON]:
    steps: list[JSON] = []
    if mirror:
        steps += [{"setCanaryScale": {"weight": mirror.scale}},
                  {"setMirrorRoute": {"name": mirror.route, "percentage": mirror.percentage,
                                      "match": list(mirror.match)}},
                  {"pause": {}},
                  {"setMirrorRoute": {"name": mirror.route}},
                  {"setCanaryScale": {"matchTrafficWeight": True}}]
    for weight in weights:
        steps += [{"setWeight": weight}, {"pause": {}}]
    return steps


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0,
             "m": 60.0, "h": 3600.0}
_GO_TERM = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def go_duration_seconds(text: str) -> float | None:
    """Go's time.ParseDuration (`1h30m`, `1.5s`, `300ms`, `-2m`, `0`), None when it fails."""
    sign, body = (-1.0, text[1:]) if text[:1] == "-" else (1.0, text.removeprefix("+"))
    if body == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(body):
        term = _GO_TERM.match(body, position)
        if term is None:
            return None
        total += float(term[1]) * _GO_UNITS[term[2]]
        position = term.end()
    return sign * total if body else None


def pause_seconds(value: Any) -> int | None:
    """RolloutPause.DurationSeconds (pkg/apis/rollouts/v1alpha1/types.go): a whole number of
    seconds for an int or a digits-only string, else Go duration syntax truncated to whole
    seconds; -1 when unparseable (the validation refuses it); None without a duration."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    seconds = go_duration_seconds(text)
    return -1 if seconds is None else int(seconds)


@dataclass(frozen=True)
class _Pods:
    """What a reconcile found of the new revision's pods: at the counts the controller
    wants (AtDesiredReplicaCountsForCanary), and how many are available."""

    at_desired: bool
    canary_available: int


@dataclass
class _State(ApiState):
    images: dict[str, dict[str, str]] = field(default_factory=dict)  # pod hash → images
    replica_sets: dict[tuple[str, str, str], ReplicaSet] = field(default_factory=dict)


class RolloutsStandIn(KubeApiStandIn):
    """A threaded HTTP server on 127.0.0.1 (free port); use as a context manager."""

    KINDS: ClassVar[dict[str, Kind]] = {
        "rollouts": Kind("argoproj.io", "v1alpha1", "Rollout", status_subresource=True),
        "deployments": Kind("apps", "v1", "Deployment"),
        istio.PLURAL: Kind(istio.GROUP, istio.VERSION, istio.KIND[1]),
    }
    CONTROLLED: ClassVar[str] = "rollouts"
    _state: _State

    def _new_state(self) -> _State:
        return _State()

    # -- seeding -------------------------------------------------------------------------

    def add_rollout(self, name: str, namespace: str = "default", image: str = "app:v1",
                    weights: Sequence[int] = (10, 25, 50, 100), container: str = "server",
                    steps: list[JSON] | None = None, traffic_routing: bool | JSON = True,
                    workload_ref: str | None = None, mirror: Mirror | None = None,
                    managed_routes: Sequence[str] | None = None, replicas: int | None = 2,
                    progress_deadline: int | None = None,
                    progress_deadline_abort: bool = False) -> JSON:
        """A Rollout as `kubectl apply` would create it, reconciled to Healthy (stable).
        With `mirror`, its steps start with the mirror phase and its route is managed
        (`managed_routes` overrides the names listed). `traffic_routing` is on (a
        traffic-router plugin; with `mirror`, Istio and a VirtualService named after the
        rollout, `add_virtual_service`), off, or the router's settings (`{"nginx": ...}`).

        `replicas` None leaves spec.replicas out (the controller's default is 1);
        `progress_deadline` sets spec.progressDeadlineSeconds (default 600 s) and
        `progress_deadline_abort` spec.progressDeadlineAbort."""
        canary: JSON = {"steps": canary_steps(weights, mirror) if steps is None else steps}
        if traffic_routing:
            routes = [mirror.route] if mirror and managed_routes is None \
                else list(managed_routes or ())
            if isinstance(traffic_routing, dict):
                routing = copy.deepcopy(traffic_routing)
            elif mirror:
                routing = {"istio": {
                    "virtualService": {"name": name, "routes": [istio.PRIMARY]},
                    "destinationRule": {"name": name, "canarySubsetName": "canary",
                                        "stableSubsetName": "stable"}}}
                self.add_virtual_service(name, namespace)
            else:
                routing = {"plugins": {"modelrail/standin": {}}}
            canary.update(canaryService=f"{name}-canary", stableService=f"{name}-stable",
                          trafficRouting=routing)
            if routes:
                canary["trafficRouting"]["managedRoutes"] = [{"name": r} for r in routes]
        spec: JSON = {"selector": {"matchLabels": {"app": name}},
                      "strategy": {"canary": canary}}
        if replicas is not None:
            spec["replicas"] = replicas
        if progress_deadline is not None:
            spec["progressDeadlineSeconds"] = progress_deadline
        if progress_deadline_abort:
            spec["progressDeadlineAbort"] = True
        if workload_ref:
            spec["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "name": workload_ref}
        else:
            spec["template"] = _template(name, container, image)
        return self._create("rollouts", namespace, name, spec)

    def add_virtual_service(self, name: str, namespace: str = "default",
                            host: str | None = None) -> JSON:
        """A VirtualService with one route (`primary`) over the stable and canary subsets
        of `host` (default: `name`), as a user applies it next to the Rollout."""
        return self._create(istio.PLURAL, namespace, name,
                            istio.virtual_service_spec(host or name))

    def add_deployment(self, name: str, namespace: str = "default", image: str = "app:v1",
                       container: str = "server") -> JSON:
        spec = {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                "template": _template(name, container, image)}
        return self._create("deployments", namespace, name, spec)

    def rollout(self, name: str, namespace: str = "default") -> JSON:
        return self.get("rollouts", namespace, name)

    # -- traffic -------------------------------------------------------------------------

    def traffic(self, name: str, namespace: str = "default") -> Traffic:
        """Stable and new revision images and the new revision's share (100 once stable)."""
        with self._lock:
            obj = self._state.objects[("rollouts", namespace, name)]
            status = obj["status"]
            stable, current = status.get("stableRS", ""), status.get("currentPodHash", "")
            services = self._virtual_services(obj)
            return Traffic(stable_image=_first(self._state.images.get(stable, {})),
                           canary_image=_first(self._state.images.get(current, {})),
                           canary_weight=_new_revision_weight(obj),
                           virtual_service=copy.deepcopy(services[0]) if services else None)

    def weight(self, name: str, namespace: str = "default") -> int:
        return self.traffic(name, namespace).canary_weight

    def _reconcile(self, namespace: str) -> bool:
        """One reconcile of each Rollout in `namespace`; True when a status changed. A
        changed status is reconciled again after `controller_delay` (the controller's own
        status write reaches its informer), and a rollout waiting for pods, a timed pause
        or its progress deadline when that time comes (enqueueRolloutAfter in
        rollout/pause.go, requeueStuckRollout in rollout/sync.go; ReplicaSet events)."""
        changed, wakes = False, []
        for (plural, ns, name), obj in list(self._state.objects.items()):
            if plural != "rollouts" or ns != namespace:
                continue
            reconciled, wake = self._reconcile_rollout(obj)
            if reconciled != obj:
                self._bump(reconciled)
                self._state.objects[(plural, ns, name)] = reconciled
                changed, wake = True, self.controller_delay
            self._reconcile_routes(obj, reconciled)
            if wake is not None:
                wakes.append(wake)
        if wakes:
            self._wake(namespace, min(wakes))
        return changed

    # -- Istio: the managed routes (standins/istio.py) ------------------------------------

    def remove_managed_routes(self, name: str, namespace: str = "default") -> None:
        """What the controller does when the canary has no available pods (its pods
        crashed or were evicted): RemoveManagedRoutes (reconcileTrafficRouting,
        rollout/trafficrouting.go). A mirror step already passed does not write its route
        again."""
        with self._lock:
            self._edit_routes(self._state.objects[("rollouts", namespace, name)],
                              _remove_managed)

    def _reconcile_routes(self, before: JSON, after: JSON) -> None:
        """reconcileTrafficRouting's route edits for one reconcile (module docstring)."""
        status, old = after["status"], before.get("status") or {}
        if status.get("stableRS") == status.get("currentPodHash") or status.get("abort") \
                or old.get("currentPodHash") != status.get("currentPodHash"):
            self._edit_routes(after, _remove_managed)
            return
        steps = after["spec"]["strategy"]["canary"].get("steps") or []
        first = int(old.get("currentStepIndex") or 0)
        for step in steps[first: int(status.get("currentStepIndex") or 0) + 1]:
            if isinstance(step.get("setMirrorRoute"), dict):
                self._edit_routes(after, functools.partial(_set_mirror_route,
                                                           route=step["setMirrorRoute"]))

    def _edit_routes(self, rollout: JSON, edit: Callable[[JSON, JSON], Any]) -> None:
        """Apply `edit(vs, canary)` to each VirtualService the rollout routes through, and
        store those it changed as the controller's client.Update would."""
        canary = rollout["spec"].get("strategy", {}).get("canary") or {}
        for key, vs in self._virtual_service_items(rollout):
            edited = copy.deepcopy(vs)
            edit(edited, canary)
            if edited != vs:
                self._bump(edited)
                self._state.objects[key] = edited

    def _virtual_service_items(self, rollout: JSON) -> list[tuple[tuple[str, str, str], JSON]]:
        settings = ((rollout["spec"].get("strategy", {}).get("canary") or {})
                    .get("trafficRouting") or {}).get("istio") or {}
        keys = [(istio.PLURAL, ns, name) for ns, name in istio.virtual_service_names(
            settings, rollout["metadata"]["namespace"])]
        return [(key, self._state.objects[key]) for key in keys if key in self._state.objects]

    def _virtual_services(self, rollout: JSON) -> list[JSON]:
        return [vs for _, vs in self._virtual_service_items(rollout)]

    def _reconcile_rollout(self, obj: JSON) -> tuple[JSON, float | None]:
        """One pass of the controller over a Rollout (rolloutCanary, rollout/canary.go): the
        new status, and in how many seconds it wants to look again (None: no need)."""
        new = copy.deepcopy(obj)
        spec, status = new["spec"], new.setdefault("status", {})
        old = obj.get("status") or {}
        invalid = _invalid_spec(spec.get("strategy", {}).get("canary") or {})
        _set_invalid_spec(new, invalid)
        if invalid:  # the controller refuses the spec: no step runs
            status["phase"], status["message"] = _phase(new)
            status["observedGeneration"] = str(new["metadata"]["generation"])
            return new, None
        now = time.monotonic()
        reset = self._reset_if_changed(new)
        if status.get("abort") and status["stableRS"] == status["currentPodHash"]:
            status.pop("abort", None)  # rollout/controller.go: a fully promoted one stays so
        pods = self._scale(new, now, initial="stableRS" not in old)
        if not reset:  # PodTemplateOrStepsChanged: the reset is persisted, no step runs
            _set_weights(spec, status, pods)
            _advance(spec, status, pods)
        abort_message = _deadline_abort(new, old)
        _set_progressing(new, old, abort_message)
        status["phase"], status["message"] = _phase(new)
        status["observedGeneration"] = str(new["metadata"]["generation"])
        return new, self._next_look(new, now)

    def _reset_if_changed(self, new: JSON) -> bool:
        """resetRolloutStatus (rollout/canary.go: syncRolloutStatusCanary) when the pod
        template or the steps changed: a new revision starts at step 0 (a first
        deployment is stable at once), pauses, abort and promoteFull are dropped.
        status.canary.weights stays as it was, on the stable pod hash, until a later
        reconcile (reconcileTrafficRouting, rollout/trafficrouting.go)."""
        status = new["status"]
        template = self._template_of(new)
        steps: list[JSON] = new["spec"].get("strategy", {}).get("canary", {}).get("steps") or []
        current, steps_hash = pod_hash(template), pod_hash(steps)
        if status.get("currentPodHash") == current and status.get("currentStepHash") == steps_hash:
            return False
        if status.get("currentPodHash") != current:
            annotations = new["metadata"].setdefault("annotations", {})
            annotations[REVISION] = str(int(annotations.get(REVISION, "0")) + 1)
            self._state.images[current] = _images(template)
        for key in ("pauseConditions", "controllerPause", "abort", "promoteFull"):
            status.pop(key, None)
        status.update(currentPodHash=current, currentStepHash=steps_hash)
        status.setdefault("stableRS", current)  # an initial deployment is stable at once
        status["currentStepIndex"] = len(steps) if status["stableRS"] == current else 0
        return True

    def _scale(self, new: JSON, now: float, *, initial: bool) -> "_Pods":
        """Scale the Rollout's ReplicaSets for this reconcile (reconcileNewReplicaSet,
        reconcileCanaryStableReplicaSet and reconcileOldReplicaSetsCanary, rollout/canary.go:
        any other ReplicaSet goes to 0; the old stable at once, without
        scaleDownDelaySeconds), write replicas, updatedReplicas, readyReplicas and
        availableReplicas (calculateBaseStatus, rollout/sync.go), and say whether the
        canary is at its counts (AtDesiredReplicaCountsForCanary, utils/replicaset/canary.go).
        The pods of a first deployment are ready at once (applied long ago)."""
        spec, status = new["spec"], new["status"]
        owner = (new["metadata"]["namespace"], new["metadata"]["name"])
        current, stable = status["currentPodHash"], status["stableRS"]
        sets = {h: rs for (ns, name, h), rs in self._state.replica_sets.items()
                if (ns, name) == owner}
        for pod_hash_ in (current, stable):
            sets.setdefault(pod_hash_, ReplicaSet(tuple(self._state.images.get(pod_hash_, {})
                                                          .values())))
            self._state.replica_sets[(*owner, pod_hash_)] = sets[pod_hash_]
        born = float("-inf") if initial else now
        if current == stable:
            counts = Counts(total_replicas(spec), 0, 0)
        else:
            counts = desired_counts(spec, status, self._ready(sets[current], now),
                                    len(sets[stable].created))
            sets[stable].scale(counts.stable, born)
        sets[current].scale(counts.canary if current != stable else total_replicas(spec), born)
        for pod_hash_, rs in sets.items():
            if pod_hash_ not in (current, stable):
                rs.scale(0, now)
        ready = sum(self._ready(rs, now) for rs in sets.values())
        status.update(replicas=sum(len(rs.created) for rs in sets.values()),
                      updatedReplicas=len(sets[current].created), readyReplicas=ready,
                      availableReplicas=ready)
        available = self._ready(sets[current], now)
        if current == stable:
            return _Pods(True, available)
        others = sum(self._ready(rs, now) for h, rs in sets.items() if h not in (current, stable))
        routed = bool(spec.get("strategy", {}).get("canary", {}).get("trafficRouting"))
        return _Pods(available == counts.canary == len(sets[current].created)
                     and len(sets[stable].created) == counts.stable_target
                     and (routed or others == 0), available)

    def _ready(self, replica_set: ReplicaSet, now: float) -> int:
        never = any(image in self._state.never_ready for image in replica_set.images)
        return replica_set.ready(now, self.readiness_delay, never)

    def _next_look(self, new: JSON, now: float) -> float | None:
        """When this rollout wants a reconcile without any write: its next pod ready, the end
        of a timed pause, or its progress deadline."""
        owner = (new["metadata"]["namespace"], new["metadata"]["name"])
        looks = [rs.next_ready(now, self.readiness_delay,
                               any(i in self._state.never_ready for i in rs.images))
                 for (ns, name, _), rs in self._state.replica_sets.items() if (ns, name) == owner]
        looks += [_pause_left(new), _deadline_left(new)]
        return min((look for look in looks if look is not None), default=None)

    def _template_of(self, rollout: JSON) -> Any:
        ref = rollout["spec"].get("workloadRef")
        if not ref:
            return rollout["spec"].get("template")
        key = ("deployments", rollout["metadata"]["namespace"], ref.get("name"))
        workload = self._state.objects.get(key)
        return workload["spec"].get("template") if workload else None

def _template(app: str, container: str, image: str) -> JSON:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": container, "image": image,
                                     "ports": [{"containerPort": 8080}]}]}}


def _images(template: Any) -> dict[str, str]:
    containers = ((template or {}).get("spec") or {}).get("containers") or []
    return {str(c.get("name")): str(c.get("image")) for c in containers}


def _first(images: dict[str, str]) -> str:
    return next(iter(images.values()), "")


def _steps(spec: JSON) -> list[JSON]:
    steps: list[JSON] = spec.get("strategy", {}).get("canary", {}).get("steps") or []
    return steps


def _advance(spec: JSON, status: JSON, pods: "_Pods") -> None:
    """syncRolloutStatusCanary (rollout/canary.go): promoteFull skips the remaining steps,
    shouldFullPromote/promoteStable (rollout/sync.go) make the new revision stable once all
    its pods are available, an abort goes back to step 0, and otherwise at most one step
    completes (completedCurrentCanaryStep): setWeight and setCanaryScale once the canary is
    at its replica counts, a pause as reconcileCanaryPause and CompletedCanaryPauseStep
    (rollout/pause.go) decide, any other step at once."""
    steps = _steps(spec)
    if status.get("promoteFull"):
        for key in ("pauseConditions", "controllerPause", "abort"):
            status.pop(key, None)
        status["currentStepIndex"] = len(steps)
    index = int(status.get("currentStepIndex") or 0)
    if status.get("stableRS") == status.get("currentPodHash"):
        status["currentStepIndex"] = len(steps)
        return
    if not status.get("abort") and pods.canary_available >= total_replicas(spec) \
            and index >= len(steps):
        for key in ("pauseConditions", "controllerPause", "promoteFull"):
            status.pop(key, None)
        status["stableRS"] = status["currentPodHash"]
        return
    if status.get("abort"):
        status.pop("pauseConditions", None)
        status.pop("controllerPause", None)
        status["currentStepIndex"] = 0
        return
    if spec.get("paused") or index >= len(steps):
        return
    step = steps[index]
    if "pause" in step:
        index += _pause_step(step, status)
    elif pods.at_desired or not ({"setWeight", "setCanaryScale"} & step.keys()):
        index += 1  # analysis, experiment, header and mirror routes pass at once here
        # Argo keeps controllerPause only while a pause condition exists: a pause
        # cleared by a user completes the pause step the controller paused at, no other.
        status.pop("controllerPause", None)
    status["currentStepIndex"] = index


def _pause_step(step: JSON, status: JSON) -> int:
    """reconcileCanaryPause and CompletedCanaryPauseStep (rollout/pause.go): 1 when the
    pause step completes in this reconcile (its timed pause expired, or a user cleared the
    pause condition the controller added), else 0 (the condition added or kept)."""
    conditions = [c for c in status.get("pauseConditions") or []
                  if c.get("reason") == PAUSE_STEP]
    if conditions:
        left = _pause_seconds_left(step, conditions[0])
        if left is None or left > 0:
            return 0
    elif not status.get("controllerPause"):
        status["pauseConditions"] = [{"reason": PAUSE_STEP, "startTime": now_text()}]
        status["controllerPause"] = True
        return 0
    status.pop("pauseConditions", None)
    status.pop("controllerPause", None)
    return 1


def _pause_seconds_left(step: JSON, condition: JSON) -> float | None:
    duration = pause_seconds((step.get("pause") or {}).get("duration"))
    if duration is None:
        return None
    return duration - (datetime.now(UTC) - _parse_time(condition["startTime"])).total_seconds()


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _pause_left(obj: JSON) -> float | None:
    """Seconds until the timed pause the rollout is at expires (None: not at one)."""
    status, steps = obj["status"], _steps(obj["spec"])
    index = int(status.get("currentStepIndex") or 0)
    conditions = [c for c in status.get("pauseConditions") or []
                  if c.get("reason") == PAUSE_STEP]
    if not conditions or index >= len(steps) or "pause" not in steps[index]:
        return None
    left = _pause_seconds_left(steps[index], conditions[0])
    return None if left is None else max(left, 0.0) + 1.0  # whole-second timestamps


def _set_weights(spec: JSON, status: JSON, pods: "_Pods") -> None:
    """status.canary.weights as reconcileTrafficRouting (rollout/trafficrouting.go) leaves
    them, before the step is checked: canary 0 once promoted, aborted or while the canary
    has no available pod; the previous setWeight while the canary is not at its replica
    counts; the step's setWeight once it is (100 past the last step); the weight as it was
    on promoteFull until the canary's pods are all up. No weights without traffic routing."""
    canary = spec.get("strategy", {}).get("canary", {})
    if not canary.get("trafficRouting"):
        status.pop("canary", None)
        return
    steps, index = _steps(spec), int(status.get("currentStepIndex") or 0)
    before = (status.get("canary") or {}).get("weights", {}).get("canary", {})
    if status.get("stableRS") == status.get("currentPodHash") or status.get("abort") \
            or not pods.canary_available:
        weight = 0
    elif status.get("promoteFull"):
        fresh = before.get("podTemplateHash") == status.get("currentPodHash")
        weight = int(before.get("weight") or 0) if fresh else 0
    elif not pods.at_desired:
        weight = previous_set_weight(steps, index)
    else:
        weight = set_weight_at(steps, index)
    status["canary"] = {"weights": {
        "canary": {"weight": weight, "podTemplateHash": status.get("currentPodHash"),
                   "serviceName": canary.get("canaryService")},
        "stable": {"weight": 100 - weight, "podTemplateHash": status.get("stableRS"),
                   "serviceName": canary.get("stableService")},
    }}


def _new_revision_weight(obj: JSON) -> int:
    """The share of live requests the new revision gets, as the controller left the
    traffic: with traffic routing the weight in status.canary.weights while it names the
    new pod hash (0 before: the router still points at stable), without it the step's
    weight once the canary's pods are available (the Service spreads requests over ready
    pods; the splitter idealises their share as the weight)."""
    status = obj["status"]
    if status.get("stableRS") == status.get("currentPodHash"):
        return 100
    if status.get("abort"):
        return 0
    canary = obj["spec"].get("strategy", {}).get("canary", {})
    if canary.get("trafficRouting"):
        weights = (status.get("canary") or {}).get("weights", {}).get("canary", {})
        fresh = weights.get("podTemplateHash") == status.get("currentPodHash")
        return int(weights.get("weight") or 0) if fresh else 0
    pods = int(status.get("replicas") or 0)
    ready = int(status.get("availableReplicas") or 0) - pods \
        + int(status.get("updatedReplicas") or 0)
    return set_weight_at(canary.get("steps") or [], int(status.get("currentStepIndex") or 0)) \
        if ready > 0 else 0


def _invalid_spec(canary: JSON) -> str:
    """The first error of ValidateRolloutStrategyCanary (pkg/apis/rollouts/validation/
    validation.go, v1.10) for what is emulated: pause durations, setCanaryScale and
    setMirrorRoute (Istio or a traffic-router plugin; Istio only before v1.10)."""
    routing = canary.get("trafficRouting")
    managed = {r.get("name") for r in (routing or {}).get("managedRoutes") or []}
    for index, step in enumerate(canary.get("steps") or []):
        where = f"spec.strategy.canary.steps[{index}]"
        pause = step.get("pause")
        if isinstance(pause, dict) and (pause_seconds(pause.get("duration")) or 0) < 0:
            return (f"{where}.pause.duration: Invalid value: -1: Duration needs to be "
                    "greater than 0")
        if "setCanaryScale" in step and not routing:
            return ("spec.strategy.canary.trafficRouting: Required value: SetCanaryScale "
                    "requires TrafficRouting to be set")
        route = step.get("setMirrorRoute")
        if route is None:
            continue
        if not routing or not (routing.get("istio") or routing.get("plugins")):
            return (f"{where}.setMirrorRoute: Invalid value: SetMirrorRoute requires "
                    "TrafficRouting, supports Istio only")
        if route.get("name") not in managed:
            return (f'{where}.setMirrorRoute: Invalid value: "{route.get("name")}": Steps '
                    "define a route that does not exist in "
                    "spec.strategy.canary.trafficRouting.managedRoutes")
    return ""


def _managed(canary: JSON) -> list[str]:
    return [str(r.get("name")) for r in (canary.get("trafficRouting") or {})
            .get("managedRoutes") or []]


def _remove_managed(vs: JSON, canary: JSON) -> None:
    istio.remove_managed_routes(vs, canary.get("steps") or [], _managed(canary))


def _set_mirror_route(vs: JSON, canary: JSON, route: JSON) -> None:
    """The canary destination as reconcileVirtualServiceMirrorRoutes picks it: the
    DestinationRule's host (the weighted route's) and canary subset, else the canary
    Service."""
    settings = canary["trafficRouting"]["istio"]
    subset = (settings.get("destinationRule") or {}).get("canarySubsetName", "")
    weighted = (settings.get("virtualService") or {}).get("routes") or []
    primary: JSON = next((r for r in vs["spec"].get("http") or []
                          if r.get("name") in weighted), {})
    host = (primary.get("route") or [{}])[0].get("destination", {}).get("host") \
        if subset else canary.get("canaryService")
    istio.set_mirror_route(vs, route, weighted=weighted, canary_host=str(host),
                           canary_subset=subset, managed=_managed(canary))


def _condition(status: JSON, kind: str) -> JSON:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), {})


def _set_condition(status: JSON, kind: str, state: str, reason: str, message: str, *,
                   refresh: bool = False) -> None:
    """SetRolloutCondition (utils/conditions/conditions.go): unchanged when the status and
    reason are; else replaced, with lastUpdateTime now. `refresh`: the Progressing
    condition's update on progress (calculateRolloutConditions, rollout/sync.go), which
    moves lastUpdateTime even when nothing else changes."""
    previous = _condition(status, kind)
    if previous.get("status") == state and previous.get("reason") == reason and not refresh:
        return
    now = now_text()
    condition = {"type": kind, "status": state, "reason": reason, "message": message,
                 "lastUpdateTime": now,
                 "lastTransitionTime": previous.get("lastTransitionTime", now)
                 if previous.get("status") == state else now}
    status["conditions"] = [c for c in status.get("conditions") or []
                            if c.get("type") != kind] + [condition]


def _set_invalid_spec(obj: JSON, invalid: str) -> None:
    """createInvalidRolloutCondition (rollout/controller.go), removed once the spec is valid
    (calculateBaseStatus, rollout/sync.go)."""
    status = obj["status"]
    if not invalid:
        status["conditions"] = [c for c in status.get("conditions") or []
                                if c.get("type") != "InvalidSpec"]
        return
    message = f'The Rollout "{obj["metadata"]["name"]}" is invalid: {invalid}'
    if _condition(status, "InvalidSpec").get("message") != message:
        status["conditions"] = [c for c in status.get("conditions") or []
                                if c.get("type") != "InvalidSpec"]
    _set_condition(status, "InvalidSpec", "True", "InvalidSpec", message)


def _progressed(old: JSON, new: JSON) -> bool:
    """RolloutProgressing (utils/conditions/conditions.go) for a canary."""
    def count(status: JSON, key: str) -> int:
        return int(status.get(key) or 0)

    index_moved = "currentStepIndex" in old and "currentStepIndex" in new \
        and old["currentStepIndex"] != new["currentStepIndex"]
    return (count(new, "updatedReplicas") != count(old, "updatedReplicas")
            or count(new, "replicas") - count(new, "updatedReplicas")
            < count(old, "replicas") - count(old, "updatedReplicas")
            or count(new, "readyReplicas") > count(old, "readyReplicas")
            or count(new, "availableReplicas") > count(old, "availableReplicas")
            or new.get("stableRS") != old.get("stableRS") or index_moved
            or new.get("currentStepHash") != old.get("currentStepHash"))


def _indefinite_step(spec: JSON, status: JSON) -> bool:
    """isIndefiniteStep (rollout/sync.go): at a pause, analysis or experiment step, which
    do not count against the progress deadline."""
    steps, index = _steps(spec), int(status.get("currentStepIndex") or 0)
    return index < len(steps) and bool({"pause", "analysis", "experiment"} & steps[index].keys())


def _deadline_seconds(spec: JSON) -> int:
    """GetProgressDeadlineSecondsOrDefault (utils/defaults/defaults.go): 600 by default."""
    value = spec.get("progressDeadlineSeconds")
    return 600 if value is None else int(value)


def _timed_out(spec: JSON, status: JSON) -> bool:
    """RolloutTimedOut (utils/conditions/conditions.go): the Progressing condition says so
    already, or was last updated more than progressDeadlineSeconds ago (never while
    aborted or paused)."""
    condition = _condition(status, "Progressing")
    if not condition or condition.get("reason") in ("RolloutAborted", "RolloutPaused"):
        return False
    if condition.get("reason") == TIMED_OUT:
        return True
    since = (datetime.now(UTC) - _parse_time(condition["lastUpdateTime"])).total_seconds()
    return since > _deadline_seconds(spec)


def _deadline_left(obj: JSON) -> float | None:
    """requeueStuckRollout (rollout/sync.go): seconds until the progress deadline of a
    rollout that is progressing (None when it is not, or at an indefinite step)."""
    spec, status = obj["spec"], obj["status"]
    condition = _condition(status, "Progressing")
    if condition.get("reason") != "ReplicaSetUpdated" or _indefinite_step(spec, status):
        return None
    since = (datetime.now(UTC) - _parse_time(condition["lastUpdateTime"])).total_seconds()
    return max(_deadline_seconds(spec) - since, 0.0) + 1.0  # whole-second timestamps


def _timeout_message(obj: JSON) -> str:
    """ReplicaSetTimeOutMessage (utils/conditions/conditions.go)."""
    return (f'ReplicaSet "{obj["metadata"]["name"]}-{obj["status"].get("currentPodHash")}" '
            "has timed out progressing.")


def _deadline_abort(new: JSON, old: JSON) -> str:
    """evaluateProgressDeadlineAbort (rollout/sync.go): with spec.progressDeadlineAbort, an
    update that made no progress in this reconcile and whose Progressing condition has
    timed out is aborted; returns the abort message ('' when nothing was aborted)."""
    spec, status = new["spec"], new["status"]
    if not spec.get("progressDeadlineAbort") or status.get("abort") \
            or status.get("stableRS") == status.get("currentPodHash") \
            or _progressed(old, status) or _indefinite_step(spec, old) \
            or not _timed_out(spec, old):
        return ""
    status["abort"] = True
    status["abortedAt"] = now_text()
    status.pop("pauseConditions", None)
    status.pop("controllerPause", None)
    return _timeout_message(new)


def _healthy(new: JSON, old: JSON) -> bool:
    """RolloutHealthy (utils/conditions/conditions.go) for a canary: every pod updated and
    available, the generation observed before this reconcile, every step done, the new
    revision stable and the old pods gone."""
    spec, status = new["spec"], new["status"]
    total, steps = total_replicas(spec), _steps(spec)
    return (status.get("updatedReplicas") == total == status.get("availableReplicas")
            and old.get("observedGeneration") == str(new["metadata"]["generation"])
            and (not steps or status.get("currentStepIndex") == len(steps))
            and status.get("stableRS") == status.get("currentPodHash")
            and status.get("replicas") == total)


def _set_progressing(obj: JSON, old: JSON, abort_message: str) -> None:
    """The Progressing condition as checkPausedConditions and calculateRolloutConditions
    (rollout/sync.go) leave it after a reconcile: RolloutAborted while aborted (with the
    progress deadline's message when that aborted it), RolloutRetry on the first reconcile
    after an abort is cleared, NewReplicaSetAvailable once healthy, RolloutPaused at a
    pause, ReplicaSetUpdated (lastUpdateTime now) on any progress or on resuming, and
    ProgressDeadlineExceeded (False) when no progress was made for progressDeadlineSeconds
    outside a pause, analysis or experiment step."""
    spec, status = obj["spec"], obj["status"]
    revision = obj["metadata"].get("annotations", {}).get(REVISION, "1")
    replica_set = f'{obj["metadata"]["name"]}-{status.get("currentPodHash")}'
    previous = _condition(status, "Progressing").get("reason")
    if status.get("abort"):
        message = f"Rollout aborted update to revision {revision}"
        _set_condition(status, "Progressing", "False", "RolloutAborted",
                       f"{message}: {abort_message}" if abort_message else message)
    elif previous == "RolloutAborted":
        _set_condition(status, "Progressing", "Unknown", "RolloutRetry",
                       "Retrying Rollout after abort")
    elif _healthy(obj, old):
        _set_condition(status, "Progressing", "True", "NewReplicaSetAvailable",
                       f'ReplicaSet "{replica_set}" has successfully progressed.')
    elif spec.get("paused") or status.get("pauseConditions"):
        _set_condition(status, "Progressing", "Unknown", "RolloutPaused", "Rollout is paused")
    elif _progressed(old, status) or previous not in ("ReplicaSetUpdated", TIMED_OUT):
        _set_condition(status, "Progressing", "True", "ReplicaSetUpdated",
                       f'ReplicaSet "{replica_set}" is progressing.', refresh=True)
    elif not _indefinite_step(spec, old) and _timed_out(spec, status):
        _set_condition(status, "Progressing", "False", TIMED_OUT, _timeout_message(obj))


def _phase(obj: JSON) -> tuple[str, str]:
    """The controller-side phase (CalculateRolloutPhase in utils/rollout/rolloututil.go,
    reduced to what is emulated): a Degraded phase comes from the conditions, and Healthy
    needs every pod updated and available (and, without traffic routing, no old pod)."""
    spec, status = obj["spec"], obj["status"]
    for condition in status.get("conditions") or []:
        if condition.get("type") == "InvalidSpec":
            return "Degraded", f"InvalidSpec: {condition.get('message')}"
        if condition.get("reason") in ("RolloutAborted", TIMED_OUT):
            return "Degraded", f"{condition['reason']}: {condition.get('message')}"
    if spec.get("paused"):
        return "Paused", "manually paused"
    for condition in status.get("pauseConditions") or []:
        return "Paused", str(condition.get("reason"))
    waiting = _replicas_waiting(spec, status) or (
        "waiting for all steps to complete"
        if status.get("stableRS") != status.get("currentPodHash") else "")
    return ("Progressing", waiting) if waiting else ("Healthy", "")


def _replicas_waiting(spec: JSON, status: JSON) -> str:
    """CalculateRolloutPhase's replica checks: what the pods still wait for, or ''."""
    updated = int(status.get("updatedReplicas") or 0)
    if updated < total_replicas(spec):
        return "more replicas need to be updated"
    if int(status.get("availableReplicas") or 0) < updated:
        return "updated replicas are still becoming available"
    routed = spec.get("strategy", {}).get("canary", {}).get("trafficRouting")
    if not routed and int(status.get("replicas") or 0) > updated:
        return "old replicas are pending termination"
    return ""
