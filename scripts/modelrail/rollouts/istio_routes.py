"""The Istio backend's objects, read and patched: the one HTTP route of a VirtualService
(networking.istio.io/v1) whose weights modelrail owns, the JSON patches that move them,
and the backend-neutral state (`IstioState`) read off the VirtualService and the two
Deployments behind its subsets. Pure functions; rollouts/istio_backend.py sends them.

Every write is a JSON patch (RFC 6902), exactly what
`kubectl patch virtualservice NAME --type json -p '[...]'` sends: a merge patch cannot
change one entry of a list (it replaces `spec.http` whole). Each patch first tests the
route's name and both destinations' subsets at their indexes, so it never edits another
route than the one it read (the API server answers 422 otherwise, and the read is redone).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelrail.errors import UsageError
from modelrail.rollouts.backend import NamedState
from modelrail.rollouts.deployments import deadline_exceeded, progress_deadline, rollout_pending
from modelrail.rollouts.objects import JSON, as_mapping, integer, nested
from modelrail.rollouts.policy import IstioConfig
from modelrail.rollouts.status import template_images

RECONCILED = "Reconciled"  # the condition istiod's status distribution writes


@dataclass(frozen=True)
class OwnedRoute:
    """Where the owned route and its two destinations are in `spec.http`, as read."""

    index: int
    stable: int  # index of the stable subset's destination in the route's `route`
    canary: int
    host: str
    canary_weight: int
    mirror: int  # % mirrored to the canary subset; 0 without such a mirror
    mirror_keys: tuple[str, ...]  # which of mirror, mirrorPercentage the route has


def _routes(vs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    routes = nested(vs, "spec").get("http")
    return [as_mapping(r) for r in routes] if isinstance(routes, list) else []


def owned_route(vs: Mapping[str, Any], config: IstioConfig, ref: str) -> OwnedRoute:
    """The route named `config.route`, refused (exit 2, saying what is there instead)
    unless it routes to exactly the stable and the canary subset of one host."""
    routes = _routes(vs)
    index = next((i for i, r in enumerate(routes) if r.get("name") == config.route), None)
    if index is None:
        names = ", ".join(str(r.get("name") or "(unnamed)") for r in routes) or "none"
        raise UsageError(f"VirtualService {ref} has no HTTP route named {config.route!r} "
                         f"(rollout.istio.route); its routes: {names}")
    route = routes[index]
    entries = route.get("route")
    destinations = [as_mapping(d) for d in entries] if isinstance(entries, list) else []
    subsets = [str(nested(d, "destination").get("subset") or "") for d in destinations]
    wanted = [config.stable_subset, config.canary_subset]
    if sorted(subsets) != sorted(wanted):
        raise UsageError(
            f"VirtualService {ref} route {config.route!r} routes to subsets "
            f"{subsets or 'none'}; modelrail needs exactly two destinations, the subsets "
            f"{wanted[0]!r} and {wanted[1]!r} (rollout.istio.stable_subset/canary_subset)")
    hosts = {str(nested(d, "destination").get("host") or "") for d in destinations}
    if len(hosts) != 1 or (config.host is not None and hosts != {config.host}):
        wanted_host = f" ({config.host}, rollout.istio.host)" if config.host else ""
        raise UsageError(f"VirtualService {ref} route {config.route!r}: both destinations "
                         f"must be on one host{wanted_host}; they name {sorted(hosts)}")
    stable, canary = subsets.index(config.stable_subset), subsets.index(config.canary_subset)
    mirror_to = as_mapping(route.get("mirror"))
    mirrored = 0
    if mirror_to.get("subset") == config.canary_subset:
        share = as_mapping(route.get("mirrorPercentage")).get("value", 100)
        mirrored = int(share) if isinstance(share, int | float) else 0
    return OwnedRoute(index=index, stable=stable, canary=canary, host=hosts.pop(),
                      canary_weight=integer(destinations[canary].get("weight")) or 0,
                      mirror=mirrored,
                      mirror_keys=tuple(k for k in ("mirror", "mirrorPercentage")
                                        if k in route))


def _guard(owned: OwnedRoute, config: IstioConfig) -> list[JSON]:
    base = f"/spec/http/{owned.index}"
    return [{"op": "test", "path": f"{base}/name", "value": config.route},
            {"op": "test", "path": f"{base}/route/{owned.stable}/destination/subset",
             "value": config.stable_subset},
            {"op": "test", "path": f"{base}/route/{owned.canary}/destination/subset",
             "value": config.canary_subset}]


def _unmirror(owned: OwnedRoute) -> list[JSON]:
    return [{"op": "remove", "path": f"/spec/http/{owned.index}/{key}"}
            for key in owned.mirror_keys]


def _weights(owned: OwnedRoute, canary_weight: int) -> list[JSON]:
    """canary_weight % to the canary subset, the rest to stable: they sum to 100, as
    Istio's validation requires. `add` sets a weight also where it was left out (0)."""
    base = f"/spec/http/{owned.index}/route"
    return [{"op": "add", "path": f"{base}/{owned.stable}/weight", "value": 100 - canary_weight},
            {"op": "add", "path": f"{base}/{owned.canary}/weight", "value": canary_weight}]


def weights_patch(owned: OwnedRoute, config: IstioConfig, canary_weight: int) -> list[JSON]:
    """The weights, and the mirror, if any, removed: the mirror phase ends when user
    traffic starts (as Argo's steps end it), and an abort ends it too."""
    return [*_guard(owned, config), *_weights(owned, canary_weight), *_unmirror(owned)]


def mirror_patch(owned: OwnedRoute, config: IstioConfig, percentage: int) -> list[JSON]:
    """The mirror phase: a copy of `percentage` % of the route's requests to the canary
    subset (Istio drops the copies' answers), user traffic all on stable."""
    base = f"/spec/http/{owned.index}"
    return [*_guard(owned, config), *_weights(owned, 0),
            {"op": "add", "path": f"{base}/mirror",
             "value": {"host": owned.host, "subset": config.canary_subset}},
            {"op": "add", "path": f"{base}/mirrorPercentage", "value": {"value": percentage}}]


def reconcile_pending(vs: Mapping[str, Any]) -> str:
    """'' once istiod reports the VirtualService's generation distributed to the proxies
    (status.observedGeneration and a Reconciled condition that is True, istiod's status
    distribution with PILOT_ENABLE_STATUS); else what is missing."""
    generation = integer(nested(vs, "metadata").get("generation")) or 0
    status = nested(vs, "status")
    observed = integer(status.get("observedGeneration"))
    conditions = status.get("conditions")
    reconciled = any(as_mapping(c).get("type") == RECONCILED
                     and str(as_mapping(c).get("status")) == "True"
                     for c in (conditions if isinstance(conditions, list) else []))
    if observed is None:
        return (f"istiod has reported no status for generation {generation} (is "
                "PILOT_ENABLE_STATUS on? else set rollout.istio.require_status: false)")
    if observed < generation or not reconciled:
        return f"istiod has not reported generation {generation} {RECONCILED} yet " \
            f"(it last observed {observed})"
    return ""


@dataclass(frozen=True)
class IstioState(NamedState):
    """The Istio backend's `TrafficState` (rollouts/backend.py)."""

    name: str
    namespace: str
    observed: bool
    phase: str
    message: str
    weight: int
    mirror: int
    aborted: bool
    fully_promoted: bool
    progress_deadline: int
    stable_images: Mapping[str, str] = field(default_factory=dict)
    step_index: int | None = None

    @property
    def mirror_phase(self) -> bool:
        """Mirroring, or past it (user traffic on the canary, on a re-run)."""
        return self.mirror > 0 or self.weight > 0

    def describe(self) -> str:
        why = f" ({self.message})" if self.message else ""
        mirror = f" · mirror {self.mirror}%" if self.mirror else ""
        return f"{self.ref}: {self.phase}{why} · weight {self.weight}%{mirror}"


@dataclass(frozen=True)
class IstioObjects:
    """One reading: the VirtualService and the Deployments behind the two subsets."""

    virtual_service: Mapping[str, Any]
    stable: Mapping[str, Any]
    canary: Mapping[str, Any]


def istio_state(objects: IstioObjects, config: IstioConfig, *, aborted: str = "",
                ref: tuple[str, str]) -> IstioState:
    """The state of one reading; `aborted`: why the backend counts as aborted ('' when
    not: an abort this run sent, or weights changed outside it). `ref`: (namespace,
    name) shown in messages. The weight is the new image's share, as Argo's is: the
    canary subset's weight, and 100 once the stable subset runs the canary's image with
    all traffic (after a promotion, or before any canary started)."""
    owned = owned_route(objects.virtual_service, config, "/".join(ref))
    pending = reconcile_pending(objects.virtual_service) if config.require_status else ""
    stable_pending = rollout_pending(objects.stable)
    promoted = not stable_pending and owned.canary_weight == 0 and owned.mirror == 0 \
        and template_images(objects.stable) == template_images(objects.canary)
    phase, message = _phase(objects, config, pending, promoted)
    return IstioState(
        name=ref[1], namespace=ref[0], observed=not pending, phase=phase,
        message=aborted or message, weight=100 if promoted else owned.canary_weight,
        mirror=owned.mirror,
        aborted=bool(aborted), fully_promoted=promoted,
        progress_deadline=max(progress_deadline(objects.canary),
                              progress_deadline(objects.stable)),
        stable_images={} if stable_pending else template_images(objects.stable))


def _phase(objects: IstioObjects, config: IstioConfig, pending: str,
           promoted: bool) -> tuple[str, str]:
    deployments = ((config.canary_deployment, objects.canary),
                   (config.stable_deployment, objects.stable))
    for name, deployment in deployments:
        if deadline_exceeded(deployment):
            return "Degraded", f"Deployment {name} exceeded its progress deadline " \
                "(ProgressDeadlineExceeded)"
    if pending:
        return "Progressing", pending
    for name, deployment in deployments:
        waiting = rollout_pending(deployment)
        if waiting:
            return "Progressing", f"Deployment {name}: {waiting}"
    return ("Healthy", "") if promoted else ("Paused", "")
