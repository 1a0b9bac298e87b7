"""`modelrail local` on a second model repository: not example-model, generated here
(tests/support/labs/churn_model.py), its workflows found by what they do, its dispatch
inputs its own. One scene, in the order a new adopter goes: the first release, its
promotions to prod, then a good and a degraded pull request against that champion."""

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient
from modelrail.local.act import git

from tests.support.labs.churn_model import (
    MODEL,
    churn_repo,
    commit_degraded_change,
    local_state,
)

pytestmark = pytest.mark.e2e

MODELRAIL = Path(sys.executable).parent / "modelrail"


def local(repo: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`modelrail local ARGS` run in `repo` as a user runs it."""
    return subprocess.run([str(MODELRAIL), "local", *args, "--state-dir", str(state)],
                          cwd=repo, capture_output=True, text=True, check=False, timeout=900)


def registry(state: Path) -> MlflowClient:
    """The state folder's MLflow store, read directly (no server runs between commands)."""
    return MlflowClient(f"sqlite:///{state / 'mlflow' / 'mlflow.db'}")


def test_a_second_repository_goes_from_release_to_prod_and_its_prs_are_gated(
        tmp_path: Path, python_env: Path) -> None:
    repo = churn_repo(tmp_path / "churn", python_env)
    state = local_state(tmp_path / "state", python_env)

    # Its release registers on the runners labelled `ml`: here, this machine.
    release = local(repo, state, "release", "--runner", "ml")
    assert release.returncode == 0, release.stdout + release.stderr
    assert "registered model version 1" in release.stdout
    assert "merge.yml" in release.stdout  # found by what it does, not by its name

    wrong = local(repo, state, "promote", "canary", "--reason", "no canary here")
    assert wrong.returncode == 2
    assert "must be one of staging, prod, not 'canary'" in wrong.stderr + wrong.stdout
    for environment in ("staging", "prod"):
        promoted = local(repo, state, "promote", environment, "--reason", "e2e")
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert str(registry(state).get_model_version_by_alias(MODEL, "champion").version) == "1"
    assert f"promoted {MODEL}/1 to prod" in promoted.stdout

    git(repo, "checkout", "-q", "-b", "docs")
    (repo / "README.md").write_text("# Churn\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "docs")
    good = local(repo, state, "pr", "--number", "1")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Quality gate passed" in good.stdout
    assert f"models:/{MODEL}@champion" in good.stdout
    # The PR ran the release's log command against a throwaway store, as merge.yml will.
    assert "model logging works" in (state / "runs" / "pr-1.log").read_text()

    commit_degraded_change(repo, "fewer-features")
    degraded = local(repo, state, "pr", "--number", "2")
    assert degraded.returncode == 1, degraded.stdout + degraded.stderr
    assert "Quality gate failed" in degraded.stdout
    # log_loss is lower-is-better: the degraded model's higher one fails its threshold.
    assert "threshold ≤ 0.5" in degraded.stdout
    assert (state / "runs" / "pr-2-comment.md").is_file()
