"""The Rollouts stand-in's replica model: the pods of each ReplicaSet of a Rollout, ready
after a delay (or never), and the counts the Argo Rollouts controller (v1.10) scales the
canary and stable ReplicaSets to. Each rule names the upstream file it follows; pure
functions on the Rollout's spec and status, no I/O.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
MAX_WEIGHT = 100  # weightutil.MaxTrafficWeight (no trafficRouting.maxTrafficWeight here)
# utils/defaults/defaults.go: DefaultMaxSurge, DefaultMaxUnavailable (%)
DEFAULT_SURGE_UNAVAILABLE = 25


@dataclass
class ReplicaSet:
    """One ReplicaSet: the creation time of each of its pods (time.monotonic; -inf for pods
    that were ready before the stand-in started). Scaling down removes the newest pods
    first, as the ReplicaSet controller prefers not-ready and younger pods."""

    images: tuple[str, ...]
    created: list[float] = field(default_factory=list)

    def scale(self, count: int, now: float) -> None:
        if count < len(self.created):
            del self.created[count:]
        else:
            self.created += [now] * (count - len(self.created))

    def ready(self, now: float, delay: float, never: bool) -> int:
        """Pods past their readiness delay (minReadySeconds 0: ready is available)."""
        return 0 if never else sum(1 for t in self.created if t + delay <= now)

    def next_ready(self, now: float, delay: float, never: bool) -> float | None:
        """Seconds until the next pod becomes ready, None when none will."""
        waiting = [t + delay - now for t in self.created if t + delay > now]
        return None if never or not waiting else max(min(waiting), 0.0)


def canary(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    return (spec.get("strategy") or {}).get("canary") or {}


def total_replicas(spec: Mapping[str, Any]) -> int:
    """defaults.GetReplicasOrDefault (utils/defaults/defaults.go): spec.replicas, else 1."""
    replicas = spec.get("replicas")
    return 1 if replicas is None else int(replicas)


def set_weight_at(steps: list[JSON], index: int) -> int:
    """GetCurrentSetWeight (utils/replicaset/canary.go) without abort: the last setWeight
    at or before `index`, 0 without one, 100 past the last step."""
    if index >= len(steps):
        return MAX_WEIGHT
    return next((int(s["setWeight"]) for s in reversed(steps[: index + 1]) if "setWeight" in s),
                0)


def previous_set_weight(steps: list[JSON], index: int) -> int:
    """The last setWeight before `index`: the weight reconcileTrafficRouting keeps while the
    canary is not at its replica counts yet (rollout/trafficrouting.go)."""
    return next((int(s["setWeight"]) for s in reversed(steps[:index]) if "setWeight" in s), 0)


def _set_canary_scale(spec: Mapping[str, Any], status: Mapping[str, Any]) -> JSON | None:
    """UseSetCanaryScale (utils/replicaset/canary.go): the last setCanaryScale at or before
    the current step, None without traffic routing, once aborted (abortScaleDownDelaySeconds
    is not 0 by default), or when that step says matchTrafficWeight."""
    steps = canary(spec).get("steps") or []
    index = int(status.get("currentStepIndex") or 0)
    if not canary(spec).get("trafficRouting") or status.get("abort") or index >= len(steps):
        return None
    for step in reversed(steps[: index + 1]):
        scale = step.get("setCanaryScale")
        if scale is not None:
            return None if scale.get("matchTrafficWeight") else scale
    return None


def canary_replicas_or_weight(spec: Mapping[str, Any],
                              status: Mapping[str, Any]) -> tuple[int | None, int]:
    """GetCanaryReplicasOrWeight and GetDesiredCanaryWeight (utils/replicaset/canary.go;
    without dynamicStableScale): an explicit setCanaryScale replica count, or the weight the
    canary is scaled to (100 on promoteFull, on the first deployment and once promoted)."""
    if status.get("promoteFull") or not status.get("stableRS") \
            or status.get("currentPodHash") == status.get("stableRS"):
        return None, MAX_WEIGHT
    scale = _set_canary_scale(spec, status)
    if scale is not None and scale.get("replicas") is not None:
        return int(scale["replicas"]), 0
    if scale is not None and scale.get("weight") is not None:
        return None, int(scale["weight"])
    if status.get("abort"):
        return None, 0
    steps = canary(spec).get("steps") or []
    return None, set_weight_at(steps, int(status.get("currentStepIndex") or 0))


def _approximate(total: int, weight: int, surge: int) -> tuple[int, int]:
    """approximateWeightedCanaryStableReplicaCounts (utils/replicaset/canary.go): the
    (canary, stable) counts closest to `weight`, over spec.replicas or one more when a surge
    is allowed, never 0 canary pods for a weight of 1-99 (ties round up)."""
    if total == 0:
        return 0, 0
    ceil = math.ceil(total * weight / MAX_WEIGHT)
    floor = math.floor(total * weight / MAX_WEIGHT)
    zero_allowed = weight in (0, MAX_WEIGHT) or (total == 1 and surge == 0)
    options: list[tuple[int, int]] = []
    for size in (total, total + 1) if surge > 0 else (total,):
        tied = math.modf(size * weight / MAX_WEIGHT)[0] == 0.5
        if size > total or ceil < total or zero_allowed:
            options.append((ceil, size))
        if not tied and (floor != 0 or zero_allowed):
            options.append((floor, size))
    if not options:
        return 0, total
    best = min(options, key=lambda o: abs(o[0] * MAX_WEIGHT / o[1] - weight))
    return best[0], best[1] - best[0]


def _percent_of(spec: Mapping[str, Any], key: str, total: int, *, up: bool) -> int:
    """MaxSurge (rounded up) / MaxUnavailable (rounded down) of spec.strategy.canary, an
    int or a percentage, default 25 % (utils/replicaset/replicaset.go)."""
    value = canary(spec).get(key, f"{DEFAULT_SURGE_UNAVAILABLE}%")
    if isinstance(value, str) and value.endswith("%"):
        share = total * int(value[:-1]) / 100
        return math.ceil(share) if up else math.floor(share)
    return int(value)


@dataclass(frozen=True)
class Counts:
    """What the controller scales the new (canary) and stable ReplicaSets to, and the
    stable count AtDesiredReplicaCountsForCanary checks for."""

    canary: int
    stable: int
    stable_target: int


def desired_counts(spec: Mapping[str, Any], status: Mapping[str, Any],
                   canary_available: int, stable_now: int) -> Counts:
    """The canary and stable counts for this reconcile. With traffic routing
    (CalculateReplicaCountsForTrafficRoutedCanary, utils/replicaset/canary.go) the canary
    gets ceil(weight x spec.replicas / 100) pods or the setCanaryScale count, the stable
    stays at spec.replicas (no dynamicStableScale). Without it
    (CalculateReplicaCountsForBasicCanary) the counts are approximated to the weight and the
    stable is scaled down only as far as maxUnavailable allows with the canary pods that are
    available (reduced: maxSurge only widens the choice of counts)."""
    total = total_replicas(spec)
    replicas, weight = canary_replicas_or_weight(spec, status)
    if canary(spec).get("trafficRouting"):
        count = replicas if replicas is not None else math.ceil(weight * total / MAX_WEIGHT)
        return Counts(count, total, total)
    surge = _percent_of(spec, "maxSurge", total, up=True)
    wanted, stable = _approximate(total, weight, surge)
    floor = total - _percent_of(spec, "maxUnavailable", total, up=False) - canary_available
    scaled = stable if stable_now <= stable else max(stable, min(stable_now, floor))
    return Counts(wanted, scaled, stable)
