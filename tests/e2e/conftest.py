"""Fixtures for running example-model's workflows with act against real services."""

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.support.act import REPO_ROOT, checkout_as_action_repo, commit_all, git
from tests.support.github_standin import GitHubStandIn
from tests.support.services import MlflowServer

EXAMPLE_MODEL = REPO_ROOT / "example-model"


@pytest.fixture(scope="session")
def python_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter the setup-python stand-in hands to jobs, with the model's deps."""
    env = tmp_path_factory.mktemp("python-env") / "venv"
    uv = [sys.executable, "-m", "uv"]
    subprocess.run([*uv, "venv", "--quiet", "--seed", "--python", sys.executable, str(env)],
                   check=True)
    subprocess.run([*uv, "pip", "install", "--quiet", "--python", str(env / "bin" / "python"),
                    "-r", str(EXAMPLE_MODEL / "requirements.txt")], check=True)
    return env


@pytest.fixture(scope="session")
def action_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return checkout_as_action_repo(tmp_path_factory.mktemp("action-repo") / "modelrail")


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        yield standin


DVC_REMOTE = "local"


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


@dataclass(frozen=True)
class Champion:
    model: str
    version: str
    run_id: str


@pytest.fixture(scope="session")
def dvc_remote(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dvc-remote")


@pytest.fixture(scope="session")
def champion(mlflow: MlflowServer, python_env: Path, dvc_remote: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Champion:
    """The committed example model trained, pushed, logged and registered as @champion."""
    repo, _ = model_repo(tmp_path_factory.mktemp("champion") / "repo", dvc_remote)
    bin_dir = python_env / "bin"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "MLFLOW_TRACKING_URI": mlflow.url,
           "HOME": str(repo)}
    subprocess.run([str(bin_dir / "dvc"), "repro", "--quiet"], cwd=repo, env=env, check=True)
    subprocess.run([str(bin_dir / "dvc"), "push", "--quiet"], cwd=repo, env=env, check=True)
    out = repo / "logged.json"
    subprocess.run([str(bin_dir / "python"), "-m", "ctr_model.log_mlflow", "--json", str(out)],
                   cwd=repo, env={**env, "PYTHONPATH": str(repo / "src")}, check=True)
    run_id = json.loads(out.read_text())["run_id"]
    client = MlflowClient(mlflow.url)
    model = "ctr-ranker"
    client.create_registered_model(model)
    version = client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(model, "champion", version.version)
    return Champion(model=model, version=str(version.version), run_id=run_id)


@pytest.fixture
def new_model_repo(tmp_path: Path, dvc_remote: Path) -> tuple[Path, str]:
    return model_repo(tmp_path / f"ctr-model-{uuid.uuid4().hex[:6]}", dvc_remote)
