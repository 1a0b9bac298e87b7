"""Fixtures shared by the tests: real services on loopback, a clean redaction state, and
every `--json` document a command builds checked against its published schema."""

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from modelrail.cli import common
from modelrail.local.act import checkout_as_action_repo
from modelrail.local.mlflow_server import MlflowServer, mlflow_server
from modelrail.plumbing import redact, runner
from modelrail.plumbing.documents import versioned

from tests.support.json_schemas import document_problems
from tests.support.paths import EXAMPLE_MODEL, REPO_ROOT

# `make test` runs two workers (pytest-xdist, --dist loadfile: a file's tests stay on one
# worker, so its module fixtures are built once). They take the files in this order, the
# slowest folders first, so that the last file to start is a quick one and neither worker
# idles while the other finishes a long e2e run.
SLOWEST_FOLDERS_FIRST = ("image", "e2e", "integration")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest folders first (a stable sort: each folder keeps its order)."""
    tests = Path(__file__).parent

    def folder_rank(item: pytest.Item) -> int:
        folder = item.path.relative_to(tests).parts[0]
        return (SLOWEST_FOLDERS_FIRST.index(folder) if folder in SLOWEST_FOLDERS_FIRST
                else len(SLOWEST_FOLDERS_FIRST))

    items.sort(key=folder_rank)


@pytest.fixture(autouse=True)
def _forget_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CLI process registers the secrets it meets for redaction, for its whole life; in
    the test process one test's secret (a password "wrong") must not mask another's text."""
    monkeypatch.setattr(redact, "_registered", set())
    monkeypatch.setattr(runner, "_masked", set())


@pytest.fixture(autouse=True)
def _documents_match_their_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever test runs a command with --json (in this process), the document it builds
    must validate against `schemas/<kind>.schema.json`, as JSON text would read back."""

    def checked(kind: str, payload: Mapping[str, object]) -> dict[str, object]:
        document = versioned(kind, payload)
        try:
            as_read = json.loads(json.dumps(document, allow_nan=False))
        except ValueError:  # not strict JSON: write_json itself fails, as it would anyway
            return document
        problems = document_problems(as_read)
        assert not problems, f"{kind} document breaks its schema: {problems}"
        return document

    monkeypatch.setattr(common, "versioned", checked)


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
