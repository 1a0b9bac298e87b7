"""example-model's release (register → dev) and promote workflows, run by act."""

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.e2e.conftest import DVC_REMOTE, Champion
from tests.support.act import ActRun, git, run_act
from tests.support.services import MlflowServer

pytestmark = pytest.mark.e2e
MODEL = "ctr-ranker"


def act_env(python_env: Path) -> dict[str, str]:
    return {"GITHUB_REPOSITORY": "acme/ctr-model", "E2E_PYTHON_ENV": str(python_env)}


def release(repo: Path, action_repo: Path, python_env: Path, mlflow: MlflowServer) -> ActRun:
    sha = git(repo, "rev-parse", "HEAD")
    event = repo.parent / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "after": sha, "before": "0" * 40,
                                 "repository": {"full_name": "acme/ctr-model"}}))
    run = run_act(repo, "push", ".github/workflows/release.yml", action_repo, event_path=event,
                  env=act_env(python_env),
                  variables={"MLFLOW_TRACKING_URI": mlflow.url, "DVC_REMOTE": DVC_REMOTE},
                  secrets={"MLFLOW_TRACKING_TOKEN": "e2e-token"})
    (repo.parent / f"release-{sha[:7]}.log").write_text(run.log)
    return run


def promote(repo: Path, action_repo: Path, python_env: Path, mlflow: MlflowServer,
            **inputs: str) -> ActRun:
    event = repo.parent / "dispatch.json"
    event.write_text(json.dumps({"inputs": inputs}))
    run = run_act(repo, "workflow_dispatch", ".github/workflows/promote.yml", action_repo,
                  event_path=event, env=act_env(python_env),
                  variables={"MLFLOW_TRACKING_URI": mlflow.url},
                  secrets={"MLFLOW_TRACKING_TOKEN": "e2e-token"},
                  extra=["--actor", "release-bot"])
    name = "-".join(inputs.get(k, "") for k in ("environment", "rollback"))
    (repo.parent / f"promote-{name}.log").write_text(run.log)
    return run


def alias_version(url: str, alias: str) -> str:
    return str(MlflowClient(url).get_model_version_by_alias(MODEL, alias).version)


def test_release_registers_once_and_promotion_walks_to_prod_and_back(
    new_model_repo: tuple[Path, str], action_repo: Path, python_env: Path,
    mlflow: MlflowServer, champion: Champion,
) -> None:
    repo, base = new_model_repo
    first = release(repo, action_repo, python_env, mlflow)
    assert first.returncode == 0, first.log[-5000:]
    version = first.outputs("Reproduce, gate and register")["version"]
    client = MlflowClient(mlflow.url)
    tags = client.get_model_version(MODEL, version).tags
    assert tags["git_sha"] == base
    assert tags["validation_status"] == "passed"
    assert "dvc_data_hash" in tags
    assert alias_version(mlflow.url, "dev") == version

    again = release(repo, action_repo, python_env, mlflow)
    assert again.returncode == 0, again.log[-5000:]
    assert again.outputs("Reproduce, gate and register")["version"] == version
    assert again.outputs("Reproduce, gate and register")["created"] == "false"

    for environment in ("staging", "canary", "prod"):
        run = promote(repo, action_repo, python_env, mlflow, environment=environment,
                      reason=f"e2e to {environment}", rollback="false", force="false")
        assert run.returncode == 0, run.log[-5000:]
    prod_alias = "champion"
    assert alias_version(mlflow.url, prod_alias) == version
    promoted = client.get_model_version(MODEL, version).tags
    assert promoted["promoted_by"] == "release-bot"
    assert promoted["reason"] == "e2e to prod"

    back = promote(repo, action_repo, python_env, mlflow, environment="prod",
                   reason="e2e rollback", rollback="true", force="false")
    assert back.returncode == 0, back.log[-5000:]
    assert alias_version(mlflow.url, prod_alias) == champion.version
