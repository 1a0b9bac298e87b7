"""What modelrail sends to change a Rollout: the kubectl-argo-rollouts plugin's exact merge
patches (promote, abort, retry, pause) and the JSON patch of a set-image. Pure functions
over the object as served; the driver sends them."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelrail.errors import UsageError
from modelrail.rollouts.objects import JSON, as_mapping, nested
from modelrail.rollouts.status import (
    CONTAINER_LISTS,
    canary_steps,
    current_step_index,
    is_fully_promoted,
    pause_reasons,
)

INCONCLUSIVE = "Inconclusive"
UNPAUSE: JSON = {"spec": {"paused": False}}
CLEAR_PAUSE_CONDITIONS: JSON = {"status": {"pauseConditions": None}}
PROMOTE_FULL: JSON = {"status": {"promoteFull": True}}
ABORT: JSON = {"status": {"abort": True}}
RETRY: JSON = {"status": {"abort": False}}
PAUSE: JSON = {"spec": {"paused": True}}


# -- promote -----------------------------------------------------------------------------


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
    run = nested(obj, "status", "canary", "currentStepAnalysisRunStatus")
    return run.get("status") == INCONCLUSIVE


def plan_promote(obj: Mapping[str, Any], full: bool = False) -> PromotePlan:
    """The patches `kubectl argo rollouts promote [--full]` sends for this object.

    One addition to the plugin (docs/argo-rollouts.md): `--full` also unpauses a manually
    paused rollout, whose phase would otherwise stay Paused after the promotion.
    """
    spec, status = nested(obj, "spec"), nested(obj, "status")
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


def image_patch(obj: Mapping[str, Any], container: str, image: str) -> list[JSON]:
    """The JSON patch (RFC 6902) making the named container (or every one, for `*`) run
    `image`; [] when they already do.

    The plugin PUTs the whole object (`update` on rollouts); a patch needs only `patch`.
    It is as safe: it first tests metadata.resourceVersion (the API server answers 422 when
    the object changed since it was read, as a PUT would answer 409) and each container's
    name at its index, and touches nothing but the images.
    """
    pod = nested(obj, "spec", "template", "spec")
    operations: list[JSON] = []
    for key in CONTAINER_LISTS:
        entries = pod.get(key)
        for index, item in enumerate(entries if isinstance(entries, list) else []):
            entry = as_mapping(item)
            if container not in ("*", entry.get("name")) or entry.get("image") == image:
                continue
            path = f"/spec/template/spec/{key}/{index}"
            operations += [{"op": "test", "path": f"{path}/name", "value": entry.get("name")},
                           {"op": "add", "path": f"{path}/image", "value": image}]
    if not operations:
        return []
    version = nested(obj, "metadata").get("resourceVersion")
    return [{"op": "test", "path": "/metadata/resourceVersion", "value": version},
            *operations]
