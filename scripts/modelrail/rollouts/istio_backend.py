"""The Istio traffic backend: no controller between modelrail and the mesh, so modelrail
writes the weights of one VirtualService route itself (rollouts/istio_routes.py) and reads
them back until istiod reports them distributed.

The pattern is Flagger's Istio provider (fluxcd/flagger: pkg/router/istio.go SetRoutes
writes the primary/canary weights of the VirtualService; pkg/controller/scheduler.go
promotes by copying the canary's pod spec to the primary Deployment, waiting for its
rollout, then routing 100 % back to the primary). Here the two Deployments are the user's:
the canary's image goes to the canary Deployment; each step moves the weights; promotion
sets the image on the stable Deployment, waits until `kubectl rollout status` would say
it is done, then puts 100 % back on the stable subset; abort puts 100 % on stable (and
removes the mirror) at once. docs/traffic-backends.md.
"""

import time
from collections.abc import Callable, Sequence

from modelrail.errors import UsageError
from modelrail.rollouts import patches
from modelrail.rollouts.backend import (
    Condition,
    Log,
    Outcome,
    Poll,
    WaitResult,
    poll,
    step_refusal,
)
from modelrail.rollouts.deployments import rollout_pending
from modelrail.rollouts.istio import mirror_route_problem
from modelrail.rollouts.istio_routes import (
    IstioObjects,
    IstioState,
    OwnedRoute,
    istio_state,
    mirror_patch,
    owned_route,
    weights_patch,
)
from modelrail.rollouts.kube import (
    DEPLOYMENTS,
    VIRTUAL_SERVICES,
    KubeApi,
    NotFoundError,
    Resource,
    retry_conflicts,
)
from modelrail.rollouts.objects import JSON, integer, nested
from modelrail.rollouts.policy import IstioConfig, MirrorConfig
from modelrail.rollouts.status import template_images

ROLLOUT_MARGIN_S = 60.0  # the stable Deployment's rollout may take its deadline plus this
POLL_INTERVAL_S = 2.0


class IstioBackend:
    """The Istio `TrafficBackend` (rollouts/backend.py) for one application."""

    def __init__(self, api: KubeApi, name: str, namespace: str, config: IstioConfig, *,
                 log: Log = lambda line: print(line, flush=True),
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.api, self.name, self.namespace, self.config = api, name, namespace, config
        self._log, self._clock, self._sleep = log, clock, sleep
        self._written: tuple[int, int] | None = None  # (weight, mirror) this run wrote
        self._aborted = False

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.config.virtual_service}"

    # -- reading -------------------------------------------------------------------------

    def _get(self, resource: Resource, name: str, what: str) -> JSON:
        try:
            return self.api.get(resource, self.namespace, name)
        except NotFoundError as missing:
            raise UsageError(f"{what} {self.namespace}/{name} not found: check rollout.istio "
                             f"in the policy, --namespace and the kubeconfig context "
                             f"({missing})") from None

    def objects(self) -> IstioObjects:
        config = self.config
        return IstioObjects(
            virtual_service=self._get(VIRTUAL_SERVICES, config.virtual_service,
                                      "VirtualService"),
            stable=self._get(DEPLOYMENTS, config.stable_deployment, "stable Deployment"),
            canary=self._get(DEPLOYMENTS, config.canary_deployment, "canary Deployment"))

    def read(self) -> IstioState:
        return self._state(self.objects())

    def _state(self, objects: IstioObjects) -> IstioState:
        return istio_state(objects, self.config, aborted=self._aborted_why(objects),
                           ref=(self.namespace, self.config.virtual_service))

    def _aborted_why(self, objects: IstioObjects) -> str:
        """Why the canary counts as aborted: this run's abort, or weights changed outside
        this run since it last wrote them (someone sent the traffic back)."""
        if self._aborted:
            return "aborted: all traffic on the stable subset"
        owned = owned_route(objects.virtual_service, self.config, self.ref)
        if self._written is not None and (owned.canary_weight, owned.mirror) != self._written:
            weight, mirror = self._written
            return (f"the route's weights were changed outside this run: canary "
                    f"{owned.canary_weight}% mirror {owned.mirror}% where this run wrote "
                    f"{weight}% mirror {mirror}%")
        return ""

    def mirror_problem(self, route: str) -> str:
        """'' while the owned route mirrors to the canary (`route` is that route)."""
        vs = self._get(VIRTUAL_SERVICES, self.config.virtual_service, "VirtualService")
        problem = mirror_route_problem(vs, route)
        return f"VirtualService {self.ref}: {problem}" if problem else ""

    def ensure_steps(self, weights: Sequence[int], mirror: MirrorConfig | None = None
                     ) -> IstioState:
        """Refuse (exit 2) a route that is not the two subsets' (istio_routes.owned_route),
        a VirtualService istiod reports no status for (when required), or a canary
        Deployment without replicas: its subset would get traffic and no pod to answer it.
        Any weights fit: modelrail writes them itself."""
        objects = self.objects()
        if self.config.require_status and \
                "observedGeneration" not in nested(objects.virtual_service, "status"):
            raise UsageError(f"VirtualService {self.ref} has no status: istiod reports none "
                             "without PILOT_ENABLE_STATUS=true, so no weight could be read "
                             "back; turn it on, or set rollout.istio.require_status: false")
        replicas = integer(nested(objects.canary, "spec").get("replicas"))
        if replicas == 0:
            raise UsageError(f"canary Deployment {self.namespace}/"
                             f"{self.config.canary_deployment} has spec.replicas 0: scale "
                             "it up (its subset would get traffic with no pod to answer it)")
        return self._state(objects)

    # -- writing -------------------------------------------------------------------------

    def set_image(self, image: str, container: str | None = None) -> Outcome[IstioState]:
        """The canary Deployment's images (a JSON patch, rollouts/patches.py image_patch).
        A canary still holding traffic from an earlier run is first sent back to 0 %: a new
        image starts from the first step, as a new Argo revision does."""
        name = self.config.canary_deployment
        return retry_conflicts(lambda: self._set_image_once(name, image, container),
                               f"set image on Deployment {self.namespace}/{name}", self._log)

    def _set_image_once(self, name: str, image: str, container: str | None
                        ) -> Outcome[IstioState]:
        target = self._get(DEPLOYMENTS, name, "Deployment")
        what = f"{DEPLOYMENTS.rbac()} {self.namespace}/{name}"
        chosen = patches.pick_container(template_images(target), container, what)
        operations = patches.image_patch(target, chosen, image)
        if not operations:
            return Outcome("set-image", False, f"{what} already runs {image}", self.read())
        owned = self._owned(self.objects())
        if owned.canary_weight or owned.mirror:  # a new canary starts at step 0, as in Argo
            self._write_weight(owned, 0)
        self.api.json_patch(DEPLOYMENTS, self.namespace, name, operations)
        self._log(f"patched {what}: container {chosen} image {image}")
        return Outcome("set-image", True, f"image set to {image} on {what}", self.read())

    def start_mirror(self, mirror: MirrorConfig) -> bool:
        """Write the mirror once the canary's pods are ready; whether it was written."""
        objects = self.objects()
        state, owned = self._state(objects), self._owned(objects)
        if owned.mirror == mirror.percentage or not state.paused or state.aborted:
            return False
        self._send(mirror_patch(owned, self.config, mirror.percentage),
                   f"mirror {mirror.percentage}% to subset {self.config.canary_subset}")
        self._written = (0, mirror.percentage)
        return True

    def step(self, to_weight: int | None = None) -> Outcome[IstioState]:
        """Write `to_weight` % to the canary, once the canary's pods are ready and istiod
        has the last write; converges (nothing sent when already there)."""
        if to_weight is None:
            raise UsageError("the Istio backend steps to a weight: give one")
        objects = self.objects()
        state = self._state(objects)
        refused = step_refusal(state, to_weight)
        if refused is not None:
            return refused
        self._write_weight(self._owned(objects), to_weight)
        return Outcome("step", True, f"weight set to {to_weight}%", self.read())

    def promote(self, full: bool = False) -> Outcome[IstioState]:
        """Flagger's promotion (module docstring): the stable Deployment gets the canary
        Deployment's images, its rollout is waited for (bounded), then 100 % goes back to
        the stable subset. `full` is implied: there are no steps to skip."""
        objects = self.objects()
        state = self._state(objects)
        if state.fully_promoted:
            return Outcome("promote-full", False, "nothing to promote: the stable subset "
                           "already runs the canary's image with all traffic", state)
        self._copy_images(objects)
        rolled_out = self._wait_stable()
        if rolled_out:
            return Outcome("promote-full", False, f"the stable Deployment did not roll out: "
                           f"{rolled_out}; the traffic stays where it is", self.read())
        objects = self.objects()
        self._write_weight(self._owned(objects), 0)
        return Outcome("promote-full", True, "promoted: the stable subset runs the new "
                       "image and gets all traffic again", self.read())

    def abort(self, *, clock: Callable[[], float] = time.monotonic,
              sleep: Callable[[float], None] = time.sleep) -> Outcome[IstioState]:
        """All traffic back on the stable subset, the mirror removed, in one patch; sent at
        once (`clock`/`sleep` are the protocol's: there is no controller to wait for)."""
        objects = self.objects()
        owned = self._owned(objects)
        if self._state(objects).fully_promoted:
            return Outcome("abort", False, "nothing to abort: the stable subset already "
                           "runs this image with all traffic", self._state(objects))
        self._aborted = True
        if owned.canary_weight == 0 and owned.mirror == 0:
            return Outcome("abort", False, "all traffic was already on the stable subset "
                           "(and was not moved)", self._state(objects))
        self._write_weight(owned, 0)
        return Outcome("abort", True, "aborted: traffic goes back to stable", self.read())

    def wait(self, until: Sequence[Condition], timeout: float, interval: float = 2.0, *,
             heartbeat: float = 30.0, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> WaitResult[IstioState]:
        return poll(self.read, until, Poll(timeout, interval, heartbeat, clock, sleep),
                    ref=self.ref, log=self._log)

    # -- helpers -------------------------------------------------------------------------

    def _owned(self, objects: IstioObjects) -> OwnedRoute:
        return owned_route(objects.virtual_service, self.config, self.ref)

    def _write_weight(self, owned: OwnedRoute, weight: int) -> None:
        self._send(weights_patch(owned, self.config, weight),
                   f"weights {self.config.stable_subset} {100 - weight}, "
                   f"{self.config.canary_subset} {weight}")
        self._written = (weight, 0)

    def _send(self, operations: list[JSON], what: str) -> None:
        self.api.json_patch(VIRTUAL_SERVICES, self.namespace, self.config.virtual_service,
                            operations)
        self._log(f"patched {VIRTUAL_SERVICES.rbac()} {self.ref} route "
                  f"{self.config.route!r}: {what}")

    def _copy_images(self, objects: IstioObjects) -> None:
        """Each container of the stable Deployment that the canary Deployment also runs
        gets the canary's image."""
        name = self.config.stable_deployment
        canary = template_images(objects.canary)
        stable = template_images(objects.stable)
        operations = [operation for container, image in canary.items()
                      if stable.get(container) not in (None, image)
                      for operation in patches.image_patch(objects.stable, container, image)]
        if operations:  # each container's ops test the same resourceVersion: harmless
            self.api.json_patch(DEPLOYMENTS, self.namespace, name, operations)
            self._log(f"patched {DEPLOYMENTS.rbac()} {self.namespace}/{name}: the canary's "
                      f"images {canary}")

    def _wait_stable(self) -> str:
        """Until the stable Deployment's rollout is complete: '' then, else what it still
        waits for after its progress deadline plus a margin."""
        name = self.config.stable_deployment
        deployment = self._get(DEPLOYMENTS, name, "stable Deployment")
        bound = self.read().progress_deadline + ROLLOUT_MARGIN_S
        deadline = self._clock() + bound
        while (pending := rollout_pending(deployment)) and self._clock() < deadline:
            self._log(f"waiting for Deployment {self.namespace}/{name}: {pending}")
            self._sleep(POLL_INTERVAL_S)
            deployment = self._get(DEPLOYMENTS, name, "stable Deployment")
        return f"{pending} after {bound:g}s" if pending else ""
