"""gitlab-ci-local, the npm package that runs a .gitlab-ci.yml on this machine, as the
tests use it: the copy pinned in tools/gitlab-ci-local (`make gitlab-ci-local` installs it
with `npm ci` from the lock), in its shell executor for every job, `image:` or not
(`--force-shell-executor`: the jobs run on this machine with the environment the test
gives), with one build directory per job (`--shell-isolation`), so jobs meet only through
their artifacts as on GitLab.

gitlab-ci-local cannot fetch `include: component:` (that needs the GitLab server's catalog),
so a test includes the component's template with `include: local:` and the same `inputs:`
(gitlab-ci-local interpolates `spec: inputs:` for local includes as GitLab does).

A job with an `after_script` runs without `--shell-isolation`: gitlab-ci-local 4.72.0
re-syncs an isolated build directory from the repository before the after_script (rsync
--delete), so what the script wrote (its artifacts, its dotenv report) is gone by then;
GitLab runs the after_script in the same build directory.
"""

import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.paths import REPO_ROOT

TOOL_DIR = REPO_ROOT / "tools" / "gitlab-ci-local"
BINARY = TOOL_DIR / "node_modules" / ".bin" / "gitlab-ci-local"
INSTALL_HINT = "run `make gitlab-ci-local` (npm ci in tools/gitlab-ci-local)"


def gitlab_ci_local() -> Path:
    """The pinned gitlab-ci-local; a clear error when it was not installed."""
    if not BINARY.exists():
        raise FileNotFoundError(f"{BINARY} is missing: {INSTALL_HINT}")
    return BINARY


@dataclass(frozen=True)
class PipelineRun:
    returncode: int
    log: str
    seconds: float
    repo: Path

    def job_passed(self, job: str) -> bool:
        """gitlab-ci-local's closing summary lists each job as ` PASS  <job>` or
        ` FAIL  <job>` (a failure allowed by `allow_failure` shows as WARN)."""
        return any(line.split() == ["PASS", job] for line in self.log.splitlines())

    def job_failed(self, job: str) -> bool:
        return any(line.split() == ["FAIL", job] for line in self.log.splitlines())

    def build_dir(self, job: str) -> Path:
        """The job's own directory under --shell-isolation (its files, its artifacts)."""
        return self.repo / ".gitlab-ci-local" / "builds" / job

    def artifacts(self, job: str) -> Path:
        """The artifacts the job uploaded (`artifacts: paths:`), as GitLab would keep them."""
        return self.repo / ".gitlab-ci-local" / "artifacts" / job

    def dotenv(self, job: str, report: str) -> dict[str, str]:
        """The job's uploaded dotenv report `report`: the variables later jobs get."""
        path = self.artifacts(job) / ".gitlab-ci-reports" / "dotenv" / report
        return dict(line.split("=", 1) for line in path.read_text().splitlines())


def use_local_components(repo: Path, modelrail_url: str) -> list[str]:
    """The repository's .gitlab-ci.yml with each `component:` include of modelrail made a
    `local:` one (gitlab-ci-local cannot reach a catalog): the template copied in, the
    inputs kept, the component's project pointed at `modelrail_url` (tag v1). Returns the
    components' names, in include order."""
    pipeline = yaml.safe_load((repo / ".gitlab-ci.yml").read_text())
    names = []
    for include in pipeline["include"]:
        project, _, name = include.pop("component").rpartition("/")
        assert project.endswith("/modelrail/modelrail"), project
        assert name.endswith("@v1"), name
        name = name.removesuffix("@v1")
        shutil.copy(REPO_ROOT / "templates" / name / "template.yml",
                    repo / f".modelrail-{name}.yml")
        include["local"] = f".modelrail-{name}.yml"
        include["inputs"] = {**include.get("inputs", {}), "modelrail-repository": modelrail_url,
                             "modelrail-ref": "v1"}
        names.append(name)
    (repo / ".gitlab-ci.yml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    return names


# What the test process holds that must not leak into the jobs: its own import path and
# venv, and any CI, modelrail or MLflow setting (the pipeline's variables say those).
_NOT_HANDED_ON = ("PYTHONPATH", "VIRTUAL_ENV")
_NOT_HANDED_ON_PREFIXES = ("GITHUB_", "GITLAB_", "CI_", "MODELRAIL_", "MLFLOW_")


def job_environment(python_env: Path) -> dict[str, str]:
    """The machine's environment (its certificates, proxy and uv cache, as a runner host's)
    with the project's interpreter first on PATH: the jobs' `python` is never the global one."""
    env = {name: value for name, value in os.environ.items()
           if name not in _NOT_HANDED_ON and not name.startswith(_NOT_HANDED_ON_PREFIXES)}
    env["PATH"] = f"{python_env / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"
    return env


def run_pipeline(repo: Path, variables: Mapping[str, str], env: Mapping[str, str],
                 timeout: float = 1200, manual: Sequence[str] = (), jobs: Sequence[str] = (),
                 shell_isolation: bool = True) -> PipelineRun:
    """Run the repository's .gitlab-ci.yml; `env` is the whole environment of the jobs
    (the shell executor hands its own on), `variables` are the pipeline's CI/CD variables,
    `manual` the `when: manual` jobs someone clicks "Run" on; with `jobs`, only those run
    (a click on one job of a pipeline). Without `shell_isolation` the jobs run in the
    repository itself (see the module docstring)."""
    isolation = ["--shell-isolation"] if shell_isolation else []
    command = [str(gitlab_ci_local()), *jobs, "--force-shell-executor", *isolation,
               "--no-artifacts-to-source", "--concurrency", "1",
               "--home", str(repo.parent / "gitlab-ci-local-home")]
    for job in manual:
        command += ["--manual", job]
    # gitlab-ci-local marks its jobs GITLAB_CI=false; GitLab's runner sets it to true, and
    # that is what modelrail's runner I/O (plumbing/ci_platform.py) looks for.
    variables = {"GITLAB_CI": "true", **variables}
    for name, value in variables.items():
        command += ["--variable", f"{name}={value}"]
    # What a merge request pipeline on GitLab sets itself (the source, the project, the API).
    command += ["--ignore-predefined-vars", ",".join(sorted(variables))]
    started = time.monotonic()
    result = subprocess.run(command, cwd=repo, env={**env, "PATH": _with_node(env)},
                            capture_output=True, text=True, timeout=timeout, check=False)
    log = result.stdout + result.stderr
    (repo.parent / "gitlab-ci-local.log").write_text(log)  # kept with the test's files
    return PipelineRun(result.returncode, log, time.monotonic() - started, repo)


def _with_node(env: Mapping[str, str]) -> str:
    """The jobs' PATH with node's directory last (gitlab-ci-local runs on node)."""
    node_dir = next((d for d in os.environ.get("PATH", "").split(os.pathsep)
                     if (Path(d) / "node").exists()), "/usr/bin")
    return f"{env.get('PATH', '')}{os.pathsep}{node_dir}"
