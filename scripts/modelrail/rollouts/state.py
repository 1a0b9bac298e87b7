"""An Argo Rollout object read the way Argo's own tools read it: pure functions, no I/O.

The rules follow the Argo Rollouts source (DESIGN.md, "Facts to honour"):

- phase and message are trusted only once the controller has observed the spec
  (`status.observedGeneration == metadata.generation`, as `GetRolloutPhase` does);
- the weight of the new revision follows `GetCanaryReplicasOrWeight` and
  `GetCurrentSetWeight`: 100 once fully promoted, 0 while aborted, otherwise the last
  `setWeight` at or before `status.currentStepIndex`; the traffic router's actual weight
  (`status.canary.weights.canary.weight`) wins when it is reported for the new revision;
- promote sends exactly the kubectl-argo-rollouts plugin's merge patches.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from modelrail.errors import UsageError
from modelrail.rollouts.policy import MirrorConfig

JSON = dict[str, Any]

INCONCLUSIVE = "Inconclusive"
WORKLOAD_GENERATION_ANNOTATION = "rollout.argoproj.io/workload-generation"
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def as_mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: object) -> int | None:
    """An integer field; Argo writes observedGeneration as a string ("7")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def canary_steps(obj: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """spec.strategy.canary.steps, or None when the rollout is not a canary."""
    canary = as_mapping(as_mapping(obj.get("spec")).get("strategy")).get("canary")
    if not isinstance(canary, Mapping):
        return None
    steps = canary.get("steps") or []
    return [as_mapping(step) for step in steps] if isinstance(steps, list) else []


def current_step_index(obj: Mapping[str, Any]) -> int | None:
    """The index GetCurrentCanaryStep uses: None without steps, else currentStepIndex or 0."""
    if not canary_steps(obj):
        return None
    return _int(as_mapping(obj.get("status")).get("currentStepIndex")) or 0


def is_fully_promoted(obj: Mapping[str, Any]) -> bool:
    """The stable ReplicaSet is the desired one (both empty counts, as in Argo)."""
    status = as_mapping(obj.get("status"))
    return str(status.get("stableRS") or "") == str(status.get("currentPodHash") or "")


def generation_observed(obj: Mapping[str, Any]) -> bool:
    """Argo's isGenerationObserved: a non-numeric value (v0.9 hash) or a newer one counts."""
    generation = _int(as_mapping(obj.get("metadata")).get("generation")) or 0
    observed = _int(as_mapping(obj.get("status")).get("observedGeneration"))
    return observed is None or observed >= generation


def _workload_generation_observed(obj: Mapping[str, Any]) -> bool:
    annotations = as_mapping(as_mapping(obj.get("metadata")).get("annotations"))
    wanted = _int(annotations.get(WORKLOAD_GENERATION_ANNOTATION))
    seen = _int(as_mapping(obj.get("status")).get("workloadObservedGeneration"))
    return wanted is None or seen is None or wanted == seen


def pause_reasons(obj: Mapping[str, Any]) -> tuple[str, ...]:
    conditions = as_mapping(obj.get("status")).get("pauseConditions") or []
    if not isinstance(conditions, list):
        return ()
    return tuple(str(as_mapping(c).get("reason") or "") for c in conditions)


def rollout_phase(obj: Mapping[str, Any]) -> tuple[str, str]:
    """(phase, message), never trusting a status the controller wrote for an older spec."""
    spec, status = as_mapping(obj.get("spec")), as_mapping(obj.get("status"))
    if not generation_observed(obj):
        generation = _int(as_mapping(obj.get("metadata")).get("generation")) or 0
        return "Progressing", (f"unknown: the controller has not observed generation "
                               f"{generation} yet; it last observed "
                               f"{status.get('observedGeneration')!s}")
    if status.get("controllerPause") and not pause_reasons(obj):
        return "Progressing", "waiting for rollout to unpause"
    if spec.get("templateResolvedFromRef") and not _workload_generation_observed(obj):
        return "Progressing", ("waiting for rollout spec update to be observed for the "
                               "reference workload")
    phase = status.get("phase")
    if isinstance(phase, str) and phase:
        return phase, str(status.get("message") or "")
    return "Progressing", "the controller has not reported a phase yet"


def desired_weight(obj: Mapping[str, Any]) -> int:
    """GetCurrentSetWeight: the traffic weight (a setCanaryScale step scales pods, not
    traffic)."""
    status = as_mapping(obj.get("status"))
    if status.get("promoteFull") or is_fully_promoted(obj):
        return 100
    if status.get("abort"):
        return 0
    steps = canary_steps(obj) or []
    index = current_step_index(obj)
    if index is None or index >= len(steps):
        return 100
    for step in reversed(steps[: index + 1]):
        weight = _int(step.get("setWeight"))
        if weight is not None:
            return weight
    return 0


def current_weight(obj: Mapping[str, Any]) -> int:
    """The share of traffic on the new revision (status.currentPodHash), in percent.

    Once fully promoted the new revision *is* stable, so this is 100 even though Argo's
    traffic routing then reports a canary weight of 0 (it removes the canary route).
    """
    if is_fully_promoted(obj):
        return 100
    status = as_mapping(obj.get("status"))
    weights = as_mapping(as_mapping(status.get("canary")).get("weights"))
    canary = as_mapping(weights.get("canary"))
    actual = _int(canary.get("weight"))
    for_hash = str(canary.get("podTemplateHash") or "")
    if actual is not None and for_hash in ("", str(status.get("currentPodHash") or "")):
        return actual
    return desired_weight(obj)


def active_mirror(obj: Mapping[str, Any]) -> int:
    """The % of requests the mesh mirrors to the new revision now, as the controller left
    it: each setMirrorRoute at or before currentStepIndex sets (with `match`) or removes
    (without) its route; an abort or a full promotion removes every managed route. Argo
    writes nothing about mirrors into status, so this is read off the steps."""
    status = as_mapping(obj.get("status"))
    index = current_step_index(obj)
    if index is None or status.get("abort") or status.get("promoteFull") \
            or is_fully_promoted(obj):
        return 0
    routes: dict[str, int] = {}
    for step in (canary_steps(obj) or [])[: index + 1]:
        route = as_mapping(step.get("setMirrorRoute"))
        if route:
            routes[str(route.get("name"))] = (_int(route.get("percentage")) or 0) \
                if route.get("match") else 0
    return max(routes.values(), default=0)


def template_images(template_owner: Mapping[str, Any]) -> dict[str, str]:
    """container name → image in spec.template.spec (a Rollout or a Deployment)."""
    pod = as_mapping(as_mapping(as_mapping(template_owner.get("spec")).get("template")).get("spec"))
    images: dict[str, str] = {}
    for key in _CONTAINER_LISTS:
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
    observed: bool
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
    obj: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> "RolloutState":
        metadata, spec = as_mapping(obj.get("metadata")), as_mapping(obj.get("spec"))
        status = as_mapping(obj.get("status"))
        phase, message = rollout_phase(obj)
        reasons = pause_reasons(obj)
        return cls(
            name=str(metadata.get("name") or ""),
            namespace=str(metadata.get("namespace") or ""),
            generation=_int(metadata.get("generation")) or 0,
            observed=generation_observed(obj),
            phase=phase,
            message=message,
            weight=current_weight(obj),
            step_index=current_step_index(obj),
            step_count=len(canary_steps(obj) or []),
            paused=bool(spec.get("paused")) or bool(reasons),
            pause_reasons=reasons,
            aborted=bool(status.get("abort")),
            fully_promoted=is_fully_promoted(obj),
            images=template_images(obj),
            mirror=active_mirror(obj),
            obj=obj,
        )

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

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
            "generation_observed": self.observed, "weight": self.weight,
            "step_index": self.step_index, "step_count": self.step_count,
            "paused": self.paused, "pause_reasons": list(self.pause_reasons),
            "aborted": self.aborted, "fully_promoted": self.fully_promoted,
            "images": dict(self.images),
        }


# -- steps -------------------------------------------------------------------------------

# The mirror phase (policy `rollout.mirror`) comes first: scale the canary up without
# traffic, mirror, hold at a pause until promoted, remove the mirror, and give the canary's
# scale back to the traffic weight (a setCanaryScale stays in force until then: Argo's
# UseSetCanaryScale). Neither setCanaryScale nor setMirrorRoute moves the weight or pauses.
MIRROR_PAUSE_INDEX = 2
DEFAULT_MIRROR_MATCH: tuple[JSON, ...] = ({"path": {"prefix": "/"}},)
_FLOW_ORDER = ("name", "percentage", "match", "weight", "replicas", "matchTrafficWeight")


def mirror_steps(mirror: MirrorConfig, match: Sequence[Any] = DEFAULT_MIRROR_MATCH
                 ) -> list[JSON]:
    """The five steps of the mirror phase; `match` is whatever the manifest matches on."""
    return [{"setCanaryScale": {"weight": mirror.scale}},
            {"setMirrorRoute": {"name": mirror.route, "percentage": mirror.percentage,
                                "match": list(match)}},
            {"pause": {}},
            {"setMirrorRoute": {"name": mirror.route}},
            {"setCanaryScale": {"matchTrafficWeight": True}}]


def expected_steps(weights: Sequence[int], mirror: MirrorConfig | None = None,
                   match: Sequence[Any] = DEFAULT_MIRROR_MATCH) -> list[JSON]:
    """The steps a CI driver needs: the mirror phase if any, then every weight is set and
    held until promoted."""
    steps: list[JSON] = mirror_steps(mirror, match) if mirror else []
    for weight in weights:
        steps += [{"setWeight": weight}, {"pause": {}}]
    return steps


def mirror_match(actual: Sequence[Mapping[str, Any]], mirror: MirrorConfig) -> list[Any]:
    """The manifest's own `match` of the mirror route when it has a non-empty one (any
    match is accepted: which requests to mirror is the manifest's choice), else the default."""
    for step in actual:
        route = as_mapping(step.get("setMirrorRoute"))
        match = route.get("match")
        if route.get("name") == mirror.route and isinstance(match, list) and match:
            return match
    return list(DEFAULT_MIRROR_MATCH)


def _flow(value: object) -> str:
    """A step's value as YAML flow text, the known step fields in their documented order
    (a manifest may order its keys any way; the comparison and the fix must not care)."""
    return yaml.safe_dump(_in_field_order(value), default_flow_style=True, sort_keys=False,
                          width=2**31).strip()


def _in_field_order(value: object) -> object:
    if isinstance(value, Mapping):
        keys = sorted(value, key=lambda k: (_FLOW_ORDER.index(k) if k in _FLOW_ORDER
                                            else len(_FLOW_ORDER), str(k)))
        return {key: _in_field_order(value[key]) for key in keys}
    if isinstance(value, list):
        return [_in_field_order(item) for item in value]
    return value


def describe_step(step: Mapping[str, Any]) -> str:
    """A step as it is written in the manifest (`setWeight: 10`, `pause: {}`)."""
    if "setWeight" in step and len(step) == 1:
        return f"setWeight: {step['setWeight']}"
    if "pause" in step and len(step) == 1:
        pause = as_mapping(step["pause"])
        return "pause: {}" if not pause else f"pause: {json.dumps(dict(pause))}"
    for kind in ("setCanaryScale", "setMirrorRoute"):
        if kind in step and len(step) == 1:
            return f"{kind}: {_flow(step[kind])}"
    return json.dumps(dict(step), sort_keys=True)


def step_mismatches(actual: Sequence[Mapping[str, Any]], weights: Sequence[int],
                    mirror: MirrorConfig | None = None) -> list[str]:
    """Every difference between the rollout's steps and the ones `weights` need."""
    match = mirror_match(actual, mirror) if mirror else DEFAULT_MIRROR_MATCH
    expected = expected_steps(weights, mirror, match)
    problems: list[str] = []
    for index in range(max(len(actual), len(expected))):
        want = describe_step(expected[index]) if index < len(expected) else None
        have = describe_step(actual[index]) if index < len(actual) else None
        if want == have:
            continue
        if want is None:
            problems.append(f"step {index}: `{have}` is extra; remove it")
        elif have is None:
            problems.append(f"step {index}: missing; add `{want}`")
        else:
            problems.append(f"step {index}: expected `{want}`, found `{have}`")
    return problems


def route_mismatches(obj: Mapping[str, Any], mirror: MirrorConfig) -> list[str]:
    """What the controller would refuse: setMirrorRoute needs traffic routing, and its route
    listed in trafficRouting.managedRoutes (Argo's ValidateRolloutStrategyCanary)."""
    canary = as_mapping(as_mapping(as_mapping(obj.get("spec")).get("strategy")).get("canary"))
    routing = canary.get("trafficRouting")
    if not isinstance(routing, Mapping) or not routing:
        return ["spec.strategy.canary.trafficRouting is not set: setMirrorRoute needs traffic "
                "routing through a mesh that mirrors (Istio)"]
    managed = routing.get("managedRoutes")
    names = [as_mapping(route).get("name") for route in managed] \
        if isinstance(managed, list) else []
    if mirror.route in names:
        return []
    return [f"spec.strategy.canary.trafficRouting.managedRoutes does not name "
            f"{mirror.route!r}; add `- name: {mirror.route}`"]


def check_steps(obj: Mapping[str, Any], weights: Sequence[int],
                mirror: MirrorConfig | None = None) -> None:
    """Refuse a rollout whose canary steps are not exactly setWeight/pause pairs for `weights`
    (after the mirror phase, when the policy has one).

    modelrail never edits the steps itself: Argo resets status.currentStepIndex to 0 when
    they change mid-rollout (and clears an abort), so the fix has to be a reviewed manifest
    change made while the rollout is fully promoted.
    """
    ref = f"{as_mapping(obj.get('metadata')).get('namespace')}/" \
          f"{as_mapping(obj.get('metadata')).get('name')}"
    steps = canary_steps(obj)
    if steps is None:
        raise UsageError(f"rollout {ref} has no spec.strategy.canary; modelrail drives "
                         "canary rollouts only")
    problems = step_mismatches(steps, weights, mirror)
    problems += route_mismatches(obj, mirror) if mirror else []
    if not problems:
        return
    match = mirror_match(steps, mirror) if mirror else DEFAULT_MIRROR_MATCH
    wanted = "\n".join(f"        - {describe_step(step)}"
                       for step in expected_steps(weights, mirror, match))
    routes = (f"        trafficRouting:\n          managedRoutes:\n"
              f"            - name: {mirror.route}\n"
              "          istio: {...}   # your mesh's settings, as they are\n") if mirror else ""
    mirrored = f" with the mirror phase of rollout.mirror (route {mirror.route!r})" \
        if mirror else ""
    raise UsageError(
        f"rollout {ref}: spec.strategy.canary.steps do not match the policy's weights "
        f"{list(weights)}{mirrored}:\n" + "\n".join(f"  - {p}" for p in problems) +
        "\nSet them in the Rollout manifest to:\n    strategy:\n      canary:\n"
        f"{routes}        steps:\n"
        f"{wanted}\nApply that change while the rollout is fully promoted (Healthy): "
        "editing the steps mid-rollout resets status.currentStepIndex to 0 (and clears an "
        "abort), so modelrail never changes them itself."
    )


# -- promote -----------------------------------------------------------------------------

UNPAUSE: JSON = {"spec": {"paused": False}}
CLEAR_PAUSE_CONDITIONS: JSON = {"status": {"pauseConditions": None}}
PROMOTE_FULL: JSON = {"status": {"promoteFull": True}}
ABORT: JSON = {"status": {"abort": True}}
RETRY: JSON = {"status": {"abort": False}}
PAUSE: JSON = {"spec": {"paused": True}}


@dataclass(frozen=True)
class PromotePlan:
    """The plugin's three patches: status first, then spec; `unified` replaces `spec`
    when the /status subresource is not served (Argo Rollouts before v0.10)."""

    status: JSON | None
    spec: JSON | None
    unified: JSON | None

    @property
    def empty(self) -> bool:
        return self.status is None and self.spec is None


def _inconclusive(obj: Mapping[str, Any]) -> bool:
    canary = as_mapping(as_mapping(obj.get("status")).get("canary"))
    run = as_mapping(canary.get("currentStepAnalysisRunStatus"))
    return run.get("status") == INCONCLUSIVE


def plan_promote(obj: Mapping[str, Any], full: bool = False) -> PromotePlan:
    """The patches `kubectl argo rollouts promote [--full]` sends for this object.

    One addition to the plugin (DESIGN.md): `--full` also unpauses a manually paused
    rollout, whose phase would otherwise stay Paused after the promotion.
    """
    spec, status = as_mapping(obj.get("spec")), as_mapping(obj.get("status"))
    paused = bool(spec.get("paused"))
    if full:
        promote = None if is_fully_promoted(obj) else PROMOTE_FULL
        unpause = UNPAUSE if paused else None
        both = {**(unpause or {}), **(promote or {})} or None
        return PromotePlan(status=promote, spec=unpause, unified=both)
    index = current_step_index(obj)
    count = len(canary_steps(obj) or [])
    following = None if index is None else (index + 1 if index < count else index)
    reasons = pause_reasons(obj)
    unified: JSON = {"spec": {"paused": False}, "status": {"pauseConditions": None}}
    patch: JSON | None = None
    if _inconclusive(obj) and reasons and status.get("controllerPause") \
            and following is not None:
        patch = {"status": {"pauseConditions": None, "controllerPause": False,
                            "currentStepIndex": following}}
    elif reasons:
        patch = CLEAR_PAUSE_CONDITIONS
    elif canary_steps(obj) is not None and following is not None:
        patch = {"status": {"pauseConditions": None, "currentStepIndex": following}}
        unified = {"spec": {"paused": False},
                   "status": {"pauseConditions": None, "currentStepIndex": following}}
    return PromotePlan(status=patch, spec=UNPAUSE if paused else None, unified=unified)


# -- set image ---------------------------------------------------------------------------


def pick_container(images: Mapping[str, str], container: str | None, what: str) -> str:
    """The container to update: the one named, or the only one; `*` means all."""
    if container is not None:
        if container != "*" and container not in images:
            raise UsageError(f"{what} has no container named {container!r} "
                             f"(containers: {', '.join(images) or 'none'})")
        return container
    if len(images) == 1:
        return next(iter(images))
    raise UsageError(f"{what} has {len(images)} containers ({', '.join(images) or 'none'}): "
                     "name one with --container or rollout.container in the policy")


def with_image(obj: Mapping[str, Any], container: str, image: str) -> tuple[JSON, bool]:
    """A copy of `obj` whose named container (or every one, for `*`) runs `image`.

    Works on the object as served (a dict), so fields this code does not know about are
    sent back unchanged, as the plugin's dynamic client does.
    """
    updated: JSON = json.loads(json.dumps(obj))
    pod = as_mapping(as_mapping(updated.get("spec", {}).get("template")).get("spec"))
    changed = False
    for key in _CONTAINER_LISTS:
        for entry in pod.get(key) or []:
            if isinstance(entry, dict) and (container in ("*", entry.get("name"))):
                changed = changed or entry.get("image") != image
                entry["image"] = image
    return updated, changed


# -- wait conditions ---------------------------------------------------------------------

PHASES = ("Healthy", "Paused", "Progressing", "Degraded")


@dataclass(frozen=True)
class Condition:
    """One `--until` term: healthy | paused | degraded | aborted | phase=NAME | weight=N
    | step=N. Phases count only once the controller has observed the spec."""

    kind: str
    value: str = ""

    @classmethod
    def parse(cls, text: str) -> "Condition":
        key, _, value = text.strip().partition("=")
        key = key.strip().lower()
        if not value and key in ("healthy", "paused", "degraded", "aborted"):
            return cls(key)
        if key == "phase" and value.capitalize() in PHASES:
            return cls("phase", value.capitalize())
        if key in ("weight", "step") and value.strip().isdigit():
            return cls(key, value.strip())
        raise UsageError(f"--until {text!r}: expected healthy, paused, degraded, aborted, "
                         f"phase=({'|'.join(PHASES)}), weight=N or step=N")

    def holds(self, rollout: RolloutState) -> bool:
        if not rollout.observed:
            return False
        checks: dict[str, Callable[[], bool]] = {
            "healthy": lambda: rollout.phase == "Healthy",
            "paused": lambda: rollout.paused and rollout.phase == "Paused",
            "degraded": lambda: rollout.phase == "Degraded",
            "aborted": lambda: rollout.aborted and rollout.weight == 0,
            "phase": lambda: rollout.phase == self.value,
            "weight": lambda: rollout.weight == int(self.value or -1),
            "step": lambda: rollout.step_index == int(self.value or -1),
        }
        return checks[self.kind]()

    def __str__(self) -> str:
        return f"{self.kind}={self.value}" if self.value else self.kind


def joined(conditions: Sequence[Condition]) -> str:
    return " and ".join(str(c) for c in conditions)
