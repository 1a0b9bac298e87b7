"""Drive one Argo Rollout: the kubectl-argo-rollouts plugin's operations, plus waiting.

Every mutation is a JSON merge patch exactly as the plugin sends it, except set-image: a
JSON patch of the images where the plugin updates (PUTs) the whole object, so the
credentials need `patch` only. "status" patches go to the /status subresource and fall
back to the object itself when that is not served (404), as the plugin does for Argo
Rollouts v0.9.
Weights move only by promoting through pre-declared `setWeight` + `pause: {}` steps.
"""

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from modelrail.errors import UsageError
from modelrail.rollouts import patches
from modelrail.rollouts.backend import Condition, Outcome, Poll, WaitResult, poll
from modelrail.rollouts.istio import mirror_route_problem, virtual_service_names
from modelrail.rollouts.kube import (
    DEPLOYMENTS,
    ROLLOUTS,
    VIRTUAL_SERVICES,
    KubeApi,
    NotFoundError,
    Resource,
    retry_conflicts,
)
from modelrail.rollouts.objects import JSON, nested
from modelrail.rollouts.policy import MirrorConfig
from modelrail.rollouts.status import (
    RolloutState,
    generation_observed,
    is_fully_promoted,
    template_images,
)
from modelrail.rollouts.steps import check_steps

OBSERVE_TIMEOUT_S = 60.0  # for the controller to observe a new spec before an abort
OBSERVE_INTERVAL_S = 0.5
Log = Callable[[str], None]


class RolloutDriver:
    """The Argo Rollouts traffic backend (rollouts/backend.py `TrafficBackend`)."""

    def __init__(self, api: KubeApi, name: str, namespace: str,
                 log: Log = lambda line: print(line, flush=True)) -> None:
        self.api = api
        self.name = name
        self.namespace = namespace
        self._log = log

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    # -- reading -------------------------------------------------------------------------

    def read_object(self) -> JSON:
        try:
            return self.api.get(ROLLOUTS, self.namespace, self.name)
        except NotFoundError as missing:
            raise UsageError(
                f"rollout {self.ref} not found: check --name/--namespace (or rollout.name/"
                f"namespace in the policy), the kubeconfig context, and that Argo Rollouts "
                f"is installed ({missing})") from None

    def read(self) -> RolloutState:
        return RolloutState.from_object(self.read_object())

    def mirror_problem(self, route: str) -> str:
        """'' while every Istio VirtualService the rollout routes through mirrors to the
        canary through `route` (rollouts/istio.py); else what is wrong. '' without Istio
        routing: a traffic-router plugin's routes are not readable here."""
        problems = []
        for namespace, name in virtual_service_names(self.read_object()):
            try:
                service = self.api.get(VIRTUAL_SERVICES, namespace, name)
            except NotFoundError:
                problems.append(f"VirtualService {namespace}/{name} not found")
                continue
            problem = mirror_route_problem(service, route)
            if problem:
                problems.append(f"VirtualService {namespace}/{name}: {problem}")
        return "; ".join(problems)

    def start_mirror(self, mirror: MirrorConfig) -> bool:
        """Nothing to send: the controller writes the mirror route itself at the
        setMirrorRoute step, which `ensure_steps` checked is there."""
        return False

    def ensure_steps(self, weights: Sequence[int], mirror: MirrorConfig | None = None
                     ) -> RolloutState:
        """Refuse (exit 2, with the exact fix) unless the steps are setWeight/pause pairs,
        after the mirror phase when there is one."""
        obj = self.read_object()
        check_steps(obj, weights, mirror)
        return RolloutState.from_object(obj)

    # -- the plugin's patches ------------------------------------------------------------

    def abort(self, *, clock: Callable[[], float] = time.monotonic,
              sleep: Callable[[float], None] = time.sleep) -> Outcome[RolloutState]:
        """Abort the update in flight. The controller drops an abort of a fully promoted
        rollout (rollout/controller.go) and, when the pod template changed since it last
        looked, the abort with it (resetRolloutStatus, rollout/sync.go): so first wait
        (bounded) until it has observed the spec, and send nothing to a promoted one."""
        obj = self.observed_object(clock, sleep)  # a missing rollout is exit 2
        if is_fully_promoted(obj) and not nested(obj, "status").get("abort"):
            return self._done("abort", False, "nothing to abort: the rollout is fully "
                              "promoted (Healthy) and the controller ignores an abort of a "
                              "fully promoted rollout, so none was sent; to go back, "
                              "roll the registry back and run `modelrail rollout restore "
                              "--env ENV` (it sets the previous version's image)", obj)
        obj = self._patch_status(patches.ABORT)
        return self._done("abort", True, "aborted: traffic goes back to stable", obj)

    def retry(self) -> Outcome[RolloutState]:
        self.read_object()
        obj = self._patch_status(patches.RETRY)
        return self._done("retry", True, "retried: the steps start again from step 0", obj)

    def pause(self) -> Outcome[RolloutState]:
        self.read_object()
        obj = self._patch(patches.PAUSE)
        return self._done("pause", True, "paused (spec.paused=true)", obj)

    def promote(self, full: bool = False) -> Outcome[RolloutState]:
        """`kubectl argo rollouts promote [--full]`: the same patches, in the same order."""
        obj = self.read_object()
        action = "promote-full" if full else "promote"
        plan = patches.plan_promote(obj, full)
        if plan.empty:
            return self._done(action, False, "nothing to promote: already fully promoted"
                              if full else "nothing to promote: not paused and no step to "
                              "skip", obj)
        spec_patch = plan.spec
        if plan.status is not None:
            try:
                obj = self.api.patch(ROLLOUTS, self.namespace, self.name, plan.status,
                                     subresource="status")
                self._log(f"patched {self.ref}/status {_compact(plan.status)}")
            except NotFoundError:
                self._log(f"{self.ref}: the /status subresource is not served (Argo "
                          "Rollouts < v0.10); patching spec and status together")
                spec_patch = plan.unified
        if spec_patch is not None:
            obj = self._patch(spec_patch)
        message = "fully promoted: skipping the remaining steps" if full else \
            "promoted: the rollout continues to its next pause"
        return self._done(action, True, message, obj)

    def step(self, to_weight: int | None = None) -> Outcome[RolloutState]:
        """Leave the current pause (promote), only when the rollout is waiting at one.

        Re-running a step converges: a rollout that is still on its way to the next pause,
        or already at `to_weight` or beyond, is left alone.
        """
        obj = self.read_object()
        current = RolloutState.from_object(obj)
        if current.aborted:
            raise UsageError(f"rollout {self.ref} is aborted; `modelrail rollout retry` "
                             "restarts it from step 0")
        if to_weight is not None and current.weight >= to_weight:
            return self._done("step", False, f"already at weight {current.weight}% "
                              f"(>= {to_weight}%): nothing to do", obj)
        if not current.observed:
            return self._done("step", False, "the controller has not observed the latest "
                              "spec yet: nothing to do (wait for the rollout to pause)", obj)
        if current.fully_promoted or (current.step_index is not None
                                      and current.step_index >= current.step_count):
            return self._done("step", False, "no step left: the rollout has passed its last "
                              "step", obj)
        if not current.paused:
            return self._done("step", False, "still progressing to its next pause: nothing "
                              "to do yet (wait for it to pause)", obj)
        return self.promote()

    def set_image(self, image: str, container: str | None = None) -> Outcome[RolloutState]:
        """JSON patch of the pod template's images (or the workloadRef Deployment's),
        re-reading and retrying a bounded number of times when the object changed since it
        was read (the patch's resourceVersion test failed)."""
        return retry_conflicts(lambda: self._set_image_once(image, container),
                               f"set image on {self.ref}", self._log)

    def _set_image_once(self, image: str, container: str | None) -> Outcome[RolloutState]:
        obj = self.read_object()
        target, resource, name = obj, ROLLOUTS, self.name
        workload = nested(obj, "spec", "workloadRef")
        if workload:
            resource, name = _workload(workload, self.ref)
            try:
                target = self.api.get(resource, self.namespace, name)
            except NotFoundError:
                raise UsageError(f"rollout {self.ref}: its workloadRef Deployment "
                                 f"{self.namespace}/{name} does not exist") from None
        what = f"{resource.rbac()} {self.namespace}/{name}"
        chosen = patches.pick_container(template_images(target), container, what)
        operations = patches.image_patch(target, chosen, image)
        if not operations:
            return self._done("set-image", False, f"{what} already runs {image}", obj)
        patched = self.api.json_patch(resource, self.namespace, name, operations)
        self._log(f"patched {what}: container {chosen} image {image}")
        obj = self.read_object() if workload else patched
        return self._done("set-image", True, f"image set to {image}: a new revision starts "
                          "at step 0", obj)

    # -- waiting -------------------------------------------------------------------------

    def wait(self, until: Sequence[Condition], timeout: float, interval: float = 2.0, *,
             heartbeat: float = 30.0, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> WaitResult[RolloutState]:
        """Poll until every condition holds; stop early when the rollout degrades."""
        return poll(self.read, until, Poll(timeout, interval, heartbeat, clock, sleep),
                    ref=self.ref, log=self._log)

    # -- helpers -------------------------------------------------------------------------

    def observed_object(self, clock: Callable[[], float],
                         sleep: Callable[[float], None]) -> JSON:
        """The rollout once the controller has observed its generation (or as it is after
        OBSERVE_TIMEOUT_S)."""
        deadline = clock() + OBSERVE_TIMEOUT_S
        obj = self.read_object()
        while not generation_observed(obj) and clock() < deadline:
            sleep(OBSERVE_INTERVAL_S)
            obj = self.read_object()
        return obj

    def _patch(self, body: JSON) -> JSON:
        obj = self.api.patch(ROLLOUTS, self.namespace, self.name, body)
        self._log(f"patched {self.ref} {_compact(body)}")
        return obj

    def _patch_status(self, body: JSON) -> JSON:
        try:
            obj = self.api.patch(ROLLOUTS, self.namespace, self.name, body, subresource="status")
        except NotFoundError:
            self._log(f"{self.ref}: the /status subresource is not served (Argo Rollouts < "
                      "v0.10); patching the rollout itself")
            return self._patch(body)
        self._log(f"patched {self.ref}/status {_compact(body)}")
        return obj

    def _done(self, action: str, changed: bool, message: str, obj: JSON
              ) -> Outcome[RolloutState]:
        return Outcome(action, changed, message, RolloutState.from_object(obj))


def _workload(ref: Any, rollout: str) -> tuple[Resource, str]:
    kind, api_version, name = ref.get("kind"), ref.get("apiVersion"), ref.get("name")
    if kind != "Deployment" or api_version not in (None, "apps/v1"):
        raise UsageError(f"rollout {rollout}: workloadRef {api_version}/{kind} is not "
                         "supported; set-image updates Deployments (apps/v1) only")
    if not isinstance(name, str) or not name:
        raise UsageError(f"rollout {rollout}: spec.workloadRef.name is not set")
    return DEPLOYMENTS, name


def _compact(body: JSON) -> str:
    return json.dumps(body, separators=(",", ":"))
