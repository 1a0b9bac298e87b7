"""A Deployment's rollout read as `kubectl rollout status` reads it (rollouts/deployments.py)."""

from typing import Any

import pytest
from modelrail.rollouts.deployments import deadline_exceeded, progress_deadline, rollout_pending


def _deployment(generation: int = 2, wanted: int | None = 3, **status: Any) -> dict[str, Any]:
    """spec.replicas `wanted`; a status with every one of 3 replicas new and available,
    observed at generation 2, unless `status` says otherwise."""
    spec = {} if wanted is None else {"replicas": wanted}
    return {"metadata": {"generation": generation}, "spec": spec,
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                       "availableReplicas": 3, **status}}


@pytest.mark.parametrize(("deployment", "pending"), [
    (_deployment(), ""),
    (_deployment(generation=3), "waiting for the Deployment's spec update to be observed"),
    (_deployment(updatedReplicas=1), "1 out of 3 new replicas have been updated"),
    (_deployment(wanted=None, replicas=0, updatedReplicas=0, availableReplicas=0),
     "0 out of 1 new replicas have been updated"),
    (_deployment(replicas=5), "2 old replicas are pending termination"),
    (_deployment(availableReplicas=2), "2 of 3 updated replicas are available"),
])
def test_a_rollout_is_complete_only_when_every_replica_is_new_and_available(
        deployment: dict[str, Any], pending: str) -> None:
    assert rollout_pending(deployment) == pending


def test_the_progress_deadline_and_its_default() -> None:
    stuck = _deployment(conditions=[{"type": "Available", "status": "True"},
                                    {"type": "Progressing", "status": "False",
                                     "reason": "ProgressDeadlineExceeded"}])
    assert deadline_exceeded(stuck)
    assert not deadline_exceeded(_deployment())
    assert progress_deadline(_deployment()) == 600
    assert progress_deadline({"spec": {"progressDeadlineSeconds": 120}}) == 120
