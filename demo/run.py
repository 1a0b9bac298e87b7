"""`make demo`: example-model through every modelrail stage built so far, on this machine.

Embedded defaults only: a local MLflow server on SQLite, a local DVC remote, the real
workflows run by act, and a stand-in for GitHub's REST API that prints the PR comment.
Everything lives under .demo/ and the servers stop when the demo ends.
"""

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient

from tests.support.act import (
    REPO_ROOT,
    ActRun,
    checkout_as_action_repo,
    commit_all,
    git,
    run_act,
    write_pull_request_event,
)
from tests.support.github_standin import GitHubStandIn
from tests.support.services import MlflowServer, mlflow_server

WORK = REPO_ROOT / ".demo"
BIN = Path(sys.executable).parent
REPOSITORY = "acme/ctr-model"


def say(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(command, cwd=cwd, env=env, check=True)


def make_model_repo(work: Path, remote: Path) -> tuple[Path, str]:
    repo = work / "ctr-model"
    shutil.copytree(REPO_ROOT / "example-model", repo,
                    ignore=shutil.ignore_patterns("data", "models", "__pycache__", ".pytest_cache"))
    git(repo, "init", "-q")
    run([str(BIN / "dvc"), "remote", "add", "--default", "local", str(remote)], repo)
    return repo, commit_all(repo, "the production model")


def train_champion(repo: Path, server: MlflowServer) -> str:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "MLFLOW_TRACKING_URI": server.url,
           "PYTHONPATH": str(repo / "src"), "HOME": str(repo.parent)}
    run([str(BIN / "dvc"), "repro", "--quiet"], repo, env)
    run([str(BIN / "dvc"), "push", "--quiet"], repo, env)
    logged = repo / ".logged.json"
    run([str(BIN / "python"), "-m", "ctr_model.log_mlflow", "--json", str(logged)], repo, env)
    run_id = json.loads(logged.read_text())["run_id"]
    client = MlflowClient(server.url)
    client.create_registered_model("ctr-ranker")
    version = client.create_model_version("ctr-ranker", f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias("ctr-ranker", "champion", version.version)
    return str(version.version)


@dataclass(frozen=True)
class Services:
    action_repo: Path
    mlflow: MlflowServer
    github: GitHubStandIn


def pull_request(repo: Path, base: str, title: str, number: int, services: Services) -> ActRun:
    """Commit the working tree as PR `number` against `base` and run the PR check."""
    server, github, work = services.mlflow, services.github, repo.parent
    git(repo, "checkout", "-q", "-B", f"pr-{number}", base)
    head = commit_all(repo, title)
    event = write_pull_request_event(work / f"pr-{number}.json", number, base, head)
    started = time.monotonic()
    result = run_act(
        repo, "pull_request", ".github/workflows/pr.yml", services.action_repo,
        event_path=event,
        env={"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPOSITORY,
             "E2E_PYTHON_ENV": sys.prefix},
        variables={"MLFLOW_TRACKING_URI": server.url, "DVC_REMOTE": "local"},
        secrets={"GITHUB_TOKEN": "demo-token"},
    )
    result.seconds = time.monotonic() - started
    (work / f"pr-{number}.log").write_text(result.log)
    verdict = "passed" if result.returncode == 0 else "FAILED"
    say(f"PR #{number} ({title}): check {verdict} in {result.seconds:.0f}s "
        f"(full log: {work / f'pr-{number}.log'})")
    comments = github.comments(REPOSITORY, number)
    print(comments[-1]["body"] if comments else "(no PR comment was written)")
    return result


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    with mlflow_server(WORK / "mlflow") as server, GitHubStandIn() as github:
        say(f"MLflow on {server.url} (SQLite), DVC remote in .demo/dvc-remote")
        repo, base = make_model_repo(WORK, WORK / "dvc-remote")
        version = train_champion(repo, server)
        say(f"ctr-ranker version {version} is models:/ctr-ranker@champion")
        services = Services(checkout_as_action_repo(WORK / "modelrail"), server, github)

        readme = repo / "README.md"
        git(repo, "checkout", "-q", base)
        readme.write_text(readme.read_text() + "\nDocs-only change.\n")
        good = pull_request(repo, base, "docs: explain the features", 1, services)
        git(repo, "checkout", "-q", base)
        shutil.copy(repo / "degraded-params.yaml", repo / "params.yaml")
        bad = pull_request(repo, base, "train without position and category", 2, services)

    expected = good.returncode == 0 and bad.returncode != 0
    say("demo " + ("complete: the good PR passed, the degraded one was stopped by the gate"
                   if expected else "did not behave as expected; see the logs in .demo/"))
    return 0 if expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
