"""Fixtures for running example-model's workflows with act against real services."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from modelrail.local.act import checkout_as_action_repo, git
from modelrail.local.github_api import GitHubStandIn
from modelrail.local.mlflow_server import MlflowServer

from tests.support.workflows.flows import (
    MODEL,
    ExampleWorkbench,
    commit_all,
    model_repo,
    train_champion,
)


@dataclass(frozen=True)
class Champion:
    model: str
    version: str
    run_id: str


@pytest.fixture(scope="session")
def champion(mlflow: MlflowServer, python_env: Path, dvc_remote: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Champion:
    """The committed example model trained, pushed, logged and registered as @champion."""
    repo, _ = model_repo(tmp_path_factory.mktemp("champion") / "repo", dvc_remote)
    version, run_id = train_champion(repo, python_env, mlflow.url)
    return Champion(model=MODEL, version=version, run_id=run_id)


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        yield standin


@pytest.fixture
def bench(action_repo: Path, python_env: Path, mlflow: MlflowServer,
          github: GitHubStandIn) -> ExampleWorkbench:
    return ExampleWorkbench(action_repo, python_env, mlflow.url, github.url)


@pytest.fixture
def new_model_repo(tmp_path: Path, dvc_remote: Path) -> tuple[Path, str]:
    return model_repo(tmp_path / f"ctr-model-{uuid.uuid4().hex[:6]}", dvc_remote)


@pytest.fixture(scope="session")
def modelrail_project(tmp_path_factory: pytest.TempPathFactory) -> str:
    """This checkout as the GitLab components' project, tagged v1: their jobs clone it the
    way they clone modelrail on GitLab (a file:// URL instead of https)."""
    project = checkout_as_action_repo(tmp_path_factory.mktemp("component") / "modelrail")
    git(project, "init", "-q")
    commit_all(project, "modelrail")
    git(project, "tag", "v1")
    return project.as_uri()
