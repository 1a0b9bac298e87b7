"""The demo's `modelrail local` stage: a second model repository (a churn classifier,
log_loss lower-is-better, dev → staging → prod) taken through its own workflows with the
commands a user runs in their repository."""

import shlex
import subprocess
import sys
from pathlib import Path

from tests.support.labs.churn_model import churn_repo, commit_degraded_change, local_state

MODELRAIL = Path(sys.executable).parent / "modelrail"


def local(repo: Path, state: Path, *args: str) -> int:
    """`modelrail local ARGS` in `repo`, its output shown as is; its exit code."""
    print(f"\n$ modelrail local {shlex.join(args)}", flush=True)
    return subprocess.run([str(MODELRAIL), "local", *args, "--state-dir", str(state)],
                          cwd=repo, check=False).returncode


def local_stage(work: Path) -> bool:
    """Release and promote the churn model to prod, then a degraded PR is stopped."""
    work.mkdir(parents=True)
    repo = churn_repo(work / "churn", Path(sys.prefix))
    state = local_state(work / "state", Path(sys.prefix))
    shipped = all(code == 0 for code in (
        local(repo, state, "release", "--runner", "ml"),
        local(repo, state, "promote", "staging", "--reason", "demo: QA passed"),
        local(repo, state, "promote", "prod", "--reason", "demo: ship it")))
    commit_degraded_change(repo, "fewer-features")
    return shipped and local(repo, state, "pr", "--number", "1") == 1
