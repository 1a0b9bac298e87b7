"""The version a canary is compared with, when no --baseline-version is given: the model
version in the stable image's `v<N>` tag (the tag `modelrail image` gives every build)
when the backend knows the stable image (an Argo Rollout: when fully promoted), else the
version the production environment (`prod`, else the last environment) holds in the
registry. Each answer says where it came from.
"""

from collections.abc import Callable

from modelrail.errors import UsageError
from modelrail.registry.client import Registry
from modelrail.registry.image_meta import split_reference
from modelrail.registry.promotion import Environments, origin_of
from modelrail.rollouts.backend import TrafficBackend
from modelrail.rollouts.patches import pick_container


def resolve_baseline(driver: TrafficBackend, container: str | None, envs: Environments,
                     tracking_uri: Callable[[], str]) -> tuple[str, str]:
    """(baseline version, where it came from): the stable image's tag, else the registry."""
    return _stable_image_baseline(driver, container) or \
        _registry_baseline(envs, tracking_uri)


def _stable_image_baseline(driver: TrafficBackend, container: str | None
                           ) -> tuple[str, str] | None:
    images = driver.read().stable_images
    if images:
        image = images[pick_container(images, container, driver.ref)]
        _, tag, _ = split_reference(image, f"rollout {driver.ref} image")
        if tag and tag[:1] == "v" and tag[1:].isdigit():
            return tag[1:], f"the stable image {image}"
    return None


def _registry_baseline(envs: Environments, tracking_uri: Callable[[], str]
                       ) -> tuple[str, str]:
    env = "prod" if "prod" in envs.names else envs.names[-1]
    try:
        holder = envs.holder(Registry(tracking_uri()), env)
    except UsageError as error:
        raise UsageError(f"cannot tell the baseline version: the stable image has no v<N> "
                         f"tag, and the registry: {error}; pass --baseline-version") from None
    if holder is None:
        raise UsageError(f"cannot tell the baseline version: the stable image has no v<N> "
                         f"tag and no version holds {env} in the registry; pass "
                         "--baseline-version")
    return str(origin_of(holder)), f"the version {env} holds in the registry"
