"""example-model's workflows as a user triggers them: a PR, a merge, a dispatch.

Shared by the e2e tests, `make demo` and the benches, so all three run the same thing.
"""

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from mlflow import MlflowClient

from tests.support.paths import EXAMPLE_MODEL
from tests.support.workflows.act import ActRun, act_command, commit_all, git, run_act

MODEL = "ctr-ranker"
REPOSITORY = "acme/ctr-model"
DVC_REMOTE = "local"
GITHUB_TOKEN = "ghs_e2e-token"
MLFLOW_TOKEN = "mlflow-e2e-token"
PROMOTE_WORKFLOW = ".github/workflows/promote.yml"


@dataclass(frozen=True)
class Workbench:
    """Everything a workflow run needs: modelrail's checkout, an interpreter, services."""

    action_repo: Path
    python_env: Path
    mlflow_url: str
    github_url: str = ""
    actor: str = "release-bot"
    variables: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # extra job environment
    secrets: dict[str, str] = field(default_factory=dict)  # extra secrets

    def command(self, repo: Path, event_name: str, workflow: str,
                event: Mapping[str, object], name: str) -> list[str]:
        """The act command for `workflow` of `repo` and `event` (written next to the repo)."""
        event_path = repo.parent / f"{name}.json"
        event_path.write_text(json.dumps(event))
        # The artifact stand-ins pass files between the run's jobs through this folder.
        env = {"GITHUB_REPOSITORY": REPOSITORY, "E2E_PYTHON_ENV": str(self.python_env),
               "E2E_ARTIFACT_DIR": str(repo.parent / f"{name}-artifacts"), **self.env}
        if self.github_url:
            env["GITHUB_API_URL"] = self.github_url
        return act_command(
            event_name, workflow, self.action_repo, event_path=event_path, env=env,
            variables={"MLFLOW_TRACKING_URI": self.mlflow_url, "DVC_REMOTE": DVC_REMOTE,
                       **self.variables},
            secrets={"GITHUB_TOKEN": GITHUB_TOKEN, "MLFLOW_TRACKING_TOKEN": MLFLOW_TOKEN,
                     **self.secrets},
            extra=["--actor", self.actor],
        )

    def run(self, repo: Path, event_name: str, workflow: str, event: Mapping[str, object],
            name: str) -> ActRun:
        """Run `workflow` of `repo` for `event`; the log is kept next to the repo as NAME.log."""
        started = time.monotonic()
        result = run_act(repo, self.command(repo, event_name, workflow, event, name))
        result.seconds = time.monotonic() - started
        (repo.parent / f"{name}.log").write_text(result.log)
        return result

    def pull_request(self, repo: Path, base: str, number: int, title: str) -> ActRun:
        """Commit the working tree as PR `number` against `base` and run the PR check."""
        git(repo, "checkout", "-q", "-B", f"pr-{number}")
        head = commit_all(repo, title)
        event = {
            "action": "synchronize", "number": number,
            "pull_request": {"number": number, "base": {"sha": base, "ref": "main"},
                             "head": {"sha": head, "ref": f"pr-{number}"}},
            "repository": {"full_name": REPOSITORY},
        }
        return self.run(repo, "pull_request", ".github/workflows/pr.yml", event, f"pr-{number}")

    def release(self, repo: Path) -> ActRun:
        """A push of the checked-out commit to main: register, then promote to dev."""
        sha = git(repo, "rev-parse", "HEAD")
        event = {"ref": "refs/heads/main", "after": sha, "before": "0" * 40,
                 "repository": {"full_name": REPOSITORY}}
        return self.run(repo, "push", ".github/workflows/release.yml", event,
                        f"release-{sha[:7]}")

    def promote(self, repo: Path, environment: str, reason: str, *,
                rollback: bool = False, image: str = "", shadow_log: str = "") -> ActRun:
        """The Promote workflow dispatched from the Actions tab (`image`: with a canary;
        `shadow_log`: the log a required shadow analysis reads)."""
        return self.run(repo, "workflow_dispatch", PROMOTE_WORKFLOW,
                        *promote_dispatch(environment, reason, rollback, image, shadow_log))


def promote_dispatch(environment: str, reason: str, rollback: bool = False,
                     image: str = "", shadow_log: str = "") -> tuple[dict[str, object], str]:
    """The workflow_dispatch event of the Promote workflow, and a name for its log."""
    inputs = {"environment": environment, "reason": reason, "version": "",
              "force": "false", "rollback": str(rollback).lower(), "image": image,
              "shadow-log": shadow_log}
    name = f"{'rollback' if rollback else 'promote'}-{environment}"
    return {"inputs": inputs}, name


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
