"""`modelrail rollout restore`: make serving follow a registry rollback.

After `modelrail rollback` has moved an environment's alias back, the Rollout must serve
that version's image again. An abort cannot do it once the bad version is fully promoted:
the controller ignores an abort of a fully promoted rollout (rollout/controller.go), so the
bad image would keep serving. Going back is a new revision of the previous image:

1. set-image to the `image` tag the registry holds for the version (`modelrail image
   record` writes it);
2. wait until the controller has observed the new pod template: it clears
   `status.promoteFull` when the template changes (resetRolloutStatus, rollout/sync.go);
3. `promote --full`: an older ReplicaSet skips the canary steps only within
   `spec.rollbackWindow` (isRollbackWithinWindow and shouldFullPromote, rollout/sync.go;
   rollout/canary.go); outside it the controller would run every step again and wait at
   the first `pause: {}` with the bad version's successor nowhere in sight. Within the
   window the controller has already made it stable and the promote sends nothing;
4. wait until the rollout is Healthy.

A rollout that is aborted needs none of this: its stable pods serve all traffic already.

The other traffic backends have no controller that could ignore an abort, but a promoted
canary is theirs too, so `restore_traffic` goes back the same way through the
`TrafficBackend` protocol: the image as a new canary (Istio: the canary Deployment; KServe:
a revision at 0 %), promoted at once, waited for until Healthy. A canary that sends no
user traffic (after an abort) needs nothing.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelrail.errors import ServiceError, UsageError
from modelrail.registry.client import VersionInfo
from modelrail.registry.image_meta import IMAGE_TAG
from modelrail.registry.promotion import RefusedError
from modelrail.rollouts.backend import Condition, TrafficBackend, TrafficState
from modelrail.rollouts.patches import pick_container
from modelrail.rollouts.status import RolloutState, generation_observed

if TYPE_CHECKING:  # the kubernetes client is an extra, imported when the command runs
    from modelrail.rollouts.driver import RolloutDriver

HEALTHY_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Restored:
    changed: bool
    message: str
    state: TrafficState


def restore_serving(driver: "RolloutDriver", version: VersionInfo, env: str, *,
                    container: str | None = None, timeout: float = HEALTHY_TIMEOUT_S,
                    interval: float = 2.0, clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> Restored:
    """Make the rollout serve `version` (the one `env` holds now) to all traffic, Healthy.
    Exit 0 only once it does; 1 when the rollout is mid-update and not aborted; 2 when the
    version has no image recorded; 3 when the controller does not get there in time."""
    which = f"{version.name} version {version.version} (what {env} holds)"
    state = RolloutState.from_object(driver.observed_object(clock, sleep))
    if not state.fully_promoted:
        if state.aborted:
            return Restored(False, f"nothing to restore: rollout {state.ref} is aborted, so "
                            "its stable pods serve all traffic", state)
        raise RefusedError(f"rollout {state.ref} is mid-update and not aborted "
                           f"({state.describe()}); abort it first (`modelrail rollout "
                           "abort`), then run restore again")
    image = _recorded_image(version, which, state.images,
                            f"rollout {state.ref}", "`modelrail rollout set-image --image REF` "
                            "and `modelrail rollout promote --full`")
    chosen = pick_container(state.images, container, driver.ref)
    changed = state.images.get(chosen) != image
    if changed:
        driver.set_image(image, container)
        if not generation_observed(driver.observed_object(clock, sleep)):
            raise ServiceError(f"rollout {driver.ref}: the controller did not observe the "
                               f"image {image} in time; it still serves the bad version")
        driver.promote(full=True)
    waited = driver.wait([Condition("healthy")], timeout, interval, clock=clock, sleep=sleep)
    if not waited.reached:
        raise ServiceError(f"serving not restored: {waited.message}")
    return _done(changed, image, which, f"rollout {waited.state.ref}", waited.state)


def restore_traffic(backend: TrafficBackend, version: VersionInfo, env: str, *,
                    container: str | None = None, timeout: float = HEALTHY_TIMEOUT_S,
                    interval: float = 2.0, clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> Restored:
    """`restore_serving` on a backend other than Argo Rollouts (module docstring), with
    the same exit codes: 1 while the canary still has user traffic, 2 without a recorded
    image, 3 when not Healthy in time."""
    which = f"{version.name} version {version.version} (what {env} holds)"
    state = backend.read()
    if not state.fully_promoted:
        if state.weight == 0:
            return Restored(False, f"nothing to restore: {state.ref} sends the canary no "
                            "traffic, so the stable version serves it all", state)
        raise RefusedError(f"{state.ref} still sends the canary {state.weight}% "
                           f"({state.describe()}); abort it first (`modelrail rollout "
                           "abort`), then run restore again")
    serving = state.stable_images
    image = _recorded_image(version, which, serving, state.ref,
                            "`modelrail canary run --image REF`")
    changed = serving.get(pick_container(serving, container, backend.ref)) != image
    if changed:
        backend.set_image(image, container)
        backend.promote(full=True)
    waited = backend.wait([Condition("healthy")], timeout, interval, clock=clock, sleep=sleep)
    if not waited.reached or not waited.state.fully_promoted:
        raise ServiceError(f"serving not restored: {waited.message}")
    return _done(changed, image, which, waited.state.ref, waited.state)


def _recorded_image(version: VersionInfo, which: str, serving: Mapping[str, str],
                    where: str, fix: str) -> str:
    """The image the registry records for `version`; exit 2 when there is none."""
    image = version.tags.get(IMAGE_TAG, "")
    if not image:
        raise UsageError(f"{which} has no `{IMAGE_TAG}` tag (`modelrail image record` writes "
                         f"it), so its image is unknown and {where} still serves "
                         f"{', '.join(serving.values())}; run {fix}")
    return image


def _done(changed: bool, image: str, which: str, where: str, state: TrafficState
          ) -> Restored:
    done = "serving rolled back" if changed else "serving already restored"
    return Restored(changed, f"{done}: {where} runs {image}, {which}, for all traffic and "
                    "is Healthy", state)
