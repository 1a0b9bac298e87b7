"""Fixtures for running example-model's workflows with act against real services."""

import secrets
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from modelrail.local.act import ActRun, checkout_as_action_repo, git
from modelrail.local.github_api import GitHubStandIn
from modelrail.local.mlflow_server import MlflowServer
from psycopg import sql

from tests.support.services.postgres import postgres_bin, postgres_server
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


@dataclass(frozen=True)
class Warehouse:
    """A PostgreSQL server holding the logs, reached as a login role with a password."""

    dsn: str
    password: str

    def leaks(self, run: ActRun, artifacts: Path) -> list[str]:
        """Where the DSN or its password shows: the act log (job summaries included, act
        echoes them) and every uploaded file."""
        places = [("act log", run.log)]
        places += [(str(path), path.read_text(errors="replace"))
                   for path in sorted(artifacts.rglob("*")) if path.is_file()]
        return [f"{secret} in {place}" for place, text in places
                for secret, value in (("DSN", self.dsn), ("password", self.password))
                if value in text]


@pytest.fixture(scope="session")
def warehouse() -> Iterator[Warehouse]:
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres_server() as admin:
        password = secrets.token_urlsafe(18)
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE ROLE modelrail_logs LOGIN PASSWORD {}").format(
                sql.Literal(password)))
            connection.execute("GRANT ALL ON SCHEMA public TO modelrail_logs")
        yield Warehouse(admin.replace("user=postgres", f"user=modelrail_logs password={password}"),
                        password)


@dataclass(frozen=True)
class UnmaskedWorkbench(ExampleWorkbench):
    """act with `--insecure-secrets`: secrets print as they are, so a secret that reaches
    the log shows in the test (masked, as GitHub does too, it would hide a leak that the
    summary or an artifact, which nothing masks, carries as well)."""

    def command(self, repo: Path, event_name: str, workflow: str,
                event: Mapping[str, object], name: str) -> list[str]:
        return [*super().command(repo, event_name, workflow, event, name), "--insecure-secrets"]


def unmasked(bench: ExampleWorkbench, **secrets_: str) -> UnmaskedWorkbench:
    """`bench` with act's masking off and `secrets_` added."""
    fields = {**vars(bench), "secrets": {**bench.secrets, **secrets_}}
    return UnmaskedWorkbench(**fields)
