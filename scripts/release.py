"""Checks a modelrail release tag and publishes it: what .github/workflows/release.yml runs.

    python scripts/release.py check   --tag v1.2.3 --built-version 1.2.3
    python scripts/release.py publish --tag v1.2.3 --built-version 1.2.3

Both refuse (exit 1, nothing changed) unless the tag is `vMAJOR.MINOR.PATCH`, its commit is
on the remote's main, CHANGELOG.md has a non-empty `## [MAJOR.MINOR.PATCH]` section, the
package built from the commit has that version (`--built-version`, what
scripts/install-modelrail.sh printed), and the major tag `vMAJOR` would move forward: no
higher `vMAJOR.*.*` tag exists and `vMAJOR`'s commit is an ancestor of this one.
`publish` then force-pushes `vMAJOR` alone (with a lease on its old commit) and creates the
GitHub release with the CHANGELOG section as its notes (POST /repos/{owner}/{repo}/releases).

It runs in the job's checkout (full history) and reads GITHUB_TOKEN, GITHUB_API_URL,
GITHUB_REPOSITORY and GITHUB_SERVER_URL from the environment, as a workflow sets them.
Exit codes follow docs/exit-codes.md: 1 refused (a failed git fetch or push too: nothing
is released), 2 bad input, 3 the GitHub API unreachable after bounded retries.
Standard library only: it must not depend on the package it releases.
"""

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

TAG = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
RELEASE_DOCS = "https://docs.github.com/rest/releases/releases#create-a-release"
API_ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 2.0  # times the attempt number
Version = tuple[int, int, int]


class RefusedError(Exception):
    """A release check said no (exit 1)."""


class UsageError(Exception):
    """Bad input: the message names the flag or variable (exit 2)."""


class ServiceDownError(Exception):
    """The GitHub API kept failing after bounded retries (exit 3)."""


@dataclass(frozen=True)
class Release:
    """A checked release: what `publish` pushes and posts."""

    tag: str
    commit: str
    notes: str
    major_tag: str
    major_was: str | None  # the major tag's commit before the move; None when new


def parse_tag(tag: str) -> Version:
    match = TAG.match(tag)
    if match is None:
        raise UsageError(f"--tag: {tag!r} is not vMAJOR.MINOR.PATCH (e.g. v1.0.0)")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def dotted(version: Version) -> str:
    return ".".join(map(str, version))


def release_notes(changelog: str, version: Version) -> str:
    """The text of the `## [X.Y.Z]` section (Keep a Changelog), up to the next `## `
    heading or the link definitions at the end."""
    heading = re.compile(rf"^## \[{re.escape(dotted(version))}\](?:\s|$)")
    lines = changelog.splitlines()
    start = next((i for i, line in enumerate(lines) if heading.match(line)), None)
    if start is None:
        raise RefusedError(f"CHANGELOG.md has no `## [{dotted(version)}]` section: move the "
                           "Unreleased entries under it before tagging")
    section: list[str] = []
    for line in lines[start + 1:]:
        if line.startswith("## ") or re.match(r"^\[[^\]]+\]:\s", line):
            break
        section.append(line)
    notes = "\n".join(section).strip()
    if not notes:
        raise RefusedError(f"CHANGELOG.md's `## [{dotted(version)}]` section is empty")
    return notes


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                            check=False, env=env)
    if result.returncode != 0:
        raise RefusedError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def is_ancestor(repo: Path, ancestor: str, commit: str) -> bool:
    done = subprocess.run(["git", "merge-base", "--is-ancestor", ancestor, commit], cwd=repo,
                          capture_output=True, check=False)
    return done.returncode == 0


def remote_tags(repo: Path, remote: str) -> dict[str, str]:
    """Tag name -> commit on the remote (annotated tags peeled)."""
    tags: dict[str, str] = {}
    for line in git(repo, "ls-remote", "--tags", remote).splitlines():
        sha, ref = line.split("\t")
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            tags[name[:-3]] = sha
        else:
            tags.setdefault(name, sha)
    return tags


def check_on_main(repo: Path, commit: str, remote: str, branch: str) -> None:
    tracking = f"refs/remotes/{remote}/{branch}"
    git(repo, "fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{tracking}")
    if not is_ancestor(repo, commit, tracking):
        raise RefusedError(f"the tag's commit {commit[:12]} is not on {remote}/{branch}: "
                           f"release only commits that were merged to {branch}")


def check_major_move(repo: Path, version: Version, commit: str,
                     tags: dict[str, str]) -> tuple[str, str | None]:
    """The major tag and its current commit, unless moving it here would go backwards."""
    major_tag = f"v{version[0]}"
    newer = sorted((parsed, name) for name in tags
                   if TAG.match(name) and (parsed := parse_tag(name))[0] == version[0]
                   and parsed > version)
    if newer:
        raise RefusedError(f"{major_tag} stays where it is: {newer[-1][1]} is newer than "
                           f"v{dotted(version)}")
    current = tags.get(major_tag)
    if current is not None and not is_ancestor(repo, current, commit):
        raise RefusedError(f"{major_tag} is at {current[:12]}, which is not an ancestor of "
                           f"{commit[:12]}: moving it would take commits away from its users")
    return major_tag, current


def verify(repo: Path, tag: str, built_version: str, remote: str = "origin",
           branch: str = "main") -> Release:
    """Every check, in the order a maintainer would fix them; raises on the first no."""
    version = parse_tag(tag)
    try:
        commit = git(repo, "rev-parse", "--verify", f"{tag}^{{commit}}")
    except RefusedError as missing:
        raise UsageError(f"--tag: {tag} is not a tag of this checkout") from missing
    tags = remote_tags(repo, remote)
    if tags.get(tag, commit) != commit:
        raise RefusedError(f"{tag} is at {tags[tag][:12]} on {remote}, not at {commit[:12]}")
    check_on_main(repo, commit, remote, branch)
    notes = release_notes((repo / "CHANGELOG.md").read_text(encoding="utf-8"), version)
    if built_version != dotted(version):
        raise RefusedError(f"the package built from {tag} has version {built_version!r}, not "
                           f"{dotted(version)!r}: is the tag on the commit that was built?")
    major_tag, major_was = check_major_move(repo, version, commit, tags)
    return Release(tag, commit, notes, major_tag, major_was)


def required_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise UsageError(f"{name} is not set: the workflow passes it through env:")
    return value


@dataclass(frozen=True)
class GitHub:
    """Where `publish` writes, from the job's environment (read before anything moves)."""

    token: str
    api_url: str
    repository: str
    server_url: str

    @classmethod
    def from_env(cls) -> "GitHub":
        return cls(required_env("GITHUB_TOKEN"), required_env("GITHUB_API_URL").rstrip("/"),
                   required_env("GITHUB_REPOSITORY"),
                   os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/"))


def move_major_tag(repo: Path, release: Release, remote: str, github: GitHub) -> None:
    """Force-push the one major tag, leased on its old commit (a concurrent move fails)."""
    basic = base64.b64encode(f"x-access-token:{github.token}".encode()).decode()
    # As actions/checkout authenticates: an extra header, kept out of argv and .git/config.
    env = {**os.environ, "GIT_CONFIG_COUNT": "1",
           "GIT_CONFIG_KEY_0": f"http.{github.server_url}/.extraheader",
           "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}"}
    ref = f"refs/tags/{release.major_tag}"
    git(repo, "push", f"--force-with-lease={ref}:{release.major_was or ''}", remote,
        f"{release.commit}:{ref}", env=env)


def post_json(url: str, token: str, payload: dict[str, object]) -> tuple[int, dict[str, object]]:
    """POST with bounded retries on 5xx and connection errors; (status, JSON answer)."""
    request = urllib.request.Request(  # noqa: S310 - GITHUB_API_URL, an https API
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                 "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json"})
    problem = ""
    for attempt in range(API_ATTEMPTS):
        if attempt:
            time.sleep(RETRY_PAUSE_SECONDS * attempt)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return error.code, json.loads(error.read() or b"{}")
            problem = f"HTTP {error.code}"
        except (urllib.error.URLError, TimeoutError) as error:
            problem = str(getattr(error, "reason", error))
    raise ServiceDownError(f"POST {url} failed {API_ATTEMPTS} times (last: {problem})")


def create_release(release: Release, github: GitHub) -> str:
    """The GitHub release for the tag, with the CHANGELOG section as its notes; its URL."""
    status, answer = post_json(
        f"{github.api_url}/repos/{github.repository}/releases", github.token,
        {"tag_name": release.tag, "name": release.tag, "body": release.notes,
         "draft": False, "prerelease": False, "make_latest": "true"})
    if status != 201:
        raise RefusedError(f"GitHub did not create the release of {release.tag} (HTTP "
                           f"{status}: {answer.get('message')} {answer.get('errors', '')}); "
                           f"see {RELEASE_DOCS}")
    return str(answer.get("html_url", ""))


def run(command: str, tag: str, built_version: str, repo: Path, remote: str) -> None:
    github = GitHub.from_env() if command == "publish" else None
    release = verify(repo, tag, built_version, remote)
    print(f"{tag} at {release.commit[:12]} can be released; "
          f"{release.major_tag} moves from {(release.major_was or 'nowhere')[:12]}")
    if github is not None:
        move_major_tag(repo, release, remote, github)
        print(f"moved {release.major_tag} to {release.commit[:12]}")
        print(f"created the release of {tag}: {create_release(release, github)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["check", "publish"])
    parser.add_argument("--tag", required=True, help="the pushed tag, vMAJOR.MINOR.PATCH")
    parser.add_argument("--built-version", required=True,
                        help="the version of the package built from the tag's commit")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="the checkout")
    parser.add_argument("--remote", default="origin")
    args = parser.parse_args(argv)
    try:
        run(args.command, args.tag, args.built_version, args.repo, args.remote)
    except RefusedError as refused:
        print(f"release refused: {refused}", file=sys.stderr)
        return 1
    except UsageError as error:
        print(f"release: {error}", file=sys.stderr)
        return 2
    except ServiceDownError as down:
        print(f"release: GitHub API unreachable: {down}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
