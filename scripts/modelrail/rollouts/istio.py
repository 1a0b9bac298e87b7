"""The mirror route as the mesh has it, read back from the Istio VirtualServices a Rollout
routes through (`spec.strategy.canary.trafficRouting.istio.virtualService(s)`).

The steps say what should be mirrored; only the VirtualService says what is. Argo's Istio
reconciler (rollout/trafficrouting/istio/istio.go) writes a setMirrorRoute step's route
into each VirtualService only while that step is the current one, and removes every
managed route whenever the canary has no available pods, on an abort and on a full
promotion (reconcileTrafficRouting, rollout/trafficrouting.go): a mirror route that
vanishes during the mirror pause is not written again, and the canary then receives no
copies at all. Pure functions over the objects as served; the driver reads them.
"""

from collections.abc import Mapping
from typing import Any

from modelrail.rollouts.objects import as_mapping, nested


def virtual_service_names(rollout: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(namespace, name) of each VirtualService the rollout's Istio routing names; the
    `name.namespace` shorthand as GetVirtualServiceNamespaceName (utils/istio/istio.go)
    reads it; [] without Istio routing."""
    istio = nested(rollout, "spec", "strategy", "canary", "trafficRouting", "istio")
    single = as_mapping(istio.get("virtualService"))
    many = istio.get("virtualServices")
    entries = [single] if single else [as_mapping(e) for e in many] \
        if isinstance(many, list) else []
    default = str(nested(rollout, "metadata").get("namespace") or "")
    names: list[tuple[str, str]] = []
    for entry in entries:
        text = str(entry.get("name") or "").removesuffix(".cluster.local")
        name, _, namespace = text.rpartition(".")
        names.append((namespace, name) if name else (default, namespace))
    return names


def mirror_route_problem(virtual_service: Mapping[str, Any], route: str) -> str:
    """'' when `spec.http` has the route named `route` with a `mirror` destination and a
    mirrorPercentage above 0; else what is missing, naming the routes there are."""
    routes = [as_mapping(r) for r in nested(virtual_service, "spec").get("http") or []
              if isinstance(r, Mapping)]
    found = next((r for r in routes if r.get("name") == route), None)
    if found is None:
        names = ", ".join(str(r.get("name") or "(unnamed)") for r in routes) or "none"
        return f"the mirror route {route!r} vanished (routes now: {names})"
    if not as_mapping(found.get("mirror")).get("host"):
        return f"the route {route!r} no longer mirrors (no mirror destination)"
    share = as_mapping(found.get("mirrorPercentage")).get("value", 100)
    if not isinstance(share, int | float) or share <= 0:
        return f"the route {route!r} mirrors {share}% of its requests"
    return ""
