"""The local stand-ins for what a workflow run talks to, kept in one state folder.

MLflow is a real tracking server on a SQLite file in the folder, so versions, aliases and
lineage persist from one `modelrail local` command to the next (a release, then its
promotions); GitHub's REST API is the stand-in in github_api.py, whose PR comments are
printed and saved; modelrail's checkout is copied fresh for every command, so a run uses
the workflows and actions as they are now. Jobs get a virtual environment in the folder,
made from this interpreter once, where their `pip install -r requirements.txt` lands.
"""

import contextlib
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from modelrail.errors import UsageError
from modelrail.local.act import checkout_as_action_repo, git
from modelrail.local.github_api import GitHubStandIn
from modelrail.local.mlflow_server import mlflow_server
from modelrail.local.workbench import Workbench
from modelrail.plumbing.textfile import is_dir, is_file

_REMOTE = re.compile(r"[:/]([\w.-]+/[\w.-]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class Options:
    """What a `modelrail local` command was asked to use."""

    repo: Path
    state: Path | None = None  # default: default_state_dir(repo)
    repository: str = ""  # OWNER/NAME; default from the origin remote
    dvc_remote: str = ""
    variables: dict[str, str] | None = None
    secrets: dict[str, str] | None = None
    runners: tuple[str, ...] = ()


@dataclass(frozen=True)
class Session:
    """A workbench wired to running services."""

    workbench: Workbench
    github: GitHubStandIn


def default_state_dir(repo: Path) -> Path:
    """~/.cache/modelrail-local/<repo name>-<hash of its path>: outside the repository,
    so act's copy of the working tree does not carry the MLflow store along."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(str(repo.resolve()).encode()).hexdigest()[:8]
    return cache / "modelrail-local" / f"{repo.resolve().name}-{digest}"


def repository_name(repo: Path) -> str:
    """OWNER/NAME from the `origin` remote's URL, else local/<folder name>."""
    try:
        url = git(repo, "remote", "get-url", "origin")
    except subprocess.CalledProcessError:
        url = ""
    match = _REMOTE.search(url)
    return match.group(1) if match else f"local/{repo.resolve().name}"


def check_repository(repo: Path) -> Path:
    """`repo` as the top of a git repository with a commit; anything else is exit 2."""
    if not (is_dir(repo / ".git") or is_file(repo / ".git")):
        raise UsageError(f"--repo {repo}: not the top folder of a git repository")
    try:
        git(repo, "rev-parse", "--verify", "HEAD")
    except subprocess.CalledProcessError:
        raise UsageError(f"--repo {repo}: the repository has no commit yet") from None
    return repo.resolve()


def python_env(state: Path) -> Path:
    """The jobs' interpreter: a venv in the state folder made from this one, once."""
    env = state / "python"
    if not (env / "bin" / "python").is_file():
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    return env


def _check_server_installed() -> None:
    """The full `mlflow` distribution (mlflow-skinny has no server), read from its
    metadata: importing mlflow to find out would cost a second per command."""
    try:
        importlib.metadata.distribution("mlflow")
    except importlib.metadata.PackageNotFoundError:
        raise UsageError("modelrail local runs an MLflow server: pip install "
                         "'modelrail[local]' (it brings mlflow and act)") from None


@contextlib.contextmanager
def local_session(options: Options) -> Iterator[Session]:
    """MLflow, the GitHub stand-in and a workbench for `options.repo`, until the block ends."""
    repo = check_repository(options.repo)
    _check_server_installed()
    state = (options.state or default_state_dir(repo)).resolve()
    state.mkdir(parents=True, exist_ok=True)
    action_repo = state / "modelrail"
    shutil.rmtree(action_repo, ignore_errors=True)
    checkout_as_action_repo(action_repo)
    with mlflow_server(state / "mlflow") as server, GitHubStandIn() as github:
        workbench = Workbench(
            action_repo, python_env(state), server.url, github.url,
            repository=options.repository or repository_name(repo),
            actor=os.environ.get("USER", "local-user"), dvc_remote=options.dvc_remote,
            runs=state / "runs", variables=options.variables or {},
            secrets=options.secrets or {}, runners=options.runners)
        yield Session(workbench, github)
