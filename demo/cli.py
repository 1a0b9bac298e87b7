"""The modelrail CLI as the demo's analysis stages run it: the venv's `modelrail` with
example-model's policy, its `--json` result read back."""

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.paths import EXAMPLE_MODEL

POLICY = EXAMPLE_MODEL / "modelrail.yaml"


def modelrail(args: list[str], out: Path,
              env: Mapping[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """Run the CLI with example-model's policy (`env`: variables added to this process's);
    its exit code and its --json result. Its output is shown only when it failed to run
    (exit code other than 0 or 1)."""
    done = subprocess.run([str(Path(sys.executable).parent / "modelrail"), *args,
                           "--config", str(POLICY), "--json", str(out), "--no-summary"],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})
    if done.returncode not in (0, 1):
        print(done.stdout.rstrip(), done.stderr.rstrip(), sep="\n")
    return done.returncode, json.loads(out.read_text()) if out.exists() else {}
