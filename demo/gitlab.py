"""The demo's GitLab stage: example-model's `.gitlab-ci.yml` (modelrail's CI/CD components)
run by gitlab-ci-local, the pinned copy in tools/gitlab-ci-local, its shell executor on
this machine.

Against a local MLflow server (SQLite), a local DVC remote and a stand-in for GitLab's
Notes API (modelrail/local/gitlab_api.py): a docs-only merge request passes with its one
note, a degraded one (the two strongest features dropped) fails with a note naming the
metric; the default-branch pipeline registers the commit's version, promotes it to dev,
and its manual staging job, run, moves it to staging. The components are included as
`local:` files with the same inputs (gitlab-ci-local cannot reach a component catalog;
tests/support/gitlab_ci_local.py). The canary component is not run here: it needs the
live lab the canary stage runs (demo/canary.py) and several minutes more; it runs in
tests/e2e/test_gitlab_canary.py.

    python -m demo.gitlab        # this stage alone, under .demo/gitlab/
"""

import shutil
import sys
from pathlib import Path

from mlflow import MlflowClient
from modelrail.local.gitlab_api import GitLabStandIn
from modelrail.local.mlflow_server import mlflow_server

from demo.run import report, run_alone, say
from tests.support.gitlab_ci_local import BINARY, INSTALL_HINT
from tests.support.workflows.flows import MODEL, model_repo, train_champion
from tests.support.workflows.gitlab_flows import (
    PROJECT_ID,
    add_merge_request,
    component_project,
    default_branch_pipeline,
    job_dotenv,
    open_mr,
    use_components_on_main,
)

STAGING_JOB = "modelrail-promote-staging"


def gitlab_stage(work: Path) -> bool:
    """True when the good MR passed with one note, the degraded one failed with a note
    naming the metric, and the default-branch pipeline registered a version that its
    manual job moved to staging."""
    if not BINARY.exists():
        say(f"GitLab stage skipped: gitlab-ci-local is not installed; {INSTALL_HINT}")
        return False
    work.mkdir(parents=True)
    python_env, remote = Path(sys.prefix), work / "dvc-remote"
    with mlflow_server(work / "mlflow") as server, GitLabStandIn() as gitlab:
        say(f"GitLab: MLflow on {server.url}, the Notes API stand-in on {gitlab.url}, "
            f"pipelines run by gitlab-ci-local")
        champion_repo, _ = model_repo(work / "champion" / "ctr-model", remote)
        champion, _ = train_champion(champion_repo, python_env, server.url)
        say(f"{MODEL} version {champion} is models:/{MODEL}@champion")
        project = component_project(work / "modelrail")
        checks = merge_requests(work, gitlab, server.url, project)
        released = release(work, server.url, project)
    say("the canary component (templates/canary) needs the live lab of the canary stage "
        "and runs in tests/e2e/test_gitlab_canary.py")
    return checks and released


def merge_requests(work: Path, gitlab: GitLabStandIn, mlflow_url: str, project: str) -> bool:
    """MR !1 changes the docs only, MR !2 trains without position and category."""
    good_repo, _ = model_repo(work / "mr-1" / "ctr-model", work / "dvc-remote")
    readme = good_repo / "README.md"
    readme.write_text(readme.read_text() + "\nDocs-only change.\n")
    add_merge_request(gitlab, 1)
    good = open_mr(good_repo, 1, Path(sys.prefix), mlflow_url, gitlab, project)
    report("MR !1 (docs only)", good, good_repo.parent)
    [good_note] = notes = gitlab.notes(PROJECT_ID, 1)
    print(good_note["body"])
    bad_repo, _ = model_repo(work / "mr-2" / "ctr-model", work / "dvc-remote")
    shutil.copy(bad_repo / "degraded-params.yaml", bad_repo / "params.yaml")
    add_merge_request(gitlab, 2)
    bad = open_mr(bad_repo, 2, Path(sys.prefix), mlflow_url, gitlab, project)
    report("MR !2 (drops the two strongest features)", bad, bad_repo.parent)
    bad_notes = gitlab.notes(PROJECT_ID, 2)
    reasons = [line for note in bad_notes for line in note["body"].splitlines()
               if "is below threshold" in line]
    print("\n".join(reasons) or "(the note names no metric below its threshold)")
    return (good.returncode == 0 and len(notes) == 1 and bad.returncode != 0
            and len(bad_notes) == 1 and any("roc\\_auc" in line for line in reasons))


def release(work: Path, mlflow_url: str, project: str) -> bool:
    """The default-branch pipeline of a commit, its manual staging job run."""
    repo, _ = model_repo(work / "main" / "ctr-model", work / "dvc-remote")
    use_components_on_main(repo, project, MODEL)
    run = default_branch_pipeline(repo, Path(sys.prefix), mlflow_url, 101,
                                  manual=(STAGING_JOB,))
    if not report("default branch: register → dev, then the manual staging job", run,
                  repo.parent):
        return False
    version = job_dotenv(run, "modelrail-register", "modelrail-register.env")[
        "MODELRAIL_OUT_VERSION"]
    client = MlflowClient(mlflow_url)
    aliases = {alias: client.get_model_version_by_alias(MODEL, alias).version
               for alias in ("dev", "staging")}
    print(f"{MODEL} version {version} registered; "
          + ", ".join(f"@{alias} is version {held}" for alias, held in aliases.items()))
    return run.job_passed(STAGING_JOB) and set(aliases.values()) == {version}


def main() -> int:
    return run_alone(gitlab_stage, "gitlab", "GitLab",
                     "the good MR passed with its note, the degraded one was stopped naming "
                     "the metric; the default branch registered a version, promoted to dev "
                     "and, by its manual job, to staging")


if __name__ == "__main__":
    raise SystemExit(main())
