"""canary.yml, promote.yml and monitor.yml reach the cluster through actions/cluster-auth,
passing every one of its inputs, and only the job that reaches the cluster (or calls the
workflow whose job does) asks for `id-token: write`."""

from typing import Any

import pytest
import yaml

from tests.support.paths import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
AUTH = "$/actions/cluster-auth"
CLUSTER_STEP = "$/actions/canary-step"  # every step that talks to the cluster
AUTH_INPUTS = yaml.safe_load((REPO_ROOT / "actions/cluster-auth/action.yml").read_text())["inputs"]
PASSED = {name: f"${{{{ inputs.{name} }}}}" for name in AUTH_INPUTS if name != "kubeconfig"}


def workflow(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    return document


def call_inputs(document: dict[str, Any]) -> dict[str, Any]:
    triggers = document["on"] if "on" in document else document[True]  # type: ignore[index]
    inputs: dict[str, Any] = triggers["workflow_call"]["inputs"]
    return inputs


def uses(job: dict[str, Any]) -> list[str]:
    return [str(step.get("uses", "")) for step in job.get("steps", [])]


def asks_for_id_token(job: dict[str, Any]) -> bool:
    permissions = job.get("permissions") or {}
    return isinstance(permissions, dict) and permissions.get("id-token") == "write"


@pytest.mark.parametrize("name", ["canary.yml", "promote.yml", "monitor.yml"])
def test_the_workflow_declares_every_auth_input_with_the_actions_default(name: str) -> None:
    declared = call_inputs(workflow(name))
    assert {key: (declared[key]["type"], declared[key]["default"]) for key in PASSED
            if key in declared} == \
        {key: ("string", AUTH_INPUTS[key]["default"]) for key in PASSED}


@pytest.mark.parametrize("name", ["canary.yml", "monitor.yml"])
def test_each_cluster_job_authenticates_first_with_every_input(name: str) -> None:
    jobs = [job for job in workflow(name)["jobs"].values() if CLUSTER_STEP in uses(job)]
    assert jobs
    for job in jobs:
        steps = uses(job)
        assert AUTH in steps
        assert steps.index(AUTH) < steps.index(CLUSTER_STEP)
        given = job["steps"][steps.index(AUTH)]["with"]
        assert given == {"kubeconfig": "${{ secrets.KUBECONFIG }}", **PASSED}


def test_promote_hands_every_input_to_the_canary_workflow() -> None:
    [canary] = [job for job in workflow("promote.yml")["jobs"].values()
                if job.get("uses") == "$/.github/workflows/canary.yml"]
    assert {key: canary["with"].get(key) for key in PASSED} == PASSED


@pytest.mark.parametrize("name", ["canary.yml", "promote.yml", "monitor.yml"])
def test_only_the_cluster_jobs_ask_for_an_id_token(name: str) -> None:
    jobs = workflow(name)["jobs"]
    cluster = {job_id for job_id, job in jobs.items()
               if AUTH in uses(job) or job.get("uses") == "$/.github/workflows/canary.yml"}
    assert cluster
    assert {job_id for job_id, job in jobs.items() if asks_for_id_token(job)} == cluster
    assert "id-token" not in (workflow(name).get("permissions") or {})


def test_the_check_sees_a_job_without_the_permission() -> None:
    assert not asks_for_id_token({"permissions": {"contents": "read"}})
    assert not asks_for_id_token({"permissions": "read-all"})
    assert asks_for_id_token({"permissions": {"id-token": "write"}})

