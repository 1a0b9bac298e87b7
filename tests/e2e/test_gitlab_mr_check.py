"""example-model's merge-request check on GitLab: the mr-check component run by
gitlab-ci-local (shell executor) against the real MLflow and DVC remote, with the GitLab
Notes API stand-in."""

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelrail.local.act import git
from modelrail.local.gitlab_api import GitLabStandIn
from modelrail.local.mlflow_server import MlflowServer

from tests.e2e.conftest import Champion
from tests.support.gitlab_ci_local import (
    PipelineRun,
    job_environment,
    run_pipeline,
    use_local_components,
)
from tests.support.workflows.flows import DVC_REMOTE, MLFLOW_TOKEN, commit_all

pytestmark = pytest.mark.e2e
PROJECT_ID, PROJECT_PATH, IID = 7, "acme/ctr-model", 42
NOTE_TOKEN = "glpat-e2e-note-token"  # MODELRAIL_GITLAB_TOKEN, a project access token
BOT_ID = 4242
MARKER = "<!-- modelrail:pr-report . -->"


@pytest.fixture
def gitlab() -> Iterator[GitLabStandIn]:
    with GitLabStandIn() as standin:
        standin.add_merge_request(PROJECT_ID, PROJECT_PATH, IID)
        standin.add_token(NOTE_TOKEN, BOT_ID, f"project_{PROJECT_ID}_bot")
        yield standin


def open_mr(repo: Path, python_env: Path, mlflow_url: str, gitlab: GitLabStandIn,
            modelrail_url: str, **extra: str) -> PipelineRun:
    """Commit the working tree as MR !42 against the committed base and run its pipeline."""
    base = git(repo, "rev-parse", "HEAD")
    assert use_local_components(repo, modelrail_url) == [
        "mr-check", "register", "promote", "canary"]
    git(repo, "checkout", "-q", "-B", f"mr-{IID}")
    commit_all(repo, "the merge request")
    variables = {
        "CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": str(IID),
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base, "CI_PROJECT_ID": str(PROJECT_ID),
        "CI_API_V4_URL": gitlab.url, "MODELRAIL_GITLAB_TOKEN": NOTE_TOKEN,
        "MLFLOW_TRACKING_URI": mlflow_url, "MLFLOW_TRACKING_TOKEN": MLFLOW_TOKEN,
        "DVC_REMOTE": DVC_REMOTE, **extra,
    }
    return run_pipeline(repo, variables, job_environment(python_env))


def test_degraded_mr_fails_with_one_note_naming_the_metric(
    new_model_repo: tuple[Path, str], python_env: Path, mlflow: MlflowServer,
    champion: Champion, gitlab: GitLabStandIn, modelrail_project: str,
) -> None:
    repo, _ = new_model_repo
    shutil.copy(repo / "degraded-params.yaml", repo / "params.yaml")

    run = open_mr(repo, python_env, mlflow.url, gitlab, modelrail_project)

    assert run.returncode != 0, run.log[-6000:]
    for job in ("modelrail-test", "modelrail-evaluate", "modelrail-gate"):
        assert run.job_passed(job), run.log[-6000:]
    assert run.job_failed("modelrail-report")
    gate_env = (run.build_dir("modelrail-gate") / "modelrail-gate.env").read_text()
    assert "MODELRAIL_OUT_PASSED=false\n" in gate_env
    assert "MODELRAIL_OUT_EXIT_CODE=1\n" in gate_env
    [note] = gitlab.notes(PROJECT_ID, IID)
    body = note["body"]
    assert body.startswith(MARKER)
    assert note["author"]["id"] == BOT_ID
    assert "❌ Quality gate failed" in body
    assert re.search(r"roc\\_auc 0\.6798\d* is below threshold 0\.72", body)
    assert re.search(r"\| <code>metrics\.json</code> \| <code>roc\\_auc</code> \| 0\.7607 "
                     r"\| 0\.6798 \| -0\.080\d* \|", body)
    issues = json.loads(
        (run.build_dir("modelrail-gate") / "gl-code-quality-report.json").read_text())
    assert {issue["check_name"] for issue in issues} == {
        "modelrail-gate/roc_auc", "modelrail-gate/log_loss"}
    assert {issue["location"]["path"] for issue in issues} == {"modelrail.yaml"}
    junit = (run.build_dir("modelrail-gate") / "modelrail-junit.xml").read_text()
    assert junit.count("<testcase ") == 2
    assert re.search(r'<failure message="roc_auc 0\.6798\d* is below threshold 0\.72', junit)
    # gitlab-ci-local renders a log section as "<name>_started" ... "<name> took <n>ms".
    assert "modelrail_gate_started" in run.log
    assert "modelrail_gate took" in run.log
    assert MLFLOW_TOKEN not in run.log
    assert NOTE_TOKEN not in run.log


def test_good_mr_passes_with_one_note(
    new_model_repo: tuple[Path, str], python_env: Path, mlflow: MlflowServer,
    champion: Champion, gitlab: GitLabStandIn, modelrail_project: str,
) -> None:
    repo, _ = new_model_repo
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nA docs-only change.\n")

    run = open_mr(repo, python_env, mlflow.url, gitlab, modelrail_project)

    assert run.returncode == 0, run.log[-6000:]
    assert run.job_passed("modelrail-report")
    [note] = gitlab.notes(PROJECT_ID, IID)
    assert note["body"].startswith(MARKER)
    assert "✅ Quality gate passed" in note["body"]
    assert f"models:/{champion.model}@champion" in note["body"]
    assert "Metrics vs base" in note["body"]
    assert json.loads(
        (run.build_dir("modelrail-gate") / "gl-code-quality-report.json").read_text()) == []
    assert "Stage 'prepare' didn't change, skipping" in run.log


@pytest.mark.usefixtures("champion")  # its pipeline outputs are on the DVC remote
def test_unreachable_mlflow_fails_closed_and_the_note_says_why(
    new_model_repo: tuple[Path, str], python_env: Path, gitlab: GitLabStandIn,
    modelrail_project: str,
) -> None:
    repo, _ = new_model_repo
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nA docs-only change.\n")

    run = open_mr(repo, python_env, "http://127.0.0.1:9", gitlab, modelrail_project,
                  MODELRAIL_RETRY_ATTEMPTS="2", MODELRAIL_RETRY_BASE_DELAY="0.1")

    assert run.returncode != 0
    assert run.job_passed("modelrail-evaluate"), run.log[-6000:]
    assert run.job_failed("modelrail-gate")
    assert run.job_failed("modelrail-report")
    gate_env = (run.build_dir("modelrail-gate") / "modelrail-gate.env").read_text()
    assert "MODELRAIL_OUT_EXIT_CODE=3\n" in gate_env
    [note] = gitlab.notes(PROJECT_ID, IID)
    body = note["body"]
    assert body.startswith(MARKER)
    assert "Did not succeed: **Gate against the champion**." in body
    assert "### 🛑 Quality gate could not run: MLflow unreachable" in body
    assert "kept failing after 2 attempts" in body
    assert MLFLOW_TOKEN not in run.log
