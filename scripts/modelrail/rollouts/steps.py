"""The canary steps a policy needs in the Rollout manifest (the mirror phase first, then
the `setWeight` + `pause: {}` pairs), and the check that refuses a manifest whose steps
differ, saying how to fix it. modelrail never edits the steps itself: Argo resets
status.currentStepIndex to 0 when they change mid-rollout. The steps and why each is
there: docs/argo-rollouts.md.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from modelrail.errors import UsageError
from modelrail.rollouts.objects import JSON, as_mapping, nested
from modelrail.rollouts.policy import MirrorConfig
from modelrail.rollouts.status import MIRROR_PHASE, canary_steps

DEFAULT_MIRROR_MATCH: tuple[JSON, ...] = ({"path": {"prefix": "/"}},)
_FLOW_ORDER = ("name", "percentage", "match", "weight", "replicas", "matchTrafficWeight")


def mirror_steps(mirror: MirrorConfig, match: Sequence[Any] = DEFAULT_MIRROR_MATCH
                 ) -> list[JSON]:
    """The steps of the mirror phase; `match` is whatever the manifest matches on."""
    steps: dict[str, JSON] = {
        "scale up": {"setCanaryScale": {"weight": mirror.scale}},
        "mirror": {"setMirrorRoute": {"name": mirror.route, "percentage": mirror.percentage,
                                      "match": list(match)}},
        "pause": {"pause": {}},
        "stop mirroring": {"setMirrorRoute": {"name": mirror.route}},
        "scale back": {"setCanaryScale": {"matchTrafficWeight": True}},
    }
    return [steps[name] for name in MIRROR_PHASE]


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
        route = nested(step, "setMirrorRoute")
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
    """What the controller would refuse (ValidateRolloutStrategyCanary, pkg/apis/rollouts/
    validation/validation.go): setMirrorRoute needs traffic routing through Istio (or,
    from Argo Rollouts v1.10, a traffic-router plugin), and its route listed in
    trafficRouting.managedRoutes. A refused Rollout is Degraded (InvalidSpec) and runs no
    step, so `canary run` would only wait out its timeout."""
    routing = nested(obj, "spec", "strategy", "canary").get("trafficRouting")
    if not isinstance(routing, Mapping) or not routing:
        return ["spec.strategy.canary.trafficRouting is not set: setMirrorRoute needs traffic "
                "routing through Istio (or a traffic-router plugin, Argo Rollouts >= v1.10)"]
    problems: list[str] = []
    if not routing.get("istio") and not routing.get("plugins"):
        routers = ", ".join(sorted(str(key) for key in routing if key != "managedRoutes"))
        problems.append(
            f"spec.strategy.canary.trafficRouting uses {routers or 'no router'}: Argo "
            "Rollouts runs setMirrorRoute only with `istio` (or, from v1.10, a traffic-router "
            "plugin under `plugins`) and refuses this Rollout as InvalidSpec; route it "
            "through Istio, or remove `rollout.mirror` from the policy and the mirror steps "
            "from the Rollout")
    managed = routing.get("managedRoutes")
    names = [as_mapping(route).get("name") for route in managed] \
        if isinstance(managed, list) else []
    if mirror.route not in names:
        problems.append(f"spec.strategy.canary.trafficRouting.managedRoutes does not name "
                        f"{mirror.route!r}; add `- name: {mirror.route}`")
    return problems


def check_steps(obj: Mapping[str, Any], weights: Sequence[int],
                mirror: MirrorConfig | None = None) -> None:
    """Refuse a rollout whose canary steps are not exactly setWeight/pause pairs for `weights`
    (after the mirror phase, when the policy has one).

    modelrail never edits the steps itself: Argo resets status.currentStepIndex to 0 when
    they change mid-rollout (and clears an abort), so the fix has to be a reviewed manifest
    change made while the rollout is fully promoted.
    """
    metadata = nested(obj, "metadata")
    ref = f"{metadata.get('namespace')}/{metadata.get('name')}"
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
