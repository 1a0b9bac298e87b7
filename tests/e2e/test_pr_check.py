"""example-model's PR workflow, run by act through modelrail's reusable pr-test.yml."""

import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import DVC_REMOTE, Champion
from tests.support.act import ActRun, commit_all, run_act, write_pull_request_event
from tests.support.github_standin import GitHubStandIn
from tests.support.services import MlflowServer

pytestmark = pytest.mark.e2e
REPOSITORY = "acme/ctr-model"
PR_NUMBER = 42


def run_pr_check(repo: Path, base: str, action_repo: Path, python_env: Path,
                 mlflow: MlflowServer, github: GitHubStandIn) -> ActRun:
    head = commit_all(repo, "PR change")
    event = write_pull_request_event(repo.parent / f"{repo.name}-event.json", PR_NUMBER,
                                     base, head)
    run = run_act(
        repo, "pull_request", ".github/workflows/pr.yml", action_repo,
        event_path=event,
        env={"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPOSITORY,
             "E2E_PYTHON_ENV": str(python_env)},
        variables={"MLFLOW_TRACKING_URI": mlflow.url, "DVC_REMOTE": DVC_REMOTE},
        secrets={"GITHUB_TOKEN": "ghs_e2e-token", "MLFLOW_TRACKING_TOKEN": "mlflow-e2e-token"},
    )
    (repo.parent / "act.log").write_text(run.log)  # kept for debugging a failed run
    return run


def test_good_model_passes_the_check_and_comments(
    new_model_repo: tuple[Path, str], action_repo: Path, python_env: Path,
    mlflow: MlflowServer, champion: Champion, github: GitHubStandIn,
) -> None:
    repo, base = new_model_repo
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nA docs-only change.\n")
    run = run_pr_check(repo, base, action_repo, python_env, mlflow, github)

    assert run.returncode == 0, run.log[-6000:]
    assert run.job_result("Model tests") == "succeeded"
    assert run.outputs("Reproduce, diff and gate").get("passed") == "true"
    summary = run.summary("Quality gate")
    assert "Quality gate passed: `ctr-ranker`" in summary
    assert f"Compared with the champion `models:/{champion.model}@champion`" in summary
    assert "| `roc_auc` | 0.7607 | 0.7607 |" in summary
    assert "| `metrics.json` | `roc_auc` | 0.7607 | 0.7607 |" in summary
    assert "Quality gate" not in run.summary("Reproduce, diff and gate")
    comments = github.comments(REPOSITORY, PR_NUMBER)
    assert len(comments) == 1
    assert comments[0]["body"].startswith("<!-- modelrail:pr-report ctr-ranker -->")
    assert "Metrics vs base" in comments[0]["body"]
    assert "mlflow-e2e-token" not in run.log
    # The champion's pipeline outputs came from the DVC remote: nothing to recompute.
    assert "Stage 'prepare' didn't change, skipping" in run.log


def test_degraded_model_fails_the_check_naming_the_metric(
    new_model_repo: tuple[Path, str], action_repo: Path, python_env: Path,
    mlflow: MlflowServer, champion: Champion, github: GitHubStandIn,
) -> None:
    repo, base = new_model_repo
    shutil.copy(repo / "degraded-params.yaml", repo / "params.yaml")
    run = run_pr_check(repo, base, action_repo, python_env, mlflow, github)

    assert run.returncode != 0
    assert run.outputs("Reproduce, diff and gate").get("passed") == "false"
    assert run.job_result("Reproduce, diff and gate") == "succeeded", run.log[-6000:]
    assert run.job_result("Quality gate") == "failed"
    summary = run.summary("Quality gate")
    assert "Quality gate failed: `ctr-ranker`" in summary
    assert re.search(r"roc_auc 0\.6798\d* is below threshold 0\.72, off by 0\.040\d*", summary)
    assert re.search(r"log_loss 0\.267\d* is above threshold 0\.26", summary)
    assert re.search(r"\| `metrics.json` \| `roc_auc` \| 0\.7607 \| 0\.6798 \| -0\.080\d* \|",
                     summary)
    body = github.comments(REPOSITORY, PR_NUMBER)[0]["body"]
    assert "❌ Quality gate failed" in body
    assert "roc_auc" in body
