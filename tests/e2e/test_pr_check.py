"""example-model's PR workflow, run by act through modelrail's reusable pr-test.yml."""

import dataclasses
import re
import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient
from modelrail.local.github_api import GitHubStandIn
from modelrail.render.markdown import code

from tests.e2e.conftest import Champion
from tests.support.workflows.flows import MLFLOW_TOKEN, REPOSITORY, ExampleWorkbench

pytestmark = pytest.mark.e2e
PR_NUMBER = 42
# The job that runs the PR's code (no secrets) and the one that judges its metrics against
# the champion (MLflow credentials, none of the PR's code): they meet through an artifact.
EVALUATE = "Reproduce and diff"
GATE = "Gate against the champion"
REPORT = "Quality gate"
# The sticky comment is kept per model directory (example-model's pr.yml: model-dir `.`).
MARKER = "<!-- modelrail:pr-report . -->"


def replace_in(path: Path, old: str, new: str) -> None:
    """Break `path` on purpose: `old` must be there, so the edit cannot silently miss."""
    source = path.read_text()
    assert old in source
    path.write_text(source.replace(old, new))


def logged_runs(mlflow_url: str) -> int:
    client = MlflowClient(mlflow_url)
    return len(client.search_runs([e.experiment_id for e in client.search_experiments()]))


def test_good_model_passes_the_check_and_comments(
    new_model_repo: tuple[Path, str], bench: ExampleWorkbench, champion: Champion,
    github: GitHubStandIn,
) -> None:
    repo, base = new_model_repo
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nA docs-only change.\n")
    before = logged_runs(bench.mlflow_url)
    # A runner whose environment names the real MLflow: the log command must not use it.
    on_runner = dataclasses.replace(bench, env={"MLFLOW_TRACKING_URI": bench.mlflow_url})
    run = on_runner.open_pr(repo, base, PR_NUMBER, "docs")

    assert run.returncode == 0, run.log[-6000:]
    assert run.job_result("Model tests") == "succeeded"
    assert run.job_result("Pull pipeline outputs") == "succeeded"
    assert run.job_result(EVALUATE) == "succeeded"
    assert run.outputs(GATE).get("passed") == "true"
    summary = run.summary("Quality gate")
    assert "Quality gate passed: <code>ctr-ranker</code>" in summary
    assert f"Compared with the champion {code(f'models:/{champion.model}@champion')}" in summary
    assert "| <code>roc\\_auc</code> | 0.7607 | 0.7607 |" in summary
    assert "| <code>metrics.json</code> | <code>roc\\_auc</code> | 0.7607 | 0.7607 |" in summary
    assert "Quality gate" not in run.summary(EVALUATE) + run.summary(GATE)
    comments = github.comments(REPOSITORY, PR_NUMBER)
    assert len(comments) == 1
    assert comments[0]["body"].startswith(MARKER)
    assert "Metrics vs base" in comments[0]["body"]
    # The release's log command ran on the PR's code, against a throwaway store.
    assert "✅ **Model logging works:** the release's log command logged run" in summary
    assert logged_runs(bench.mlflow_url) == before
    assert MLFLOW_TOKEN not in run.log
    # The champion's pipeline outputs came from the DVC remote: nothing to recompute.
    assert "Stage 'prepare' didn't change, skipping" in run.log


def test_degraded_model_fails_the_check_naming_the_metric(
    new_model_repo: tuple[Path, str], bench: ExampleWorkbench, champion: Champion,
    github: GitHubStandIn,
) -> None:
    repo, base = new_model_repo
    shutil.copy(repo / "degraded-params.yaml", repo / "params.yaml")
    run = bench.open_pr(repo, base, PR_NUMBER, "params")

    assert run.returncode != 0
    assert run.outputs(GATE).get("passed") == "false"
    assert run.job_result(GATE) == "succeeded", run.log[-6000:]
    assert run.job_result("Quality gate") == "failed"
    summary = run.summary("Quality gate")
    assert "Quality gate failed: <code>ctr-ranker</code>" in summary
    assert re.search(r"roc\\_auc 0\.6798\d* is below threshold 0\.72, off by 0\.040\d*", summary)
    assert re.search(r"log\\_loss 0\.267\d* is above threshold 0\.26", summary)
    assert re.search(r"\| <code>metrics\.json</code> \| <code>roc\\_auc</code> \| 0\.7607 "
                     r"\| 0\.6798 \| -0\.080\d* \|", summary)
    body = github.comments(REPOSITORY, PR_NUMBER)[0]["body"]
    assert "❌ Quality gate failed" in body
    assert "roc\\_auc" in body


@pytest.mark.usefixtures("champion")  # its pipeline outputs are on the DVC remote
def test_unreachable_mlflow_fails_closed_and_the_comment_says_why(
    new_model_repo: tuple[Path, str], bench: ExampleWorkbench, github: GitHubStandIn,
) -> None:
    repo, base = new_model_repo
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nA docs-only change.\n")
    down = dataclasses.replace(bench, mlflow_url="http://127.0.0.1:9", env={
        "MODELRAIL_RETRY_ATTEMPTS": "2", "MODELRAIL_RETRY_BASE_DELAY": "0.1"})
    run = down.open_pr(repo, base, PR_NUMBER, "docs")

    assert run.returncode != 0
    assert run.job_result(EVALUATE) == "succeeded", run.log[-6000:]
    assert run.job_result(GATE) == "failed"
    assert run.outputs(GATE).get("exit-code") == "3"
    assert run.job_result(REPORT) == "failed"
    [comment] = github.comments(REPOSITORY, PR_NUMBER)
    body = comment["body"]
    assert body.startswith(MARKER)
    assert "Did not succeed: **Gate against the champion**." in body
    assert "### 🛑 Quality gate could not run: MLflow unreachable" in body
    assert ("MLflow at <code>http://127.0.0.1:9</code> could not be reached after retries, so "
            "the gate could not compare this model with the champion. Nothing is necessarily "
            "wrong with your model: re-run this check when MLflow is back.") in body
    assert "kept failing after 2 attempts" in body
    assert "Quality gate could not run: MLflow unreachable" in run.summary(REPORT)
    assert MLFLOW_TOKEN not in run.log


def test_pr_that_breaks_model_logging_fails_and_the_comment_says_the_release_would(
    new_model_repo: tuple[Path, str], bench: ExampleWorkbench, champion: Champion,
    github: GitHubStandIn,
) -> None:
    repo, base = new_model_repo
    replace_in(repo / "src" / "ctr_model" / "log_mlflow.py",
               "serialization_format=serialization_format,", 'serialization_format="skops-v2",')
    run = bench.open_pr(repo, base, PR_NUMBER, "logging")

    assert run.returncode != 0
    assert run.job_result("Model tests") == "succeeded", run.log[-6000:]
    assert run.job_result(EVALUATE) == "succeeded"
    assert run.outputs(GATE).get("passed") == "true"  # the metrics are fine
    assert run.job_result(REPORT) == "failed"
    body = github.comments(REPOSITORY, PR_NUMBER)[0]["body"]
    assert "✅ Quality gate passed" in body
    assert "### ❌ The release would fail at logging the model" in body
    assert "against a throwaway MLflow store, it failed: the log command exited 1." in body
    assert "Last lines of its output:" in body
    assert "skops-v2" in body.split("Last lines of its output:")[1]
    assert "### ❌ The release would fail at logging the model" in run.summary(REPORT)


@pytest.mark.usefixtures("champion")
def test_pr_whose_pipeline_fails_gets_a_comment_naming_the_jobs(
    new_model_repo: tuple[Path, str], bench: ExampleWorkbench, github: GitHubStandIn,
) -> None:
    repo, base = new_model_repo
    replace_in(repo / "dvc.yaml", "cmd: PYTHONPATH=src python -m ctr_model.evaluate",
               "cmd: PYTHONPATH=src python -m ctr_model.evaluate && exit 7")
    run = bench.open_pr(repo, base, PR_NUMBER, "pipeline")

    assert run.returncode != 0
    assert run.job_result(EVALUATE) == "failed", run.log[-6000:]
    assert run.job_result(REPORT) == "failed"
    body = github.comments(REPOSITORY, PR_NUMBER)[0]["body"]
    assert body.startswith(MARKER)
    assert ("Did not succeed: **Reproduce and diff**, **Gate against the champion**."
            in body)
    # Nothing of the jobs that did not run: no gate table, no logging verdict, no diff.
    assert "Quality gate passed" not in body
    assert "logging" not in body
    assert "${{" not in body
