"""The package's layering, as `pyproject.toml`'s import-linter contracts state it.

A broken contract fails `make test`; the second test proves the check can fail by
adding one upward import to a copy of the package.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACTS = ("layers", "commands", "features", "monitor", "acyclic")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(REPO_ROOT / "pyproject.toml")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_every_contract_is_kept() -> None:
    result = lint_imports(REPO_ROOT / "scripts")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "scripts" / "modelrail", tmp_path / "modelrail")
    redact = tmp_path / "modelrail" / "plumbing" / "redact.py"
    redact.write_text(redact.read_text() + "\nfrom modelrail.cli import main  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "above the features above render and plumbing BROKEN" in result.stdout
    assert "modelrail.plumbing.redact -> modelrail.cli" in result.stdout
