"""`modelrail local` refuses what it cannot run before it starts anything: exit 2, the
message naming the flag or the file."""

import importlib.metadata
import re
import subprocess
from pathlib import Path

import pytest
from modelrail.cli.main import main

PR_WORKFLOW = """\
on: pull_request
jobs:
  check: {uses: modelrail/modelrail/.github/workflows/pr-test.yml@v1}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "pr.yml").write_text(PR_WORKFLOW)
    for command in (["init", "-q", "-b", "main"], ["add", "-A"],
                    ["-c", "user.name=t", "-c", "user.email=t@example.invalid",
                     "commit", "-q", "-m", "x"]):
        subprocess.run(["git", *command], cwd=tmp_path, check=True)
    return tmp_path


@pytest.mark.parametrize(("argv", "message"), [
    (["local", "pr", "--number", "0"], "--number 0: a PR number is 1 or more"),
    (["local", "pr", "--base", "nope"], "--base nope: no such branch or commit"),
    (["local", "release"], "no workflow in .* runs on push and calls"),
    (["local", "pr", "--secret", "MODELRAIL_TEST_UNSET"],
     "--secret MODELRAIL_TEST_UNSET: no environment variable"),
    (["local", "pr", "--var", "novalue"], "--var 'novalue': expected NAME=VALUE"),
])
def test_what_cannot_run_is_exit_2_naming_the_flag(
        repo: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code = main([*argv, "--repo", str(repo), "--state-dir", str(repo.parent / "state")])

    assert code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (repo.parent / "state").exists()  # nothing started, nothing written


def test_a_folder_that_is_not_a_repository_is_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "pr", "--repo", str(tmp_path)]) == 2
    assert f"--repo {tmp_path}: not the top folder of a git repository" in \
        capsys.readouterr().err


def test_without_the_full_mlflow_it_says_what_to_install(
        repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """mlflow-skinny alone has no server: exit 2 naming the extra, before anything starts."""
    def absent(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", absent)
    state = repo.parent / "state"

    assert main(["local", "pr", "--repo", str(repo), "--state-dir", str(state)]) == 2
    assert "pip install 'modelrail[local]'" in capsys.readouterr().err
    assert not state.exists()
