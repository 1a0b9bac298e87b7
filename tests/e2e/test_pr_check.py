"""example-model's PR workflow, run by act through modelrail's reusable pr-test.yml."""

import re
import shutil
from pathlib import Path

import pytest
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


def test_good_model_passes_the_check_and_comments(
    new_model_repo: tuple[Path, str], bench: ExampleWorkbench, champion: Champion,
    github: GitHubStandIn,
) -> None:
    repo, base = new_model_repo
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nA docs-only change.\n")
    run = bench.open_pr(repo, base, PR_NUMBER, "docs")

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
    assert comments[0]["body"].startswith("<!-- modelrail:pr-report ctr-ranker -->")
    assert "Metrics vs base" in comments[0]["body"]
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
