"""An Argo Rollout object read the way Argo's own tools read it (a `TrafficState`,
rollouts/backend.py): pure functions, no I/O.

When phase and message can be trusted, and how the new revision's weight is derived,
follow the Argo Rollouts source: docs/argo-rollouts.md ("Reading the status", "Weights
only through declared steps").
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelrail.rollouts.objects import JSON, as_mapping, integer, nested

WORKLOAD_GENERATION_ANNOTATION = "rollout.argoproj.io/workload-generation"
ABORTED_REASON = "RolloutAborted"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"  # TimedOutReason, utils/conditions/conditions.go
TIMED_OUT_TEXT = "has timed out progressing."  # its (ReplicaSet|Rollout)TimeOutMessage
DEFAULT_PROGRESS_DEADLINE_S = 600  # utils/defaults/defaults.go
PAUSE_STEP_REASON = "CanaryPauseStep"
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
MIRROR_PHASE = ("scale up", "mirror", "pause", "stop mirroring", "scale back")
"""The mirror phase's steps in order (rollouts/steps.py `mirror_steps` writes them)."""
MIRROR_PAUSE_INDEX = MIRROR_PHASE.index("pause")


def canary_steps(obj: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """spec.strategy.canary.steps, or None when the rollout is not a canary."""
    canary = nested(obj, "spec", "strategy").get("canary")
    if not isinstance(canary, Mapping):
        return None
    steps = canary.get("steps") or []
    return [as_mapping(step) for step in steps] if isinstance(steps, list) else []


def current_step_index(obj: Mapping[str, Any]) -> int | None:
    """The index GetCurrentCanaryStep uses: None without steps, else currentStepIndex or 0."""
    if not canary_steps(obj):
        return None
    return integer(nested(obj, "status").get("currentStepIndex")) or 0


def is_fully_promoted(obj: Mapping[str, Any]) -> bool:
    """The stable ReplicaSet is the desired one (both empty counts, as in Argo)."""
    status = nested(obj, "status")
    return str(status.get("stableRS") or "") == str(status.get("currentPodHash") or "")


def generation_observed(obj: Mapping[str, Any]) -> bool:
    """Argo's isGenerationObserved: a non-numeric value (v0.9 hash) or a newer one counts."""
    generation = integer(nested(obj, "metadata").get("generation")) or 0
    observed = integer(nested(obj, "status").get("observedGeneration"))
    return observed is None or observed >= generation


def _workload_generation_observed(obj: Mapping[str, Any]) -> bool:
    wanted = integer(nested(obj, "metadata", "annotations").get(WORKLOAD_GENERATION_ANNOTATION))
    seen = integer(nested(obj, "status").get("workloadObservedGeneration"))
    return wanted is None or seen is None or wanted == seen


def pause_reasons(obj: Mapping[str, Any]) -> tuple[str, ...]:
    conditions = nested(obj, "status").get("pauseConditions") or []
    if not isinstance(conditions, list):
        return ()
    return tuple(str(as_mapping(c).get("reason") or "") for c in conditions)


def _progressing(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The Progressing condition (utils/conditions/conditions.go), or {}."""
    conditions = nested(obj, "status").get("conditions")
    for condition in conditions if isinstance(conditions, list) else []:
        entry = as_mapping(condition)
        if entry.get("type") == "Progressing":
            return entry
    return {}


def progressing_reason(obj: Mapping[str, Any]) -> str:
    """The reason of the Progressing condition, or ''."""
    return str(_progressing(obj).get("reason") or "")


def progress_deadline_seconds(obj: Mapping[str, Any]) -> int:
    """spec.progressDeadlineSeconds, default 600 (GetProgressDeadlineSecondsOrDefault)."""
    value = integer(nested(obj, "spec").get("progressDeadlineSeconds"))
    return DEFAULT_PROGRESS_DEADLINE_S if value is None else value


def deadline_exceeded(obj: Mapping[str, Any]) -> bool:
    """The controller found no progress within progressDeadlineSeconds: the Progressing
    condition says ProgressDeadlineExceeded (calculateRolloutConditions, rollout/sync.go),
    or, with spec.progressDeadlineAbort, it aborted the update with the time-out message
    (evaluateProgressDeadlineAbort)."""
    condition = _progressing(obj)
    reason, message = condition.get("reason"), str(condition.get("message") or "")
    return reason == TIMED_OUT_REASON or (reason == ABORTED_REASON
                                          and message.endswith(TIMED_OUT_TEXT))


def replicas_pending(obj: Mapping[str, Any]) -> str:
    """What CalculateRolloutPhase (utils/rollout/rolloututil.go) still waits for among the
    pods before a canary may be Healthy, or '': every pod updated and available, and,
    without traffic routing, no old pod left."""
    spec, status = nested(obj, "spec"), nested(obj, "status")
    wanted = integer(spec.get("replicas"))
    updated = integer(status.get("updatedReplicas")) or 0
    if updated < (1 if wanted is None else wanted):
        return "more replicas need to be updated"
    if (integer(status.get("availableReplicas")) or 0) < updated:
        return "updated replicas are still becoming available"
    if not nested(spec, "strategy", "canary").get("trafficRouting") \
            and (integer(status.get("replicas")) or 0) > updated:
        return "old replicas are pending termination"
    return ""


def unacknowledged(obj: Mapping[str, Any]) -> str:
    """What the controller has not acted on yet, '' when its status answers the last write.

    A spec change moves metadata.generation, but abort, retry and promote are status-only
    patches that move nothing the controller echoes: it acknowledges them in the conditions
    and pause fields it writes on its next reconcile (checkPausedConditions and
    calculateRolloutConditions in rollout/sync.go). Until then the old phase still shows,
    e.g. Degraded/RolloutAborted just after a retry.
    """
    status = nested(obj, "status")
    if not generation_observed(obj):
        generation = integer(nested(obj, "metadata").get("generation")) or 0
        return (f"the controller has not observed generation {generation} yet; it last "
                f"observed {status.get('observedGeneration')!s}")
    aborted = progressing_reason(obj) == ABORTED_REASON
    if status.get("abort") and not aborted:
        return f"the controller has not acknowledged the abort yet (no {ABORTED_REASON} " \
            "condition)"
    if not status.get("abort") and aborted:
        return f"the controller has not acknowledged the retry yet (the {ABORTED_REASON} " \
            "condition is still there)"
    if status.get("controllerPause") and not pause_reasons(obj):
        return "waiting for rollout to unpause"  # the plugin's IsUnpausing
    return ""


def rollout_phase(obj: Mapping[str, Any]) -> tuple[str, str]:
    """(phase, message), never trusting a status the controller wrote before the last
    change it has not acted on (`unacknowledged`), nor a Healthy phase the replica counts
    next to it contradict (`replicas_pending`). A Degraded phase from a progress deadline
    names ProgressDeadlineExceeded also when progressDeadlineAbort turned it into an abort."""
    spec, status = nested(obj, "spec"), nested(obj, "status")
    pending = unacknowledged(obj)
    if pending:
        return "Progressing", pending if pending.startswith("waiting") else \
            f"unknown: {pending}"
    if spec.get("templateResolvedFromRef") and not _workload_generation_observed(obj):
        return "Progressing", ("waiting for rollout spec update to be observed for the "
                               "reference workload")
    phase, message = status.get("phase"), str(status.get("message") or "")
    if phase == "Healthy" and replicas_pending(obj):
        return "Progressing", replicas_pending(obj)
    if phase == "Degraded" and deadline_exceeded(obj) and TIMED_OUT_REASON not in message:
        message += f" ({TIMED_OUT_REASON}, aborted by spec.progressDeadlineAbort)"
    if isinstance(phase, str) and phase:
        return phase, message
    return "Progressing", "the controller has not reported a phase yet"


def desired_weight(obj: Mapping[str, Any]) -> int:
    """GetCurrentSetWeight: the traffic weight (a setCanaryScale step scales pods, not
    traffic)."""
    status = nested(obj, "status")
    if status.get("promoteFull") or is_fully_promoted(obj):
        return 100
    if status.get("abort"):
        return 0
    steps = canary_steps(obj) or []
    index = current_step_index(obj)
    if index is None or index >= len(steps):
        return 100
    for step in reversed(steps[: index + 1]):
        weight = integer(step.get("setWeight"))
        if weight is not None:
            return weight
    return 0


def current_weight(obj: Mapping[str, Any]) -> int:
    """The share of traffic on the new revision (status.currentPodHash), in percent, as the
    controller has confirmed it: never the step's setWeight before traffic moved.

    Once fully promoted the new revision *is* stable, so this is 100 even though Argo's
    traffic routing then reports a canary weight of 0 (it removes the canary route). With
    traffic routing the weight counts only when `status.canary.weights.canary` names the
    new revision's pod hash: the first reconcile after a new pod template keeps the old
    weights, still on the stable hash (reconcileTrafficRouting, rollout/trafficrouting.go).
    Without it the controller writes no weights, so the weight is read off the ready
    canary replicas (`_replica_weight`). Either way a `CanaryPauseStep` pause past the
    setWeight confirms it: the controller completes a setWeight step only once the canary
    is at its replica counts and the weight is verified (completedCurrentCanaryStep,
    rollout/canary.go).
    """
    if is_fully_promoted(obj):
        return 100
    status = nested(obj, "status")
    canary = nested(status, "canary", "weights", "canary")
    actual = integer(canary.get("weight"))
    if actual is not None and str(canary.get("podTemplateHash") or "") \
            == str(status.get("currentPodHash") or ""):
        return actual
    if status.get("abort"):
        return 0
    if _paused_past_set_weight(obj):
        return desired_weight(obj)
    if nested(obj, "spec", "strategy", "canary").get("trafficRouting"):
        return 0  # no weights for the new revision yet: its traffic has not moved
    return _replica_weight(obj)


def _paused_past_set_weight(obj: Mapping[str, Any]) -> bool:
    """At a CanaryPauseStep pause that follows a setWeight step: the controller completed
    that setWeight (rollout/canary.go), so GetCurrentSetWeight is in force."""
    steps = canary_steps(obj) or []
    index = current_step_index(obj)
    if PAUSE_STEP_REASON not in pause_reasons(obj) or index is None or index >= len(steps) \
            or "pause" not in steps[index]:
        return False
    return any("setWeight" in step for step in steps[:index])


def _replica_weight(obj: Mapping[str, Any]) -> int:
    """Without traffic routing the Service spreads requests over ready pods: the share of
    the canary's available pods, at most the step's weight. The rollout's status counts
    the new ReplicaSet's pods (`updatedReplicas`) and the available pods of every
    ReplicaSet (`availableReplicas`, calculateBaseStatus in rollout/sync.go), so at least
    `availableReplicas - (replicas - updatedReplicas)` canary pods are available; the
    step's weight counts once that many pods reach its share of spec.replicas, as the
    controller scales the canary (CalculateReplicaCountsForBasicCanary,
    utils/replicaset/canary.go)."""
    status = nested(obj, "status")
    total = integer(nested(obj, "spec").get("replicas")) or 1
    pods = integer(status.get("replicas")) or 0
    available = (integer(status.get("availableReplicas")) or 0) \
        - (pods - (integer(status.get("updatedReplicas")) or 0))
    if available <= 0:
        return 0
    wanted = desired_weight(obj)
    return wanted if available * 100 >= wanted * total else available * 100 // total


def active_mirror(obj: Mapping[str, Any]) -> int:
    """The % of requests the mesh mirrors to the new revision now, as the controller left
    it: each setMirrorRoute at or before currentStepIndex sets (with `match`) or removes
    (without) its route; an abort or a full promotion removes every managed route. Argo
    writes nothing about mirrors into status, so this is what the steps ask for; whether
    the mesh still has the route is read from the VirtualService (rollouts/istio.py)."""
    status = nested(obj, "status")
    index = current_step_index(obj)
    if index is None or status.get("abort") or status.get("promoteFull") \
            or is_fully_promoted(obj):
        return 0
    routes: dict[str, int] = {}
    for step in (canary_steps(obj) or [])[: index + 1]:
        route = nested(step, "setMirrorRoute")
        if route:
            routes[str(route.get("name"))] = (integer(route.get("percentage")) or 0) \
                if route.get("match") else 0
    return max(routes.values(), default=0)


def template_images(template_owner: Mapping[str, Any]) -> dict[str, str]:
    """container name → image in spec.template.spec (a Rollout or a Deployment)."""
    pod = nested(template_owner, "spec", "template", "spec")
    images: dict[str, str] = {}
    for key in CONTAINER_LISTS:
        for container in pod.get(key) or []:
            entry = as_mapping(container)
            images[str(entry.get("name"))] = str(entry.get("image") or "")
    return images


@dataclass(frozen=True)
class RolloutState:
    """What a user and a CI step need to know about one Rollout, derived from its object."""

    name: str
    namespace: str
    generation: int
    observed: bool  # the controller has acted on every write so far (`unacknowledged`)
    phase: str
    message: str
    weight: int
    step_index: int | None
    step_count: int
    paused: bool
    pause_reasons: tuple[str, ...]
    aborted: bool
    fully_promoted: bool
    images: Mapping[str, str] = field(default_factory=dict)
    mirror: int = 0  # % of requests mirrored to the new revision (active_mirror)
    progress_deadline: int = DEFAULT_PROGRESS_DEADLINE_S  # spec.progressDeadlineSeconds
    obj: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> "RolloutState":
        metadata, spec = nested(obj, "metadata"), nested(obj, "spec")
        phase, message = rollout_phase(obj)
        reasons = pause_reasons(obj)
        return cls(
            name=str(metadata.get("name") or ""),
            namespace=str(metadata.get("namespace") or ""),
            generation=integer(metadata.get("generation")) or 0,
            observed=not unacknowledged(obj),
            phase=phase,
            message=message,
            weight=current_weight(obj),
            step_index=current_step_index(obj),
            step_count=len(canary_steps(obj) or []),
            paused=bool(spec.get("paused")) or bool(reasons),
            pause_reasons=reasons,
            aborted=bool(nested(obj, "status").get("abort")),
            fully_promoted=is_fully_promoted(obj),
            images=template_images(obj),
            mirror=active_mirror(obj),
            progress_deadline=progress_deadline_seconds(obj),
            obj=obj,
        )

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def stable_images(self) -> Mapping[str, str]:
        """The pod template's images once fully promoted (then they are the stable ones)."""
        return self.images if self.fully_promoted else {}

    @property
    def mirror_phase(self) -> bool:
        """Paused at the mirror phase's pause (or past it, on a re-run), traffic still 0:
        the controller reaches it alone, after the new revision starts."""
        index = self.step_index or 0
        return (index == MIRROR_PAUSE_INDEX and self.paused) or index > MIRROR_PAUSE_INDEX

    def describe(self) -> str:
        """One line for logs: phase, message, step, weight."""
        step = "no steps" if self.step_index is None else \
            f"step {self.step_index}/{self.step_count}"
        why = f" ({self.message})" if self.message else ""
        mirror = f" · mirror {self.mirror}%" if self.mirror else ""
        return f"{self.ref}: {self.phase}{why} · {step} · weight {self.weight}%{mirror}"

    def to_json(self) -> JSON:
        return {
            "name": self.name, "namespace": self.namespace, "phase": self.phase,
            "message": self.message, "generation": self.generation,
            "generation_observed": generation_observed(self.obj),
            "acknowledged": self.observed, "weight": self.weight,
            "step_index": self.step_index, "step_count": self.step_count,
            "paused": self.paused, "pause_reasons": list(self.pause_reasons),
            "aborted": self.aborted, "fully_promoted": self.fully_promoted,
            "images": dict(self.images),
        }
