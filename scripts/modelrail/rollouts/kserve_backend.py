"""The KServe traffic backend: one InferenceService (serverless mode) stepped through the
policy's weights with `spec.predictor.canaryTrafficPercent` (rollouts/kserve.py sends
the patches; docs/kserve.md has the rules followed here).

KServe sends the percent to the latest *ready* revision and the rest to the last one
rolled out. So: set_image starts the canary (the new image and the first weight in one
write, one revision: it gets its share only once ready); a step sets the percent; a
weight counts once the traffic block KServe reports gives the canary's revision that
share (`canary_share(created_before)`: the status names the old revision for a while
after a write, and `status.observedGeneration` is the Knative Service's, so it cannot
tell that the controller saw a write); promote removes the field; abort restores the
predictor read before the start with the percent at 0. The start records that predictor
(and the revisions it knew) on the InferenceService, in the patch with the new image
(kserve.CANARY_START), so an abort from another process, the clean-up step of a cancelled
job, restores the same one. There is no mirror phase. docs/traffic-backends.md.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from modelrail.errors import UsageError
from modelrail.rollouts import kserve
from modelrail.rollouts.backend import (
    Condition,
    Log,
    NamedState,
    Outcome,
    Poll,
    WaitResult,
    poll,
    step_refusal,
)
from modelrail.rollouts.kserve import InferenceServiceState, StartedCanary, recorded_start
from modelrail.rollouts.kube import KubeApi, NotFoundError, retry_conflicts
from modelrail.rollouts.patches import pick_container
from modelrail.rollouts.policy import MirrorConfig

KNATIVE_PROGRESS_DEADLINE_S = 600  # Knative's default progress-deadline (config-deployment)
ROLLBACK_TIMEOUT_S = 60.0  # an abort waits this long for KServe's rollback before restoring
POLL_INTERVAL_S = 1.0


@dataclass(frozen=True)
class KServeState(NamedState):
    """The KServe backend's `TrafficState` (rollouts/backend.py)."""

    name: str
    namespace: str
    observed: bool
    phase: str
    message: str
    weight: int
    aborted: bool
    fully_promoted: bool
    stable_images: Mapping[str, str] = field(default_factory=dict)
    progress_deadline: int = KNATIVE_PROGRESS_DEADLINE_S

    @property
    def step_index(self) -> None:
        return None

    @property
    def mirror(self) -> int:
        return 0

    @property
    def mirror_phase(self) -> bool:
        return False

    def describe(self) -> str:
        why = f" ({self.message})" if self.message else ""
        return f"{self.ref}: {self.phase}{why} · weight {self.weight}%"


def is_fully_promoted(served: InferenceServiceState, started: StartedCanary | None) -> bool:
    """No canaryTrafficPercent, and the newest revision (this run's canary's, when one was
    started) is ready, rolled out and serves every request."""
    newest = served.latest_created
    return (served.canary_percent is None and served.ready and bool(newest)
            and newest == served.latest_ready == served.latest_rolled_out
            and served.percent_of(newest) == 100
            and (started is None or served.canary_revision(started.created_before) != ""))


def kserve_state(served: InferenceServiceState, started: StartedCanary | None, *,
                 percent: int | None, aborted: bool) -> KServeState:
    """One reading as the loop sees it. `started`: this run's canary (None before
    set_image); `percent`: the canaryTrafficPercent this run last wrote (None once the
    promotion removed it); `aborted`: this run sent the abort."""
    promoted = is_fully_promoted(served, started)
    observed, phase, message, weight = _progress(served, started, percent, aborted, promoted)
    if started is None or promoted:
        stable = dict(served.images) if served.canary_percent in (None, 0) else {}
    else:
        stable = dict(kserve.read_state({"spec": {"predictor": started.previous_predictor}})
                      .images)
    return KServeState(name=served.name, namespace=served.namespace, observed=observed,
                       phase=phase, message=message, weight=weight,
                       aborted=aborted and started is not None, fully_promoted=promoted,
                       stable_images=stable)


Progress = tuple[bool, str, str, int]  # observed, phase, message, weight


def _progress(served: InferenceServiceState, started: StartedCanary | None,
              percent: int | None, aborted: bool, promoted: bool) -> Progress:
    """(observed, phase, message, weight): the weight is the new revision's share."""
    if started is not None and aborted:
        back = 100 - served.percent_of(started.stable_revision)
        return True, "Degraded", ("aborted: canaryTrafficPercent 0, the previous predictor "
                                  f"restored; revision {started.stable_revision} serves "
                                  f"{100 - back}%"), back
    if promoted:
        return True, "Healthy", "", 100
    if served.failed:
        share = served.canary_share(started.created_before) if started else 0
        return True, "Degraded", served.not_ready_because, share
    if started is None:  # no canary this run: the share off the rolled-out revision
        rolled_out = served.latest_rolled_out
        weight = 100 - served.percent_of(rolled_out) if rolled_out else 0
        return True, "Healthy" if served.ready else "Progressing", \
            served.not_ready_because, weight
    return _canary_progress(served, started, percent)


def _canary_progress(served: InferenceServiceState, started: StartedCanary,
                     percent: int | None) -> Progress:
    """This run's canary, neither aborted nor failed: Paused once its revision is
    reported, ready and has the share last written."""
    revision = served.canary_revision(started.created_before)
    if not revision:
        return False, "Progressing", "KServe does not report the canary's revision yet", 0
    share = served.canary_share(started.created_before)
    if not served.new_revision_ready:
        why = served.not_ready_because or "not ready"
        return True, "Progressing", f"revision {revision} is not ready: {why}", share
    if percent is None:
        return False, "Progressing", f"rolling out revision {revision}", share
    if share != percent:
        return False, "Progressing", f"waiting for {percent}% on revision {revision}", share
    return True, "Paused", "", share


class KServeBackend:
    """The KServe `TrafficBackend` (rollouts/backend.py) for one InferenceService."""

    def __init__(self, api: KubeApi, name: str, namespace: str, *,
                 log: Log = lambda line: print(line, flush=True)) -> None:
        self.api, self.name, self.namespace = api, name, namespace
        self._log = log
        self._started: StartedCanary | None = None
        self._percent: int | None = None  # the canaryTrafficPercent this run last wrote
        self._aborted = False
        self._first_weight = 0  # the plan's first weight, known from ensure_steps

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    # -- reading -------------------------------------------------------------------------

    def _served(self) -> InferenceServiceState:
        try:
            return kserve.read(self.api, self.namespace, self.name)
        except NotFoundError as missing:
            raise UsageError(f"InferenceService {self.ref} not found: check rollout.name in "
                             f"the policy, --namespace and the kubeconfig context "
                             f"({missing})") from None

    def _state(self, served: InferenceServiceState) -> KServeState:
        return kserve_state(served, self._started, percent=self._percent,
                            aborted=self._aborted)

    def read(self) -> KServeState:
        return self._state(self._served())

    def ensure_steps(self, weights: Sequence[int], mirror: MirrorConfig | None = None
                     ) -> KServeState:
        """Refuse (exit 2) a mirror phase and an InferenceService outside the serverless
        mode; any weights fit. The first weight is what set_image starts the canary at."""
        if mirror is not None:
            raise UsageError("rollout.mirror: the KServe backend has no mirror phase "
                             "(canaryTrafficPercent splits requests, it copies none); "
                             "remove rollout.mirror or use backend argo or istio")
        served = self._served()
        kserve.require_serverless(served)
        self._first_weight = weights[0] if weights else 0
        return self._state(served)

    def mirror_problem(self, route: str) -> str:
        """Never a problem: there is no mirror phase (ensure_steps refuses one)."""
        return ""

    # -- writing -------------------------------------------------------------------------

    def set_image(self, image: str, container: str | None = None) -> Outcome[KServeState]:
        """The new image and the first weight in one JSON patch (one revision; it gets its
        share once ready). An image the predictor already runs is not started again."""
        return retry_conflicts(lambda: self._set_image_once(image, container),
                               f"start a canary on InferenceService {self.ref}", self._log)

    def _set_image_once(self, image: str, container: str | None) -> Outcome[KServeState]:
        served = self._served()
        what = kserve.require_serverless(served)
        chosen = pick_container(served.images, container, what)
        if all(current == image for name, current in served.images.items()
               if chosen in ("*", name)):
            if served.canary_percent is None:
                return Outcome("set-image", False, f"{what} already runs {image}",
                               self._state(served))
            raise UsageError(f"{what} already runs {image} with canaryTrafficPercent "
                             f"{served.canary_percent}: a canary of that image is under way "
                             "(or was left there); finish or undo it before a new run")
        start = kserve.start_canary(self.api, self.namespace, self.name, image,
                                    percent=self._first_weight, container=container)
        self._started = start.started
        self._percent, self._aborted = self._first_weight, False
        self._log(f"patched InferenceService {self.ref}: container {chosen} image {image}, "
                  f"canaryTrafficPercent {self._first_weight}")
        return Outcome("set-image", True, f"canary of {image} started at "
                       f"{self._first_weight}% on {what}", self.read())

    def start_mirror(self, mirror: MirrorConfig) -> bool:
        """Nothing to send: there is no mirror phase."""
        return False

    def step(self, to_weight: int | None = None) -> Outcome[KServeState]:
        """canaryTrafficPercent `to_weight`, once the canary's revision serves the last
        one; converges (nothing sent when already there)."""
        if to_weight is None:
            raise UsageError("the KServe backend steps to a weight: give one")
        state = self.read()
        if self._started is None:
            raise UsageError(f"InferenceService {self.ref}: no canary was started by this "
                             "run (set the image first)")
        refused = step_refusal(state, to_weight)
        if refused is not None:
            return refused
        kserve.set_canary_percent(self.api, self.namespace, self.name, to_weight)
        self._percent = to_weight
        self._log(f"patched InferenceService {self.ref}: canaryTrafficPercent {to_weight}")
        return Outcome("step", True, f"canaryTrafficPercent set to {to_weight}%", self.read())

    def promote(self, full: bool = False) -> Outcome[KServeState]:
        """Remove canaryTrafficPercent: the latest ready revision (the canary's) gets every
        request and KServe records it as rolled out. `full` is implied."""
        state = self.read()
        if state.fully_promoted:
            return Outcome("promote-full", False, "nothing to promote: the newest revision "
                           "already serves all traffic", state)
        kserve.promote(self.api, self.namespace, self.name)
        self._percent = None
        self._log(f"patched InferenceService {self.ref}: canaryTrafficPercent removed")
        return Outcome("promote-full", True, "promoted: canaryTrafficPercent removed, the "
                       "canary's revision gets all traffic", self.read())

    def abort(self, *, clock: Callable[[], float] = time.monotonic,
              sleep: Callable[[float], None] = time.sleep) -> Outcome[KServeState]:
        """The predictor read before the start, back with canaryTrafficPercent 0, in one
        JSON patch; after a 100 % step, KServe's rollback first (`_roll_back`, waited for
        with `clock`/`sleep`). A run that started no canary aborts the one under way (a
        canaryTrafficPercent is set) from the start its annotation records."""
        served = self._served()
        if self._started is None and served.canary_percent is not None:
            self._started = recorded_start(served)
            if _restored(served, self._started):
                self._aborted = True
                return Outcome("abort", False, "already aborted: the previous predictor is "
                               "back with canaryTrafficPercent 0", self._state(served))
        state = self._state(served)
        started = self._started
        if started is None:
            return Outcome("abort", False, "nothing to abort: no canary is under way "
                           "(canaryTrafficPercent is not set)", state)
        if state.fully_promoted:
            return Outcome("abort", False, "nothing to abort: the canary's revision already "
                           "serves all traffic", state)
        self._aborted = True
        if served.latest_rolled_out not in ("", started.stable_revision):
            self._roll_back(started, clock, sleep)
        retry_conflicts(lambda: kserve.abort(self.api, self.namespace, self.name,
                                             started.previous_predictor),
                        f"abort the canary on InferenceService {self.ref}", self._log)
        self._log(f"patched InferenceService {self.ref}: the previous predictor restored, "
                  "canaryTrafficPercent 0")
        return Outcome("abort", True, "aborted: traffic goes back to stable", self.read())

    def _roll_back(self, started: StartedCanary, clock: Callable[[], float],
                   sleep: Callable[[float], None]) -> None:
        """The canary's revision had 100 % (the last step), so KServe recorded it as rolled
        out. `canaryTrafficPercent: 0` alone is KServe's rollback: latestRolledoutRevision
        goes back to the previous one, which then gets every request (docs/kserve.md).
        Waited for (bounded) before the restore: the restored spec's new revision would
        become the latest one and stop the rollback."""
        kserve.set_canary_percent(self.api, self.namespace, self.name, 0)
        self._log(f"patched InferenceService {self.ref}: canaryTrafficPercent 0 (KServe's "
                  f"rollback to revision {started.stable_revision})")
        deadline = clock() + ROLLBACK_TIMEOUT_S
        while self._served().latest_rolled_out != started.stable_revision \
                and clock() < deadline:
            sleep(POLL_INTERVAL_S)

    def wait(self, until: Sequence[Condition], timeout: float, interval: float = 2.0, *,
             heartbeat: float = 30.0, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> WaitResult[KServeState]:
        return poll(self.read, until, Poll(timeout, interval, heartbeat, clock, sleep),
                    ref=self.ref, log=self._log)


def _restored(served: InferenceServiceState, started: StartedCanary) -> bool:
    """The predictor is what an abort of `started` writes (so a second abort sends
    nothing)."""
    return served.predictor == kserve.restored_predictor(started.previous_predictor)
