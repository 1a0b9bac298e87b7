"""example-model's release path on GitLab: the register and promote components run by
gitlab-ci-local (shell executor) in a default-branch pipeline, against the real MLflow
and DVC remote. Two pipelines of one commit: the first registers the version and promotes
it to dev; the second (a re-run) registers nothing new and, with its manual staging job
run, moves the version to staging."""

import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient
from modelrail.local.act import git
from modelrail.local.mlflow_server import MlflowServer

from tests.support.gitlab_ci_local import (
    PipelineRun,
    job_environment,
    run_pipeline,
    use_local_components,
)
from tests.support.workflows.flows import DVC_REMOTE, MLFLOW_TOKEN, commit_all, named_model_repo

pytestmark = pytest.mark.e2e
PROJECT_URL = "https://gitlab.example.com/acme/ctr-model"
RELEASER = "release-manager"  # GITLAB_USER_LOGIN: who ran the pipeline or clicked the job


def dotenv(run: PipelineRun, job: str, report: str) -> dict[str, str]:
    lines = (run.build_dir(job) / report).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def default_branch_pipeline(repo: Path, python_env: Path, mlflow_url: str, pipeline_id: int,
                            manual: tuple[str, ...] = ()) -> PipelineRun:
    """A push pipeline of the checked-out commit on main, the default branch."""
    variables = {
        "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main",
        "CI_PROJECT_URL": PROJECT_URL,
        "CI_PIPELINE_URL": f"{PROJECT_URL}/-/pipelines/{pipeline_id}",
        "GITLAB_USER_LOGIN": RELEASER, "MLFLOW_TRACKING_URI": mlflow_url,
        "MLFLOW_TRACKING_TOKEN": MLFLOW_TOKEN, "DVC_REMOTE": DVC_REMOTE,
    }
    return run_pipeline(repo, variables, job_environment(python_env), manual=manual)


@pytest.mark.usefixtures("champion")  # its pipeline outputs are on the DVC remote
def test_default_branch_registers_once_and_a_manual_job_promotes_to_staging(
    tmp_path: Path, dvc_remote: Path, python_env: Path, mlflow: MlflowServer,
    modelrail_project: str,
) -> None:
    model = f"ctr-gitlab-{uuid.uuid4().hex[:6]}"  # a model of its own in the shared registry
    repo = named_model_repo(tmp_path / "ctr-model", dvc_remote, model)
    git(repo, "checkout", "-q", "-B", "main")
    assert use_local_components(repo, modelrail_project) == [
        "mr-check", "register", "promote", "canary"]
    pipeline = repo / ".gitlab-ci.yml"
    pipeline.write_text(pipeline.read_text().replace("model: ctr-ranker", f"model: {model}"))
    sha = commit_all(repo, "the components as local includes")
    client = MlflowClient(mlflow.url)

    first = default_branch_pipeline(repo, python_env, mlflow.url, 101)

    assert first.returncode == 0, first.log[-6000:]
    for job in ("modelrail-register", "modelrail-promote-dev"):
        assert first.job_passed(job), first.log[-6000:]
    assert not first.job_passed("modelrail-promote-staging")  # manual: nobody clicked it
    registered = dotenv(first, "modelrail-register", "modelrail-register.env")
    assert registered["MODELRAIL_OUT_CREATED"] == "true"
    assert registered["MODELRAIL_OUT_GATE_PASSED"] == "true"
    version = registered["MODELRAIL_OUT_VERSION"]
    assert registered["MODELRAIL_OUT_MODEL_URI"] == f"models:/{model}/{version}"
    tags = client.get_model_version(model, version).tags
    assert tags["git_sha"] == sha
    assert tags["git_ref"] == "refs/heads/main"
    assert tags["workflow_run_url"] == f"{PROJECT_URL}/-/pipelines/101"
    assert tags["project_url"] == PROJECT_URL
    assert tags["validation_status"] == "passed"
    assert "dvc_data_hash" in tags
    assert client.get_model_version_by_alias(model, "dev").version == version
    junit = (first.build_dir("modelrail-register") / "modelrail-junit.xml").read_text()
    assert junit.count("<testcase ") == 2
    assert "<failure" not in junit

    again = default_branch_pipeline(repo, python_env, mlflow.url, 102,
                                     manual=("modelrail-promote-staging",))

    assert again.returncode == 0, again.log[-6000:]
    assert again.job_passed("modelrail-promote-staging"), again.log[-6000:]
    registered_again = dotenv(again, "modelrail-register", "modelrail-register.env")
    assert registered_again["MODELRAIL_OUT_VERSION"] == version
    assert registered_again["MODELRAIL_OUT_CREATED"] == "false"
    assert [v.version for v in client.search_model_versions(f"name = '{model}'")] == [version]
    assert dotenv(again, "modelrail-promote-dev", "modelrail-promote.env")[
        "MODELRAIL_OUT_CHANGED"] == "false"
    assert client.get_model_version_by_alias(model, "staging").version == version
    promoted = client.get_model_version(model, version).tags
    assert promoted["promoted_to"] == "staging"
    assert promoted["from_env"] == "dev"
    assert promoted["promoted_by"] == RELEASER
    assert promoted["promoted_run_url"] == f"{PROJECT_URL}/-/pipelines/102"
    assert promoted["reason"] == f"promoted by GitLab pipeline {PROJECT_URL}/-/pipelines/102"
    for run in (first, again):
        assert MLFLOW_TOKEN not in run.log
    print(f"gitlab release pipelines: register+dev {first.seconds:.1f} s, "
          f"re-run+staging {again.seconds:.1f} s")
