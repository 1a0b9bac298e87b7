"""example-model's release (register → dev) and promote workflows, run by act."""

import dataclasses
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.e2e.conftest import Champion
from tests.support.workflows.caller_python import REFUSED, caller_python, calls
from tests.support.workflows.flows import ExampleWorkbench

pytestmark = pytest.mark.e2e
MODEL = "ctr-ranker"
REGISTER_JOB = "Reproduce, gate and register"


def alias_version(client: MlflowClient, alias: str) -> str:
    return str(client.get_model_version_by_alias(MODEL, alias).version)


def test_release_registers_once_and_promotion_walks_to_prod_and_back(
    new_model_repo: tuple[Path, str], bench: ExampleWorkbench, champion: Champion,
    python_env: Path, tmp_path: Path,
) -> None:
    """The release job's python (the caller's setup-python) cannot host modelrail, as a
    model's Python 3.10 could not: its gate and register actions pass on their own."""
    repo, base = new_model_repo
    job_python = caller_python(tmp_path / "caller-python", python_env)
    bench = dataclasses.replace(bench, python_env=job_python)
    client = MlflowClient(bench.mlflow_url)
    first = bench.release(repo)
    assert first.returncode == 0, first.log[-5000:]
    assert [call for call in calls(job_python) if call.startswith(REFUSED)] == []
    assert any(" -m pip install " in call for call in calls(job_python))  # the model's own
    version = first.outputs(REGISTER_JOB)["version"]
    tags = client.get_model_version(MODEL, version).tags
    assert tags["git_sha"] == base
    assert tags["validation_status"] == "passed"
    assert "dvc_data_hash" in tags
    assert alias_version(client, "dev") == version

    again = bench.release(repo)
    assert again.returncode == 0, again.log[-5000:]
    assert again.outputs(REGISTER_JOB)["version"] == version
    assert again.outputs(REGISTER_JOB)["created"] == "false"

    for environment in ("staging", "canary", "prod"):
        run = bench.promote(repo, environment, f"e2e to {environment}")
        assert run.returncode == 0, run.log[-5000:]
    assert alias_version(client, "champion") == version
    promoted = client.get_model_version(MODEL, version).tags
    assert promoted["promoted_by"] == bench.actor
    assert promoted["reason"] == "e2e to prod"
    assert promoted["previous_version.prod"] == champion.version

    back = bench.promote(repo, "prod", "e2e rollback", rollback=True)
    assert back.returncode == 0, back.log[-5000:]
    assert alias_version(client, "champion") == champion.version
