"""A stand-in for the Istio VirtualServices (networking.istio.io/v1) an Argo Rollout routes
through, and for what the Argo controller's Istio reconciler writes into them.

The Rollouts stand-in's API server serves them (GET, PATCH, PUT of
``/apis/networking.istio.io/v1/namespaces/{ns}/virtualservices/{name}``, with the same
resourceVersion, auth and fault rules as a Rollout); this module holds the object's shape
and the route edits, each following argo-rollouts' ``rollout/trafficrouting/istio/istio.go``
(v1.10):

- ``set_mirror_route`` is ``reconcileVirtualServiceMirrorRoutes`` + ``orderRoutes``: a
  setMirrorRoute with a ``match`` replaces the route of that name by one placed first,
  whose ``match`` is the step's (``path`` becomes Istio's ``uri``), whose ``route`` copies
  the destinations of the first route named in ``virtualService.routes`` (the setWeight
  route), with ``mirror`` to the canary (the DestinationRule's canary subset when there is
  one, else the canary Service) and ``mirrorPercentage.value`` (100 without a percentage);
  managed routes are then ordered as ``managedRoutes`` lists them, above the others; a
  setMirrorRoute without ``match`` removes the route;
- ``remove_managed_routes`` is ``RemoveManagedRoutes``: every route a setMirrorRoute or
  setHeaderRoute step names, and every managed route, goes.

What the data plane does with a VirtualService (``mirrored_share``) follows Istio: the
first HTTP route whose ``match`` (any of its entries; all fields of an entry) matches a
request takes it, and a route with ``mirror`` copies ``mirrorPercentage.value`` % of the
requests *it* matches (100 % without ``mirrorPercentage``).

Without Argo (modelrail's Istio backend writes the weights itself), the stand-in also
plays istiod and the Deployment controller:

- ``weight_problem`` is Istio's validation of a write (the ``validation.istio.io``
  admission webhook, ``validateHTTPRouteDestinations`` in
  ``pkg/config/validation/validation.go``): the weights of a route with more than one
  destination must sum to 100, each from 0 to 100. The API server answers a denial with
  400 and ``admission webhook "validation.istio.io" denied the request: configuration is
  invalid: ...`` (``k8s.io/apiserver/pkg/admission/plugin/webhook/errors/statuserror.go``
  turns a status code below 400 into 400);
- ``reconciled_status`` is what istiod's status distribution (``PILOT_ENABLE_STATUS``;
  ``pilot/pkg/status/distribution``) writes once every proxy has a generation:
  ``status.observedGeneration`` and a ``Reconciled`` condition. Until then, the data plane
  still routes by the previous generation (``route_weight`` of the pushed spec);
- ``deployment_status`` is a Deployment rolled out: every replica updated and available,
  the generation observed (``pkg/controller/deployment/sync.go`` calculateStatus).
"""

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

JSON = dict[str, Any]
GROUP, VERSION, PLURAL = "networking.istio.io", "v1", "virtualservices"
KIND = (f"{GROUP}/{VERSION}", "VirtualService")
PRIMARY = "primary"  # the setWeight route the seeded VirtualService has


def virtual_service_spec(host: str, stable_subset: str = "stable",
                         canary_subset: str = "canary") -> JSON:
    """A VirtualService as a user writes it for a canary with a DestinationRule: one named
    HTTP route splitting `host` between the stable and canary subsets."""
    return {"hosts": [host], "http": [{"name": PRIMARY, "route": [
        {"destination": {"host": host, "subset": stable_subset}, "weight": 100},
        {"destination": {"host": host, "subset": canary_subset}, "weight": 0}]}]}


def virtual_service_names(istio: Mapping[str, Any], namespace: str) -> list[tuple[str, str]]:
    """(namespace, name) of each VirtualService `trafficRouting.istio` names (virtualService
    or virtualServices; `name.namespace` shorthand, GetVirtualServiceNamespaceName in
    utils/istio/istio.go)."""
    entries = [istio["virtualService"]] if istio.get("virtualService") else \
        list(istio.get("virtualServices") or [])
    names = []
    for entry in entries:
        name, _, other = str(entry.get("name", "")).removesuffix(".cluster.local") \
            .rpartition(".")
        names.append((other, name) if name else (namespace, other))
    return names


def _routes(vs: JSON) -> list[JSON]:
    routes = vs.setdefault("spec", {}).get("http")
    if not isinstance(routes, list):
        raise TypeError("spec.http not found")  # SpecHttpNotFound
    return routes


def remove_routes(vs: JSON, names: Sequence[str]) -> bool:
    """removeRoute for each name; whether anything went."""
    routes = _routes(vs)
    kept = [route for route in routes if route.get("name") not in names]
    vs["spec"]["http"] = kept
    return len(kept) != len(routes)


def set_mirror_route(vs: JSON, step: Mapping[str, Any], *, weighted: Sequence[str],
                     canary_host: str, canary_subset: str, managed: Sequence[str]) -> None:
    """The edit of one setMirrorRoute step (see the module docstring)."""
    remove_routes(vs, [step["name"]])
    if step.get("match") is None:
        return
    routes = _routes(vs)
    source = next((r for r in routes if r.get("name") in weighted), None)
    if source is None:
        raise ValueError(f"HTTP Route '{weighted[0] if weighted else ''}' is not found in "
                         "the defined Virtual Service.")
    mirror: JSON = {"host": canary_host}
    if canary_subset:
        mirror["subset"] = canary_subset
    route = {"name": step["name"], "match": [_istio_match(m) for m in step["match"]],
             "route": copy.deepcopy(source.get("route") or []), "mirror": mirror,
             "mirrorPercentage": {"value": float(step.get("percentage") or 100)}}
    vs["spec"]["http"] = _ordered([route, *routes], managed)


def remove_managed_routes(vs: JSON, steps: Sequence[Mapping[str, Any]],
                          managed: Sequence[str]) -> bool:
    """RemoveManagedRoutes: the routes the steps name, then the managed routes."""
    named = [str(route["name"]) for step in steps for kind in ("setMirrorRoute",
                                                                "setHeaderRoute")
             if isinstance(route := step.get(kind), Mapping) and route.get("name")]
    return remove_routes(vs, [*named, *managed])


def _istio_match(match: Mapping[str, Any]) -> JSON:
    """RouteMatch from a step's match: method, path → uri, headers."""
    fields = {"method": match.get("method"), "uri": match.get("path"),
              "headers": match.get("headers")}
    return {key: value for key, value in fields.items() if value}


def _ordered(routes: list[JSON], managed: Sequence[str]) -> list[JSON]:
    """orderRoutes: managed routes in managedRoutes order, then the rest as they were."""
    first = [route for name in managed for route in routes if route.get("name") == name]
    return first + [route for route in routes if route.get("name") not in managed]


# -- the data plane ----------------------------------------------------------------------


def _string_match(rule: Any, value: str | None) -> bool:
    """Istio StringMatch: exact, prefix or regex (RE2, anchored)."""
    if not isinstance(rule, Mapping) or value is None:
        return False
    if "exact" in rule:
        return value == str(rule["exact"])
    if "prefix" in rule:
        return value.startswith(str(rule["prefix"]))
    if "regex" in rule:
        return re.fullmatch(str(rule["regex"]), value) is not None
    return False


def request_matches(match: Mapping[str, Any], method: str, path: str,
                    headers: Mapping[str, str]) -> bool:
    """One HTTPMatchRequest: every field it sets matches (header names lowercase)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    checks = [("method" not in match or _string_match(match["method"], method)),
              ("uri" not in match or _string_match(match["uri"], path))]
    checks += [_string_match(rule, lowered.get(name.lower()))
               for name, rule in (match.get("headers") or {}).items()]
    return all(checks)


def mirrored_share(vs: Mapping[str, Any] | None, method: str, path: str,
                   headers: Mapping[str, str]) -> float:
    """The % of such requests mirrored: the first route that takes the request decides."""
    for route in ((vs or {}).get("spec") or {}).get("http") or []:
        matches = route.get("match") or [{}]
        if any(request_matches(m, method, path, headers) for m in matches):
            if not route.get("mirror"):
                return 0.0
            return float((route.get("mirrorPercentage") or {}).get("value", 100.0))
    return 0.0


# -- istiod and the Deployment controller (modelrail's Istio backend) -----------------------


def weight_problem(vs: Mapping[str, Any]) -> str:
    """'' when every HTTP route's weights are valid (module docstring); else Istio's
    message."""
    for route in ((vs.get("spec") or {}).get("http") or []):
        destinations = route.get("route") or []
        weights = [int(d.get("weight") or 0) for d in destinations]
        if any(not 0 <= w <= 100 for w in weights):
            return f"percentage {weights} is not in range 0..100"
        if len(weights) > 1 and sum(weights) != 100:
            return f"total destination weight {sum(weights)} != 100"
    return ""


def reconciled_status(generation: int) -> JSON:
    return {"observedGeneration": generation,
            "conditions": [{"type": "Reconciled", "status": "True",
                            "message": "all proxies have this generation"}]}


def route_weight(spec: Mapping[str, Any] | None, route: str, subset: str) -> int:
    """The weight of `subset` in the HTTP route named `route` of a VirtualService spec."""
    for entry in ((spec or {}).get("http") or []):
        if entry.get("name") == route:
            return sum(int(d.get("weight") or 0) for d in entry.get("route") or []
                       if (d.get("destination") or {}).get("subset") == subset)
    return 0


def deployment_status(deployment: Mapping[str, Any]) -> JSON:
    replicas = int((deployment.get("spec") or {}).get("replicas", 1))
    return {"observedGeneration": deployment["metadata"]["generation"], "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [{"type": "Progressing", "status": "True",
                            "reason": "NewReplicaSetAvailable"}]}


def deadline_exceeded_status(deployment: Mapping[str, Any]) -> JSON:
    """A Deployment whose new pods never became ready, at its progress deadline: observed,
    updated, not available, Progressing False with ProgressDeadlineExceeded
    (pkg/controller/deployment/progress.go)."""
    replicas = int((deployment.get("spec") or {}).get("replicas", 1))
    return {"observedGeneration": deployment["metadata"]["generation"],
            "replicas": 2 * replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [{"type": "Progressing", "status": "False",
                            "reason": "ProgressDeadlineExceeded",
                            "message": 'ReplicaSet has timed out progressing.'}]}
