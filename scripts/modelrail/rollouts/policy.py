"""The `rollout:` section of modelrail.yaml: which traffic backend moves the canary's
traffic (`backend`: Argo Rollouts, Istio, KServe), what it drives, its canary steps and
the optional mirror phase. The keys and their defaults: docs/policy.md ("rollout:").
"""

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from modelrail.errors import UsageError
from modelrail.plumbing.policy_section import Section
from modelrail.plumbing.textfile import POLICY_LIMIT, read_yaml

DEFAULT_STEP_SECONDS = 300.0
Backend = Literal["argo", "istio", "kserve"]
BACKENDS: tuple[Backend, ...] = ("argo", "istio", "kserve")
# A DNS-1123 subdomain (Rollout names) and label (namespaces), as Kubernetes validates them.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@dataclass(frozen=True)
class MirrorConfig:
    """Argo Rollouts' `setMirrorRoute` phase: `percentage` % of the matching requests are
    copied to the canary, scaled by `setCanaryScale: {weight: scale}`, at traffic weight 0."""

    route: str
    percentage: int
    scale: int


@dataclass(frozen=True)
class IstioConfig:
    """`rollout.istio`: the one HTTP route of a VirtualService whose weights modelrail
    owns, between the stable and canary subsets, and the Deployment behind each subset
    (docs/traffic-backends.md)."""

    virtual_service: str
    route: str
    stable_deployment: str
    canary_deployment: str
    host: str | None = None  # the destinations' host; None: whatever the route names
    stable_subset: str = "stable"
    canary_subset: str = "canary"
    require_status: bool = True  # a weight counts once istiod reports it Reconciled


@dataclass(frozen=True)
class RolloutConfig:
    name: str
    namespace: str | None = None
    container: str | None = None
    steps: tuple[int, ...] = ()
    step_seconds: float = DEFAULT_STEP_SECONDS
    mirror: MirrorConfig | None = None
    backend: Backend = "argo"
    istio: IstioConfig | None = None  # with backend istio only


def validate_name(value: str, what: str) -> str:
    if len(value) > 253 or not _NAME.fullmatch(value):
        raise UsageError(f"{what}: {value!r} is not a valid Kubernetes object name "
                         "(lower-case letters, digits, '-' and '.')")
    return value


def validate_namespace(value: str, what: str) -> str:
    if len(value) > 63 or not _NAMESPACE.fullmatch(value):
        raise UsageError(f"{what}: {value!r} is not a valid namespace "
                         "(lower-case letters, digits and '-', at most 63)")
    return value


def validate_weights(weights: Sequence[object], what: str) -> tuple[int, ...]:
    """Whole percentages 1..100, strictly increasing: each step sends more traffic."""
    if not weights:
        raise UsageError(f"{what}: expected at least one weight, e.g. [10, 25, 50, 100]")
    checked: list[int] = []
    for value in weights:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
            raise UsageError(f"{what}: {value!r} is not a whole percentage from 1 to 100")
        if checked and value <= checked[-1]:
            raise UsageError(f"{what}: weights must increase ({checked[-1]} then {value})")
        checked.append(value)
    return tuple(checked)


def parse_weights_flag(text: str) -> tuple[int, ...]:
    """`--steps 10,25,50,100`."""
    try:
        values: list[object] = [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--steps {text!r}: expected comma-separated whole percentages, "
                         "e.g. 10,25,50,100") from None
    return validate_weights(values, "--steps")


def parse_rollout(section: Section) -> RolloutConfig:
    """Read and check a `rollout:` mapping; unknown keys are errors that name the key."""
    name = section.required_string("name")
    validate_name(name, f"{section.source}: {section.path('name')}")
    namespace = section.string("namespace")
    if namespace is not None:
        validate_namespace(namespace, f"{section.source}: {section.path('namespace')}")
    raw_steps = section.raw("steps")
    if raw_steps is not None and not isinstance(raw_steps, list):
        raise section.error("steps", "expected a list of weights, e.g. [10, 25, 50, 100]")
    steps = validate_weights(raw_steps, f"{section.source}: {section.path('steps')}") \
        if raw_steps is not None else ()
    step_seconds = section.checked("step_seconds", DEFAULT_STEP_SECONDS, lambda v: v > 0,
                                   "a number of seconds > 0")
    backend = section.choice("backend", BACKENDS, "argo")
    istio = _backend_section(section, backend, name)
    if backend == "kserve" and section.has("mirror"):
        raise section.error("mirror", "the KServe backend has no mirror phase "
                            "(canaryTrafficPercent splits requests, it copies none); remove "
                            "it or use backend argo or istio")
    mirror = section.optional_section(
        "mirror", functools.partial(parse_mirror, route=istio.route if istio else None), None)
    config = RolloutConfig(
        name=name, namespace=namespace, container=section.string("container"), steps=steps,
        step_seconds=step_seconds, mirror=mirror, backend=backend, istio=istio)
    section.finish()
    return config


def _backend_section(section: Section, backend: Backend, name: str) -> IstioConfig | None:
    """`rollout.istio`, required with backend istio and refused with any other (its keys
    would be silently ignored)."""
    if backend != "istio":
        if section.has("istio"):
            raise section.error("istio", f"is read only with backend: istio (backend is "
                                f"{backend})")
        return None
    if not section.has("istio"):
        raise section.error("istio", "is required with backend: istio (at least route: "
                            "the name of the VirtualService's HTTP route modelrail owns)")
    return parse_istio(section.section("istio"), name)


def parse_istio(section: Section, name: str) -> IstioConfig:
    """`rollout.istio`: route (required); virtual_service (default: rollout.name),
    stable_deployment (default: rollout.name), canary_deployment (default: NAME-canary),
    host, stable_subset (stable), canary_subset (canary), require_status (true)."""
    where = f"{section.source}: {section.path('')}"
    names = {key: validate_name(section.string(key) or default, f"{where}{key}")
             for key, default in (("virtual_service", name), ("stable_deployment", name),
                                  ("canary_deployment", f"{name}-canary"))}
    if names["stable_deployment"] == names["canary_deployment"]:
        raise section.error("canary_deployment", "must differ from stable_deployment")
    stable, canary = section.string("stable_subset") or "stable", \
        section.string("canary_subset") or "canary"
    if stable == canary:
        raise section.error("canary_subset", "must differ from stable_subset")
    status = section.optional_boolean("require_status")
    config = IstioConfig(
        virtual_service=names["virtual_service"], route=section.required_string("route"),
        stable_deployment=names["stable_deployment"],
        canary_deployment=names["canary_deployment"], host=section.string("host"),
        stable_subset=stable, canary_subset=canary,
        require_status=True if status is None else status)
    section.finish()
    return config


def parse_mirror(section: Section, route: str | None = None) -> MirrorConfig:
    """`rollout.mirror`: route (required; with backend istio, the istio route, which it
    defaults to), percentage (required), scale (default: percentage; Argo only)."""
    if route is not None:
        written = section.string("route")
        if written not in (None, route):
            raise section.error("route", f"with backend: istio the mirror is on the route "
                                f"modelrail owns, rollout.istio.route {route!r}, not "
                                f"{written!r}")
    route = route or section.required_string("route")
    percentage = section.percent("percentage")
    if percentage is None:
        raise section.error("percentage", "is required (the % of requests to mirror, 1 to 100)")
    scale = section.percent("scale")
    config = MirrorConfig(route=route, percentage=percentage,
                          scale=percentage if scale is None else scale)
    section.finish()
    return config


def load_rollout_policy(path: str | os.PathLike[str]) -> RolloutConfig | None:
    """The `rollout:` section of a policy file; None when the file has none.

    Only this section is read (each action reads its own), so the rollout commands work
    whatever else the file holds.
    """
    source = Path(path)
    data = read_yaml(source, "policy file", hint="pass --config PATH", limit=POLICY_LIMIT)
    top = Section(data, "", source)
    return parse_rollout(top.section("rollout")) if top.has("rollout") else None
