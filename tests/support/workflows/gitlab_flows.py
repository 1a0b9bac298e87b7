"""example-model's pipelines on GitLab as the e2e tests and `make demo` run them with
gitlab-ci-local (tests/support/gitlab_ci_local.py): the components' project, a merge
request pipeline reporting to the Notes API stand-in, a default-branch pipeline."""

from collections.abc import Sequence
from pathlib import Path

from modelrail.local.act import checkout_as_action_repo, git
from modelrail.local.gitlab_api import GitLabStandIn

from tests.support.gitlab_ci_local import (
    PipelineRun,
    job_environment,
    run_pipeline,
    use_local_components,
)
from tests.support.workflows.flows import DVC_REMOTE, MLFLOW_TOKEN, commit_all

PROJECT_ID, PROJECT_PATH = 7, "acme/ctr-model"
PROJECT_URL = f"https://gitlab.example.com/{PROJECT_PATH}"
NOTE_TOKEN = "glpat-e2e-note-token"  # MODELRAIL_GITLAB_TOKEN, a project access token
BOT_ID = 4242
RELEASER = "release-manager"  # GITLAB_USER_LOGIN: who ran the pipeline or clicked the job
COMPONENTS = ["mr-check", "register", "promote", "canary"]  # example-model's, in order


def component_project(destination: Path) -> str:
    """This checkout as the GitLab components' project, tagged v1: their jobs clone it the
    way they clone modelrail on GitLab (a file:// URL instead of https)."""
    project = checkout_as_action_repo(destination)
    git(project, "init", "-q")
    commit_all(project, "modelrail")
    git(project, "tag", "v1")
    return project.as_uri()


def add_merge_request(gitlab: GitLabStandIn, iid: int) -> None:
    """Merge request !`iid` of the project, and the note token's bot user."""
    gitlab.add_merge_request(PROJECT_ID, PROJECT_PATH, iid)
    gitlab.add_token(NOTE_TOKEN, BOT_ID, f"project_{PROJECT_ID}_bot")


def open_mr(repo: Path, iid: int, python_env: Path, mlflow_url: str, gitlab: GitLabStandIn,
            modelrail_url: str, **extra: str) -> PipelineRun:
    """Commit the working tree as MR !`iid` against the committed base and run its
    pipeline; `extra`: more CI/CD variables."""
    base = git(repo, "rev-parse", "HEAD")
    assert use_local_components(repo, modelrail_url) == COMPONENTS
    git(repo, "checkout", "-q", "-B", f"mr-{iid}")
    commit_all(repo, "the merge request")
    variables = {
        "CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": str(iid),
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base, "CI_PROJECT_ID": str(PROJECT_ID),
        "CI_API_V4_URL": gitlab.url, "MODELRAIL_GITLAB_TOKEN": NOTE_TOKEN,
        "MLFLOW_TRACKING_URI": mlflow_url, "MLFLOW_TRACKING_TOKEN": MLFLOW_TOKEN,
        "DVC_REMOTE": DVC_REMOTE, **extra,
    }
    return run_pipeline(repo, variables, job_environment(python_env))


def use_components_on_main(repo: Path, modelrail_url: str, model: str) -> str:
    """The checked-out repository as main with the components as local includes and the
    promote component's `model` input set to `model`, committed; the commit."""
    git(repo, "checkout", "-q", "-B", "main")
    assert use_local_components(repo, modelrail_url) == COMPONENTS
    pipeline = repo / ".gitlab-ci.yml"
    pipeline.write_text(pipeline.read_text().replace("model: ctr-ranker", f"model: {model}"))
    return commit_all(repo, "the components as local includes")


def default_branch_pipeline(repo: Path, python_env: Path, mlflow_url: str, pipeline_id: int,
                            manual: Sequence[str] = ()) -> PipelineRun:
    """A push pipeline of the checked-out commit on main, the default branch; `manual`:
    the `when: manual` jobs someone runs."""
    variables = {
        "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main",
        "CI_PROJECT_URL": PROJECT_URL,
        "CI_PIPELINE_URL": f"{PROJECT_URL}/-/pipelines/{pipeline_id}",
        "GITLAB_USER_LOGIN": RELEASER, "MLFLOW_TRACKING_URI": mlflow_url,
        "MLFLOW_TRACKING_TOKEN": MLFLOW_TOKEN, "DVC_REMOTE": DVC_REMOTE,
    }
    return run_pipeline(repo, variables, job_environment(python_env), manual=manual)


def job_dotenv(run: PipelineRun, job: str, report: str) -> dict[str, str]:
    """The dotenv file `report` the job wrote in its build directory."""
    lines = (run.build_dir(job) / report).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)
