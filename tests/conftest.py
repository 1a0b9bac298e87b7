"""Fixtures shared by the integration and e2e tests: real services on loopback."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import MlflowServer, mlflow_server


@pytest.fixture(scope="session")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
