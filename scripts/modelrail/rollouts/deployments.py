"""A Deployment (apps/v1) read as `kubectl rollout status` reads it: pure functions.

The rules are DeploymentStatusViewer.Status (k8s.io/kubectl/pkg/polymorphichelpers/
rollout_status.go): nothing counts before the controller observed the generation; a
Progressing condition with reason ProgressDeadlineExceeded is a failure; then every
replica updated, no old one left, every updated one available.
"""

from collections.abc import Mapping
from typing import Any

from modelrail.rollouts.objects import as_mapping, integer, nested
from modelrail.rollouts.status import DEFAULT_PROGRESS_DEADLINE_S, TIMED_OUT_REASON


def deadline_exceeded(deployment: Mapping[str, Any]) -> bool:
    """The controller gave up: Progressing is ProgressDeadlineExceeded."""
    conditions = nested(deployment, "status").get("conditions")
    return any(as_mapping(c).get("type") == "Progressing"
               and as_mapping(c).get("reason") == TIMED_OUT_REASON
               for c in (conditions if isinstance(conditions, list) else []))


def rollout_pending(deployment: Mapping[str, Any]) -> str:
    """What the Deployment's rollout still waits for, '' once it is complete."""
    metadata, spec, status = (nested(deployment, key) for key in
                              ("metadata", "spec", "status"))
    generation = integer(metadata.get("generation")) or 0
    if (integer(status.get("observedGeneration")) or 0) < generation:
        return "waiting for the Deployment's spec update to be observed"
    wanted = integer(spec.get("replicas"))
    updated = integer(status.get("updatedReplicas")) or 0
    wanted = 1 if wanted is None else wanted
    if updated < wanted:
        return f"{updated} out of {wanted} new replicas have been updated"
    old = (integer(status.get("replicas")) or 0) - updated
    if old > 0:
        return f"{old} old replicas are pending termination"
    available = integer(status.get("availableReplicas")) or 0
    if available < updated:
        return f"{available} of {updated} updated replicas are available"
    return ""


def progress_deadline(deployment: Mapping[str, Any]) -> int:
    """spec.progressDeadlineSeconds, default 600 (the apps/v1 default)."""
    value = integer(nested(deployment, "spec").get("progressDeadlineSeconds"))
    return DEFAULT_PROGRESS_DEADLINE_S if value is None else value
