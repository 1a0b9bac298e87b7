"""Run this repository's workflows with `act`, the way GitHub would resolve them.

GitHub resolves `uses: $/actions/x` to this repository at the running commit; act 0.2.89
does not know `$/`. So the harness copies the checkout, rewrites `$/<path>` to
`<owner>/modelrail/<path>@<ref>`, and maps that ref to the copy with --local-repository.
Third-party actions that would need the network are mapped to stand-ins in
tests/e2e/standins.
"""

import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO_ROOT

OWNER_REPO = "modelrail/modelrail"
REF = "v1"
STANDINS = REPO_ROOT / "tests" / "e2e" / "standins"
# owner/repo@sha as pinned in the workflows -> stand-in folder
STANDIN_PINS = {
    "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97": "setup-python",
    "actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae": "cache",
    # buildah instead of a Docker engine: a real build, push and registry digest.
    "docker/setup-buildx-action@37fe631027851001ddb9b187196cc803df7f5f0e": "setup-buildx",
    "docker/login-action@4907a6ddec9925e35a0a9e82d7399ccc52663121": "login",
    "docker/build-push-action@53b7df96c91f9c12dcc8a07bcb9ccacbed38856a": "build-push",
    "actions/attest-build-provenance@a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32":
        "attest-build-provenance",
    # act's artifact server rejects upload-artifact v7 (nektos/act#6114): copy to a folder.
    "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f": "upload-artifact",
    "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c": "download-artifact",
    "docker/setup-qemu-action@96fe6ef7f33517b61c61be40b68a1882f3264fb8": "setup-qemu",
    # Sigstore is unreachable: a `cosign` shim that records what it was asked to sign.
    "sigstore/cosign-installer@6f9f17788090df1f26f669e9d70d6ae9567deba6": "cosign-installer",
}
_SELF_REF = re.compile(r"(uses:\s*)\$/([^\s#]+)")
_COPY_IGNORE = shutil.ignore_patterns(
    ".git", "__pycache__", ".venv", ".demo", ".mypy_cache", ".ruff_cache", ".pytest_cache",
    "*.egg-info", "data", "models",
)


def resolve_self_refs(text: str, owner_repo: str = OWNER_REPO, ref: str = REF) -> str:
    """`uses: $/actions/x` -> `uses: owner/repo/actions/x@ref`, as GitHub resolves it."""
    return _SELF_REF.sub(lambda m: f"{m.group(1)}{owner_repo}/{m.group(2)}@{ref}", text)


def checkout_as_action_repo(destination: Path) -> Path:
    """A copy of this checkout with `$/` references resolved, for --local-repository."""
    shutil.copytree(REPO_ROOT, destination, ignore=_COPY_IGNORE)
    for path in [*destination.glob(".github/workflows/*.yml"),
                 *destination.glob("actions/*/action.yml")]:
        path.write_text(resolve_self_refs(path.read_text()))
    return destination


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=modelrail-e2e", "-c", "user.email=e2e@example.invalid",
         "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    )
    return result.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass
class ActRun:
    returncode: int
    log: str
    seconds: float = 0.0

    def outputs(self, job: str | None = None, *, first: bool = False) -> dict[str, str]:
        """Step outputs act reported (`::set-output:: name=value`), optionally of one job;
        a name set by several steps keeps its last value, or its first with `first`."""
        found: dict[str, str] = {}
        for line in self.log.splitlines():
            match = re.match(r"\[([^\]]+)\]\s+⚙\s+::set-output:: ([\w-]+)=(.*)$", line)
            if match and (job is None or match.group(1).strip().endswith(job)) \
                    and not (first and match.group(2) in found):
                found[match.group(2)] = match.group(3)
        return found

    def summary(self, job: str | None = None) -> str:
        """Job-summary Markdown act echoed (`⚙  Summary - ` and its continuation lines)."""
        collected: list[str] = []
        inside = False
        for line in self.log.splitlines():
            match = re.match(r"\[([^\]]+)\]\s+⚙  Summary - (.*)$", line)
            if match:
                inside = job is None or match.group(1).strip().endswith(job)
                if inside:
                    collected.append(match.group(2))
            elif line.startswith("["):
                inside = False
            elif inside:
                collected.append(line)
        return "\n".join(collected)

    def job_result(self, job: str) -> str | None:
        """`succeeded` or `failed` for the job whose display name ends with `job`."""
        for line in self.log.splitlines():
            match = re.match(r"\[([^\]]+)\]\s+🏁\s+Job (succeeded|failed)", line)
            if match and match.group(1).strip().endswith(job):
                return match.group(2)
        return None


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
) -> list[str]:
    """The act command line that runs one workflow on this host (self-hosted platform)."""
    act = Path(sys.executable).parent / "act"
    command = [str(act), event_name, "-W", workflow, "-P", "ubuntu-latest=-self-hosted",
               "--local-repository", f"{OWNER_REPO}@{REF}={action_repo}"]
    for pin, folder in STANDIN_PINS.items():
        command += ["--local-repository", f"{pin}={STANDINS / folder}"]
    if event_path is not None:
        command += ["-e", str(event_path)]
    for flag, values in (("--env", env), ("--var", variables), ("-s", secrets),
                         ("--input", inputs)):
        for key, value in (values or {}).items():
            command += [flag, f"{key}={value}"]
    return command + list(extra)


def run_act(repo: Path, command: Sequence[str], timeout: float = 900) -> ActRun:
    """Run an `act_command` in `repo` to the end."""
    result = subprocess.run(list(command), cwd=repo, capture_output=True, text=True,
                            timeout=timeout, check=False)
    return ActRun(result.returncode, result.stdout + result.stderr)
