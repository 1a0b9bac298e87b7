"""Rollout objects for unit tests, shaped as the API server serves them."""

from typing import Any

WEIGHTS = (10, 25, 50, 100)


def steps(weights: tuple[int, ...] = WEIGHTS) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for weight in weights:
        out += [{"setWeight": weight}, {"pause": {}}]
    return out


def rollout(generation: int = 2, observed: object = "2", paused: bool = False,
            step_list: list[dict[str, Any]] | None = None, **status: Any) -> dict[str, Any]:
    """A canary Rollout mid-update by default (stable 'old', current 'new'), its one pod
    (spec.replicas defaults to 1) updated and available unless `status` says otherwise."""
    full_status: dict[str, Any] = {"stableRS": "old", "currentPodHash": "new",
                                   "observedGeneration": observed, "replicas": 1,
                                   "updatedReplicas": 1, "readyReplicas": 1,
                                   "availableReplicas": 1, **status}
    return {
        "metadata": {"name": "ranker", "namespace": "ml", "generation": generation},
        "spec": {"paused": paused,
                 "strategy": {"canary": {"steps": steps() if step_list is None else step_list}},
                 "template": {"spec": {"containers": [{"name": "server", "image": "app:v1"}]}}},
        "status": full_status,
    }
