"""pr-test.yml: the pull request's code never shares a job with a credential.

Code from a same-repository PR branch runs in `pip install -r`, the test command and
`dvc repro`. Whatever runs in a job can read every secret that job was given (from the
environment, from files, from the runner's memory), and could plant a fake `modelrail`
for later steps. So those steps live in jobs with no secrets and read-only contents, and
the MLflow credentials go to a job that checks nothing out and runs no script at all.
"""

import re
from typing import Any

import yaml

from tests.support.paths import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "pr-test.yml"
# Steps that execute code from the PR's tree: its requirements, its tests, its pipeline.
# (`pip install` run from the base commit's tree, `cd "$BASE_DIR..."`, is not among them.)
_PR_CODE = re.compile(r"dvc (repro|checkout|metrics)|TEST_COMMAND|^(?!.*BASE_DIR).*pip install",
                      re.DOTALL)
# Actions that run the PR's code: log-check runs the caller's log command on the PR's tree.
_PR_CODE_ACTIONS = ("$/actions/log-check",)


def jobs() -> dict[str, dict[str, Any]]:
    parsed: dict[str, dict[str, Any]] = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return parsed


def runs_pr_code(job: dict[str, Any]) -> bool:
    return any(_PR_CODE.search(step.get("run", "")) or step.get("uses") in _PR_CODE_ACTIONS
               for step in job.get("steps", []))


def test_the_log_command_runs_in_a_job_without_secrets_after_the_pipeline() -> None:
    steps = jobs()["evaluate"]["steps"]
    names = [step.get("uses") or step.get("run", "") for step in steps]
    log_check = names.index("$/actions/log-check")

    assert log_check > next(i for i, text in enumerate(names) if "dvc repro" in text)
    assert not uses_secrets(jobs()["evaluate"])


def uses_secrets(job: dict[str, Any]) -> bool:
    return "secrets." in yaml.safe_dump(job)


def test_jobs_that_run_the_prs_code_get_no_secret_and_read_only_contents() -> None:
    running = {name: job for name, job in jobs().items() if runs_pr_code(job)}

    assert set(running) == {"test", "evaluate"}
    for name, job in running.items():
        assert not uses_secrets(job), f"job {name} runs the PR's code and is given secrets"
        assert job["permissions"] == {"contents": "read"}, name


def test_the_mlflow_credentials_go_to_a_job_that_runs_nothing_of_the_pr() -> None:
    holders = {name: job for name, job in jobs().items()
               if "secrets.MLFLOW_" in yaml.safe_dump(job)}

    assert set(holders) == {"gate"}
    steps = holders["gate"]["steps"]
    assert all("run" not in step for step in steps)
    uses = [step["uses"].split("@")[0] for step in steps]
    assert uses == ["actions/download-artifact", "$/actions/quality-gate"]
    assert holders["gate"]["permissions"] == {}


def test_the_dvc_remote_credentials_run_only_dvc_from_the_base_commit() -> None:
    job = jobs()["pull"]
    scripts = [step.get("run", "") for step in job["steps"]]

    assert not runs_pr_code(job)
    assert any('cd "$BASE_DIR/$MODEL_DIR"' in s and "pip install" in s for s in scripts)
