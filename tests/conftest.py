"""Fixtures shared by the integration and e2e tests: real services on loopback."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import EXAMPLE_MODEL, REPO_ROOT
from tests.support.services.mlflow import MlflowServer, mlflow_server
from tests.support.workflows.act import checkout_as_action_repo


@pytest.fixture(scope="session")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


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


@pytest.fixture(scope="session")
def dvc_remote(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dvc-remote")
