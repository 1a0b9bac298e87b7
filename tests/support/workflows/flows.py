"""example-model's workflows as a user triggers them: a PR, a merge, a dispatch.

Shared by the e2e tests, `make demo` and the benches, so all three run the same thing.
"""

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from mlflow import MlflowClient
from modelrail.local.act import ActRun, git
from modelrail.local.workbench import Workbench
from modelrail.local.workflows import dispatch_inputs, find_workflow

from tests.support.paths import EXAMPLE_MODEL

MODEL = "ctr-ranker"
REPOSITORY = "acme/ctr-model"
DVC_REMOTE = "local"
GITHUB_TOKEN = "ghs_e2e-token"
MLFLOW_TOKEN = "mlflow-e2e-token"
PR_WORKFLOW = ".github/workflows/pr.yml"
RELEASE_WORKFLOW = ".github/workflows/release.yml"
PROMOTE_WORKFLOW = ".github/workflows/promote.yml"


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass(frozen=True)
class ExampleWorkbench(Workbench):
    """modelrail's local workbench with example-model's identity, tokens and DVC remote,
    and the moves the tests make: a PR from the working tree, a merge, a promotion."""

    repository: str = REPOSITORY
    dvc_remote: str = DVC_REMOTE
    github_token: str = GITHUB_TOKEN
    mlflow_token: str = MLFLOW_TOKEN

    def open_pr(self, repo: Path, base: str, number: int, title: str) -> ActRun:
        """Commit the working tree as PR `number` against `base` and run the PR check."""
        git(repo, "checkout", "-q", "-B", f"pr-{number}")
        commit_all(repo, title)
        return self.pull_request(repo, PR_WORKFLOW, base, number)

    def release(self, repo: Path) -> ActRun:
        """A push of the checked-out commit to main: register, then promote to dev."""
        return self.push(repo, RELEASE_WORKFLOW)

    def promote(self, repo: Path, environment: str, reason: str, *,
                rollback: bool = False, image: str = "", shadow_log: str = "") -> ActRun:
        """The Promote workflow dispatched from the Actions tab (`image`: with a canary;
        `shadow_log`: the log a required shadow analysis reads)."""
        inputs, name = promote_dispatch(repo, environment, reason, rollback, image, shadow_log)
        return self.dispatch(repo, PROMOTE_WORKFLOW, inputs, name)


def promote_dispatch(repo: Path, environment: str, reason: str, rollback: bool = False,
                     image: str = "", shadow_log: str = "") -> tuple[dict[str, str], str]:
    """The inputs of a Promote dispatch, as GitHub fills them from the workflow's
    declarations, and a name for its log."""
    given = {"environment": environment, "reason": reason, "rollback": str(rollback).lower()}
    given |= {key: value for key, value in (("image", image), ("shadow-log", shadow_log))
              if value}
    workflow = find_workflow(repo, "workflow_dispatch", "promote.yml", PROMOTE_WORKFLOW)
    name = f"{'rollback' if rollback else 'promote'}-{environment}"
    return dispatch_inputs(workflow, given), name


def model_repo(destination: Path, dvc_remote: Path) -> tuple[Path, str]:
    """example-model as its own git repository with a local DVC remote; returns the base."""
    shutil.copytree(EXAMPLE_MODEL, destination,
                    ignore=shutil.ignore_patterns("data", "models", "__pycache__", ".pytest_cache"))
    git(destination, "init", "-q")
    dvc_remote.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(Path(sys.executable).parent / "dvc"), "remote", "add", "--default",
                    DVC_REMOTE, str(dvc_remote)], cwd=destination, check=True,
                   capture_output=True)
    return destination, commit_all(destination, "base: the production model")


def named_model_repo(destination: Path, dvc_remote: Path, model: str,
                     edit: Callable[[dict[str, Any]], object] | None = None) -> Path:
    """`model_repo` whose policy names `model` (a model of its own in the shared registry),
    changed further by `edit` and committed."""
    repo, _ = model_repo(destination, dvc_remote)
    policy_file = repo / "modelrail.yaml"
    policy = yaml.safe_load(policy_file.read_text())
    policy["model"] = model
    if edit is not None:
        edit(policy)
    policy_file.write_text(yaml.safe_dump(policy, sort_keys=False))
    commit_all(repo, f"policy for {model}")
    return repo


def edit_workflow(repo: Path, workflow: str, replacements: Mapping[str, str]) -> None:
    """Change the repository's `workflow` (each old text must occur exactly once, so a
    change to example-model cannot make the edit silently miss) and commit."""
    path = repo / workflow
    text = path.read_text()
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{workflow}: {old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    path.write_text(text)
    commit_all(repo, f"{workflow}: edited")


def train_champion(repo: Path, python_env: Path, mlflow_url: str) -> tuple[str, str]:
    """Train and push the checked-out model, log it, register it as @champion.

    This is how the production model got there before modelrail; returns (version, run id).
    """
    bin_dir = python_env / "bin"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "MLFLOW_TRACKING_URI": mlflow_url,
           "HOME": str(repo.parent), "PYTHONPATH": str(repo / "src")}
    subprocess.run([str(bin_dir / "dvc"), "repro", "--quiet"], cwd=repo, env=env, check=True)
    subprocess.run([str(bin_dir / "dvc"), "push", "--quiet"], cwd=repo, env=env, check=True)
    logged = repo.parent / "champion-run.json"
    subprocess.run([str(bin_dir / "python"), "-m", "ctr_model.log_mlflow", "--json",
                    str(logged)], cwd=repo, env=env, check=True)
    run_id = str(json.loads(logged.read_text())["run_id"])
    client = MlflowClient(mlflow_url)
    client.create_registered_model(MODEL)
    version = client.create_model_version(MODEL, f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(MODEL, "champion", version.version)
    return str(version.version), run_id
