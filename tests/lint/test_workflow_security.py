"""actionlint and zizmor (`--pedantic`) must report nothing on every workflow and action."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.paths import EXAMPLE_MODEL, REPO_ROOT

BIN = Path(sys.executable).parent


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


def test_actionlint_is_clean_on_this_repository() -> None:
    result = run([str(BIN / "actionlint"), "-color=false"], REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_is_clean_on_example_model() -> None:
    folder = EXAMPLE_MODEL / ".github" / "workflows"
    workflows = sorted(str(p) for p in folder.glob("*.yml"))
    assert workflows
    result = run([str(BIN / "actionlint"), "-color=false", *workflows], REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("target", [".", "example-model"])
def test_zizmor_finds_nothing(target: str) -> None:
    directory = REPO_ROOT / target
    # --pedantic: also the audits GitHub's defaults let pass (undocumented write
    # permissions, workflows without a concurrency limit).
    command = [str(BIN / "zizmor"), "--offline", "--pedantic", "--no-progress", "--format",
               "plain"]
    config = directory / ".github" / "zizmor.yml"
    if config.exists():
        command += ["--config", str(config)]
    result = run([*command, str(directory)], REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def _run_scripts(node: object) -> list[str]:
    """Every `run:` script in a parsed workflow or action file."""
    if isinstance(node, dict):
        found = [node["run"]] if isinstance(node.get("run"), str) else []
        return found + [s for value in node.values() for s in _run_scripts(value)]
    if isinstance(node, list):
        return [s for item in node for s in _run_scripts(item)]
    return []


def test_run_blocks_never_interpolate_expressions() -> None:
    """Inputs reach scripts through env:, never as ${{ }} inside run: text."""
    files = [*REPO_ROOT.glob(".github/workflows/*.yml"), *REPO_ROOT.glob("actions/*/action.yml"),
             REPO_ROOT / "action.yml", *REPO_ROOT.glob("example-model/.github/workflows/*.yml")]
    offenders = [
        f"{path.relative_to(REPO_ROOT)}: {script.splitlines()[0]}"
        for path in files
        for script in _run_scripts(yaml.safe_load(path.read_text()))
        if "${{" in script
    ]
    assert len(files) >= 5
    assert offenders == []
