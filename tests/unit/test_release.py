"""scripts/release.py refuses, before anything moves, every release it must not make: a tag
not on main, a CHANGELOG without the version's section, a build of another version, a
major tag that would go backwards. Real git repositories (a clone and a bare origin); the
GitHub API is the stand-in. The whole run under act is tests/e2e/test_release_workflow.py."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import release
from modelrail.local.act import git
from modelrail.local.github_api import GitHubStandIn

REPOSITORY = "modelrail/modelrail"
CHANGELOG = """# Changelog

## [Unreleased]

## [1.1.0] - 2026-12-06

### Added

- Second.

## [1.0.1] - 2026-12-01

- A fix.

## [1.0.0] - 2026-11-30

- First.

[1.1.0]: https://github.com/modelrail/modelrail/releases/tag/v1.1.0
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A clone whose origin (bare, on disk) has main at a commit with CHANGELOG.md."""
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(clone))
    git(clone, "checkout", "-q", "-b", "main")
    (clone / "CHANGELOG.md").write_text(CHANGELOG)
    commit(clone, "changelog")
    git(clone, "push", "-q", "origin", "main")
    return clone


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        monkeypatch.setenv("GITHUB_API_URL", standin.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
        monkeypatch.setenv("GITHUB_TOKEN", "ghs_unit")
        yield standin


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def push_tag(repo: Path, name: str, at: str = "HEAD") -> None:
    git(repo, "tag", "-f", name, at)
    git(repo, "push", "-q", "--force", "origin", f"refs/tags/{name}")


def run(repo: Path, command: str, tag: str, built: str) -> int:
    return release.main([command, "--tag", tag, "--built-version", built, "--repo", str(repo)])


def origin_tag(repo: Path, name: str) -> str:
    return git(repo, "ls-remote", "origin", f"refs/tags/{name}").split("\t")[0]


def test_a_tag_on_main_with_its_section_and_version_passes(repo: Path) -> None:
    push_tag(repo, "v1.1.0")

    assert run(repo, "check", "v1.1.0", "1.1.0") == 0
    assert origin_tag(repo, "v1") == ""  # check moves nothing


@pytest.mark.parametrize("tag", ["v1.1", "1.1.0", "v1.1.0-rc1", "v01.1.0", "v1"])
def test_a_tag_that_is_not_major_minor_patch_is_a_usage_error(
        tmp_path: Path, tag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "check", tag, "1.1.0") == 2
    assert "--tag" in capsys.readouterr().err


def test_a_tag_not_on_main_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "checkout", "-q", "-b", "side")
    commit(repo, "never merged")
    push_tag(repo, "v1.1.0")

    assert run(repo, "check", "v1.1.0", "1.1.0") == 1
    assert "is not on origin/main" in capsys.readouterr().err


def test_a_commit_merged_locally_but_not_pushed_to_main_is_refused(repo: Path) -> None:
    """The check reads the remote's main, not the checkout's."""
    commit(repo, "local only")
    push_tag(repo, "v1.1.0")

    assert run(repo, "check", "v1.1.0", "1.1.0") == 1


def test_a_version_without_its_changelog_section_is_refused(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    push_tag(repo, "v1.2.0")

    assert run(repo, "check", "v1.2.0", "1.2.0") == 1
    assert "no `## [1.2.0]` section" in capsys.readouterr().err


def test_a_build_of_another_version_is_refused(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    push_tag(repo, "v1.1.0")

    assert run(repo, "check", "v1.1.0", "1.1.1.dev1+g1234567") == 1
    assert "has version '1.1.1.dev1+g1234567', not '1.1.0'" in capsys.readouterr().err


def test_the_major_tag_never_moves_back_to_an_older_version(
        repo: Path, github: GitHubStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    older = git(repo, "rev-parse", "HEAD")
    newer = commit(repo, "1.1.0")
    git(repo, "push", "-q", "origin", "main")
    push_tag(repo, "v1.1.0")
    push_tag(repo, "v1")
    push_tag(repo, "v1.0.1", at=older)

    assert run(repo, "publish", "v1.0.1", "1.0.1") == 1
    assert "v1.1.0 is newer than v1.0.1" in capsys.readouterr().err
    assert origin_tag(repo, "v1") == newer
    assert github.releases(REPOSITORY) == []


def test_the_major_tag_never_moves_off_its_own_history(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No higher version tag, but v1 is on a commit the release does not contain."""
    base = git(repo, "rev-parse", "HEAD")
    ahead = commit(repo, "ahead")
    git(repo, "push", "-q", "origin", "main")
    push_tag(repo, "v1", at=ahead)
    push_tag(repo, "v1.1.0", at=base)

    assert run(repo, "check", "v1.1.0", "1.1.0") == 1
    assert "not an ancestor" in capsys.readouterr().err


def test_publish_moves_only_the_major_tag_and_posts_the_section(
        repo: Path, github: GitHubStandIn) -> None:
    first = git(repo, "rev-parse", "HEAD")
    push_tag(repo, "v1.0.0")
    push_tag(repo, "v1")
    second = commit(repo, "1.1.0")
    git(repo, "push", "-q", "origin", "main")
    git(repo, "tag", "-a", "-m", "modelrail 1.1.0", "v1.1.0")  # annotated, as CONTRIBUTING says
    git(repo, "push", "-q", "origin", "v1.1.0")

    assert run(repo, "publish", "v1.1.0", "1.1.0") == 0

    assert origin_tag(repo, "v1") == second
    assert origin_tag(repo, "v1.0.0") == first
    (created,) = github.releases(REPOSITORY)
    assert created["tag_name"] == "v1.1.0"
    assert created["body"] == "### Added\n\n- Second."


def test_the_last_section_stops_at_the_link_definitions() -> None:
    assert release.release_notes(CHANGELOG, (1, 0, 0)) == "- First."


def test_an_empty_section_is_refused() -> None:
    with pytest.raises(release.RefusedError, match="section is empty"):
        release.release_notes("## [2.0.0]\n\n## [1.0.0]\n\n- First.\n", (2, 0, 0))


def test_a_release_that_exists_already_is_refused(
        repo: Path, github: GitHubStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    push_tag(repo, "v1.1.0")
    assert run(repo, "publish", "v1.1.0", "1.1.0") == 0

    assert run(repo, "publish", "v1.1.0", "1.1.0") == 1
    assert "already_exists" in capsys.readouterr().err
    assert len(github.releases(REPOSITORY)) == 1


def test_an_api_that_keeps_failing_exits_3_after_bounded_retries(
        repo: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(release, "RETRY_PAUSE_SECONDS", 0.0)
    github.always_fail()
    push_tag(repo, "v1.1.0")

    assert run(repo, "publish", "v1.1.0", "1.1.0") == 3
    assert "failed 3 times" in capsys.readouterr().err
    assert len(github.requests_by("POST")) == release.API_ATTEMPTS


def test_a_missing_token_names_the_variable(
        repo: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    push_tag(repo, "v1.1.0")

    assert run(repo, "publish", "v1.1.0", "1.1.0") == 2
    assert "GITHUB_TOKEN is not set" in capsys.readouterr().err


def test_a_tag_the_checkout_does_not_have_is_a_usage_error(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(repo, "check", "v1.1.0", "1.1.0") == 2
    assert "--tag: v1.1.0 is not a tag of this checkout" in capsys.readouterr().err


@pytest.mark.parametrize(("payload", "field"), [
    ({"name": "no tag"}, "tag_name"),
    ({"tag_name": "v1.1.0", "draft": "no"}, "draft"),
    ({"tag_name": "v1.1.0", "make_latest": "yes"}, "make_latest"),
    ({"tag_name": "v1.1.0", "generate_release_notes": True}, "generate_release_notes"),
])
def test_the_standin_rejects_a_release_it_cannot_follow(
        github: GitHubStandIn, payload: dict[str, object], field: str) -> None:
    """Stricter than GitHub where unsure: a field the stand-in does not model is a 422 too."""
    status, answer = release.post_json(f"{github.url}/repos/{REPOSITORY}/releases", "ghs_unit",
                                       payload)

    assert (status, answer["errors"]) == (
        422, [{"resource": "Release", "code": "missing_field" if field == "tag_name"
               else "invalid", "field": field}])
    assert github.releases(REPOSITORY) == []
