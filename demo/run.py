"""`make demo`: example-model through every modelrail stage built so far, on this machine.

Embedded defaults only: a local MLflow server on SQLite, a local DVC remote, the real
workflows run by act, and a stand-in for GitHub's REST API that prints the PR comment.
Stages: a good PR passes the check, a degraded one is stopped by the gate; the merge
registers a version with its lineage and puts it in dev; dispatches promote it through
staging and canary to prod; prod is rolled back; a second repository (demo/local_repo.py)
goes to prod with `modelrail local` and its degraded PR is stopped; example-model's
`.gitlab-ci.yml` (modelrail's GitLab CI/CD components) runs under gitlab-ci-local
(demo/gitlab.py): a good MR passes with its note, a degraded one is stopped, the default
branch registers a version and a manual job promotes it to staging; on live traffic
(demo/canary.py) a good canary is rolled out to 100 % and a miscalibrated one is aborted
at its first step (and, behind a mirror phase, before any user saw it); an A/B test
(demo/ab_test.py) sends simulated users through the router to two model servers and
analyses the logs; shadow candidates are checked against production and production is
monitored for drift, and the same analyses give the same verdicts and statistics with
the logs in PostgreSQL and on Spark (demo/monitor.py, demo/engines.py); last, the Grafana
dashboard of it all is built (example-model/dashboards/model-rollout.json, from
model_rollout.py).
Everything lives under .demo/.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from mlflow import MlflowClient
from modelrail.local.act import ActRun, checkout_as_action_repo, git
from modelrail.local.github_api import GitHubStandIn
from modelrail.local.mlflow_server import mlflow_server

from demo.local_repo import local_stage
from tests.support.gitlab_ci_local import PipelineRun
from tests.support.paths import REPO_ROOT
from tests.support.workflows.flows import (
    MODEL,
    REPOSITORY,
    ExampleWorkbench,
    model_repo,
    train_champion,
)

WORK = REPO_ROOT / ".demo"


def tools_missing() -> bool:
    """Whether a tool the demo runs (Prometheus, git) is missing, after the install
    script's one message naming the packages and the command. `make demo` installs them
    first; this covers `python -m demo.run` and stops before the first stage instead of
    failing halfway with a FileNotFoundError."""
    script = REPO_ROOT / "scripts" / "install-system-packages.sh"
    env = {**os.environ, "PYTHON": sys.executable, "VENV": sys.prefix}
    check = subprocess.run([shutil.which("bash") or "/bin/bash", str(script), "--check", "demo"],
                           env=env, stdout=subprocess.DEVNULL, check=False)
    return check.returncode != 0


def say(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def run_alone(stage: Callable[[Path], bool], folder: str, name: str, outcome: str) -> int:
    """`python -m demo.<stage>`: one stage afresh under .demo/<folder>/, its `outcome`
    said when it behaved as expected; the exit code."""
    if tools_missing():
        return 1
    work = WORK / folder
    shutil.rmtree(work, ignore_errors=True)
    ok = stage(work)
    say(f"{name} stage complete: {outcome}" if ok
        else f"{name} stage did not behave as expected; see the logs above")
    return 0 if ok else 1


def report(name: str, run: ActRun | PipelineRun, work: Path) -> bool:
    verdict = "passed" if run.returncode == 0 else "FAILED"
    say(f"{name}: {verdict} in {run.seconds:.0f}s (log in {work}/)")
    return run.returncode == 0


def pull_requests(bench: ExampleWorkbench, repo: Path, base: str, github: GitHubStandIn) -> bool:
    readme = repo / "README.md"
    readme.write_text(readme.read_text() + "\nDocs-only change.\n")
    good = bench.open_pr(repo, base, 1, "docs: explain the features")
    report("PR #1 (docs only)", good, repo.parent)
    print(github.comments(REPOSITORY, 1)[-1]["body"])
    git(repo, "checkout", "-q", base)
    shutil.copy(repo / "degraded-params.yaml", repo / "params.yaml")
    bad = bench.open_pr(repo, base, 2, "train without position and category")
    report("PR #2 (drops the two strongest features)", bad, repo.parent)
    print(github.comments(REPOSITORY, 2)[-1]["body"])
    git(repo, "checkout", "-q", "main")
    return good.returncode == 0 and bad.returncode != 0


def release_and_promote(bench: ExampleWorkbench, repo: Path, champion: str) -> bool:
    client = MlflowClient(bench.mlflow_url)
    release = bench.release(repo)
    if not report("merge to main: register → dev", release, repo.parent):
        return False
    version = release.outputs("Reproduce, gate and register")["version"]
    tags = client.get_model_version(MODEL, version).tags
    print(f"{MODEL} version {version}: git {tags['git_sha'][:12]}, "
          f"validation {tags['validation_status']}, dvc data {tags['dvc_data_hash'][:12]}")
    for environment in ("staging", "canary", "prod"):
        if not report(f"promote to {environment}",
                      bench.promote(repo, environment, f"demo: on to {environment}"),
                      repo.parent):
            return False
    holder = client.get_model_version_by_alias(MODEL, "champion").version
    print(f"models:/{MODEL}@champion is version {holder} (was {champion})")
    if not report("roll prod back", bench.promote(repo, "prod", "demo: roll back",
                                                  rollback=True), repo.parent):
        return False
    holder = client.get_model_version_by_alias(MODEL, "champion").version
    print(f"models:/{MODEL}@champion is version {holder} again")
    return str(holder) == champion


def build_dashboard() -> bool:
    """Write example-model's Grafana dashboard with its builder, as a user would."""
    builder = REPO_ROOT / "example-model" / "dashboards" / "model_rollout.py"
    built = subprocess.run([sys.executable, str(builder)], check=False, timeout=120)
    return built.returncode == 0


def main() -> int:
    if tools_missing():
        return 1
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    with mlflow_server(WORK / "mlflow") as server, GitHubStandIn() as github:
        say(f"MLflow on {server.url} (SQLite), DVC remote in {WORK / 'dvc-remote'}")
        repo, base = model_repo(WORK / "ctr-model", WORK / "dvc-remote")
        git(repo, "branch", "-M", "main")
        champion, _ = train_champion(repo, Path(sys.prefix), server.url)
        say(f"{MODEL} version {champion} is models:/{MODEL}@champion (the production model)")
        bench = ExampleWorkbench(checkout_as_action_repo(WORK / "modelrail"), Path(sys.prefix),
                          server.url, github.url)
        checks = pull_requests(bench, repo, base, github)
        releases = release_and_promote(bench, repo, champion)
    say("a second repository, your own: `modelrail local` on a churn classifier")
    second = local_stage(WORK / "local")
    from demo.gitlab import gitlab_stage  # noqa: PLC0415 - demo.gitlab imports this module

    on_gitlab = gitlab_stage(WORK / "gitlab")
    from demo.canary import canary_stage  # noqa: PLC0415 - demo.canary imports this module

    canaries = canary_stage(WORK / "canary")
    from demo.ab_test import ab_stage  # noqa: PLC0415 - demo.ab_test imports this module

    experiment = ab_stage(WORK / "ab-test")
    from demo.monitor import monitor_stage  # noqa: PLC0415 - demo.monitor imports this module

    monitoring = monitor_stage(WORK / "monitor")
    say("the Grafana dashboard: canary vs stable, the verdicts, the drift")
    dashboard = build_dashboard()
    ok = (checks and releases and second and on_gitlab and canaries and experiment
          and monitoring and dashboard)
    say("demo complete: the gate stopped the bad PR; the merge was registered, promoted to "
        "prod and rolled back; a second repository went to prod with `modelrail local` and "
        "its degraded PR was stopped; on GitLab (gitlab-ci-local) the components stopped the "
        "bad MR, registered the default branch and promoted it to staging; on live traffic a "
        "good canary was promoted and a bad one aborted; the A/B test was analysed from its "
        "logs; a miscalibrated shadow was caught and a drift asked for a rollback, with the "
        "same verdicts on DuckDB, PostgreSQL and Spark; the Grafana dashboard was built" if ok
        else "demo did not behave as expected; see .demo/*.log")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
