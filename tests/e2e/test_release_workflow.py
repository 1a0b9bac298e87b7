"""modelrail's own release.yml under act: in a scratch clone of this repository (at HEAD,
with a bare `origin` on disk), a maintainer moves the Unreleased entries under `## [1.0.0]`,
tags v1.0.0 on main and pushes the tag. The run builds the package from the tag (hatch-vcs,
hash-locked), then moves `v1` on origin and creates the GitHub release (the stand-in).
The refusals are unit tests (tests/unit/test_release.py)."""

from pathlib import Path

import pytest
from modelrail.local.act import git
from modelrail.local.github_api import GitHubStandIn
from modelrail.local.workbench import Workbench

from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.e2e

REPOSITORY = "modelrail/modelrail"
TOKEN = "ghs_release-e2e"  # the stand-in's
FIRST_ENTRY = "- The release workflow's own e2e entry."


def scratch_clone(tmp_path: Path) -> tuple[Path, Path]:
    """This repository at HEAD, without its tags, pushed to a bare origin as main."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    repo = tmp_path / "modelrail"
    git(tmp_path, "clone", "-q", "--no-tags", str(REPO_ROOT), str(repo))
    git(repo, "checkout", "-q", "-B", "main")
    git(repo, "remote", "set-url", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    return repo, origin


def cut_release(repo: Path, version: str) -> str:
    """The maintainer's steps (CONTRIBUTING.md): the CHANGELOG section, a commit on main,
    the tag, both pushed; returns the tagged commit."""
    changelog = repo / "CHANGELOG.md"
    text = changelog.read_text()
    assert "## [Unreleased]\n" in text
    changelog.write_text(text.replace(
        "## [Unreleased]\n", f"## [Unreleased]\n\n## [{version}] - 2026-12-06\n\n"
        f"{FIRST_ENTRY}\n", 1))
    git(repo, "commit", "-q", "-am", f"Release {version}")
    git(repo, "tag", f"v{version}")
    git(repo, "push", "-q", "origin", "main", f"v{version}")
    return git(repo, "rev-parse", "HEAD")


def test_a_tag_on_main_moves_the_major_tag_and_creates_the_release(
        tmp_path: Path, python_env: Path, github: GitHubStandIn) -> None:
    repo, origin = scratch_clone(tmp_path)
    commit = cut_release(repo, "1.0.0")
    bench = Workbench(repo, python_env, mlflow_url="", github_url=github.url,
                      repository=REPOSITORY, github_token=TOKEN, runs=tmp_path / "runs")

    run = bench.push(repo, ".github/workflows/release.yml", ref="refs/tags/v1.0.0")

    assert run.returncode == 0, run.log[-4000:]
    assert run.job_results() == {"Release/verify": "succeeded",
                                 "Release/publish": "succeeded"}
    assert run.outputs("verify")["version"] == "1.0.0"  # what hatch-vcs built at the tag
    assert git(origin, "rev-parse", "refs/tags/v1^{commit}") == commit
    (release,) = github.releases(REPOSITORY)
    assert release["tag_name"] == "v1.0.0"
    notes = release["body"]
    assert notes.startswith(FIRST_ENTRY)
    assert "Everything so far; the first release will be `v1.0.0`." in notes
    assert "## [" not in notes
    (post,) = github.requests_by("POST")
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
