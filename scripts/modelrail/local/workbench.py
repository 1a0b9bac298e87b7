"""A model repository's workflows played as GitHub would trigger them: a pull request, a
push to main, a workflow_dispatch, each one act run against local services."""

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from modelrail.local.act import ActRun, act_command, git, run_act, toolcache_pythons

# What the repository's workflows read as `secrets.GITHUB_TOKEN`: the local GitHub
# stand-in takes any token, and this one only ever reaches it.
LOCAL_GITHUB_TOKEN = "ghs_modelrail-local"  # noqa: S105 - a stand-in's token, not a secret


@dataclass(frozen=True)
class Workbench:
    """Everything a workflow run needs: modelrail's checkout, an interpreter, services.

    `runs` holds each run's event (NAME.json), log (NAME.log) and artifacts
    (NAME-artifacts/, what a user would download from the run); empty means beside the
    repository.
    """

    action_repo: Path
    python_env: Path
    mlflow_url: str
    github_url: str = ""
    repository: str = "local/model"  # OWNER/NAME the runs claim (GITHUB_REPOSITORY)
    actor: str = "release-bot"
    dvc_remote: str = ""  # the DVC remote's name in the repository's .dvc/config
    github_token: str = LOCAL_GITHUB_TOKEN
    mlflow_token: str = ""
    runs: Path | None = None
    runners: tuple[str, ...] = ()  # runs-on labels besides ubuntu-latest run on this host
    variables: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # extra job environment
    secrets: dict[str, str] = field(default_factory=dict)  # extra secrets

    def folder(self, repo: Path) -> Path:
        """Where the runs of `repo` keep their events, logs and artifacts."""
        folder = self.runs or repo.parent
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def command(self, repo: Path, event_name: str, workflow: str,
                event: Mapping[str, object], name: str) -> list[str]:
        """The act command for `workflow` of `repo` and `event` (written as NAME.json)."""
        folder = self.folder(repo)
        event_path = folder / f"{name}.json"
        event_path.write_text(json.dumps(event))
        # The artifact stand-ins pass files between the run's jobs through this folder; the
        # setup-python stand-in hands out python_env, or (update-environment: false) one of
        # the machine's Pythons as the tool cache's.
        env = {"GITHUB_REPOSITORY": self.repository,
               "MODELRAIL_LOCAL_PYTHON_ENV": str(self.python_env),
               "MODELRAIL_LOCAL_TOOLCACHE_PYTHON": toolcache_pythons(),
               "MODELRAIL_LOCAL_ARTIFACT_DIR": str(folder / f"{name}-artifacts"), **self.env}
        if self.github_url:
            env["GITHUB_API_URL"] = self.github_url
        secrets = {"GITHUB_TOKEN": self.github_token, **self.secrets}
        if self.mlflow_token:
            secrets["MLFLOW_TRACKING_TOKEN"] = self.mlflow_token
        return act_command(
            event_name, workflow, self.action_repo, event_path=event_path, env=env,
            variables={"MLFLOW_TRACKING_URI": self.mlflow_url, "DVC_REMOTE": self.dvc_remote,
                       **self.variables},
            secrets=secrets, extra=["--actor", self.actor], scanned=[repo],
            runners=self.runners)

    def run(self, repo: Path, event_name: str, workflow: str, event: Mapping[str, object],
            name: str) -> ActRun:
        """Run `workflow` of `repo` for `event`; the log is kept as NAME.log."""
        started = time.monotonic()
        result = run_act(repo, self.command(repo, event_name, workflow, event, name))
        result.seconds = time.monotonic() - started
        result.log_path = self.folder(repo) / f"{name}.log"
        result.log_path.write_text(result.log)
        return result

    def pull_request(self, repo: Path, workflow: str, base: str, number: int) -> ActRun:
        """The checked-out commit as the head of PR `number` against commit `base`."""
        head = git(repo, "rev-parse", "HEAD")
        branch = git(repo, "rev-parse", "--abbrev-ref", "HEAD")
        event = {
            "action": "synchronize", "number": number,
            "pull_request": {"number": number, "base": {"sha": base, "ref": "main"},
                             "head": {"sha": head, "ref": branch}},
            "repository": {"full_name": self.repository},
        }
        return self.run(repo, "pull_request", workflow, event, f"pr-{number}")

    def push(self, repo: Path, workflow: str, ref: str = "refs/heads/main") -> ActRun:
        """A push of the checked-out commit to `ref`: main (a merge), or a tag."""
        sha = git(repo, "rev-parse", "HEAD")
        event = {"ref": ref, "after": sha, "before": "0" * 40,
                 "repository": {"full_name": self.repository}}
        return self.run(repo, "push", workflow, event, f"push-{sha[:7]}")

    def dispatch(self, repo: Path, workflow: str, inputs: Mapping[str, str],
                 name: str) -> ActRun:
        """workflow_dispatch of `workflow` with `inputs` (see workflows.dispatch_inputs)."""
        event = {"inputs": dict(inputs), "repository": {"full_name": self.repository}}
        return self.run(repo, "workflow_dispatch", workflow, event, name)
