"""Which CI system modelrail runs under: GitHub Actions, GitLab CI/CD, or neither.

Each sets a variable of its own in every job: `GITHUB_ACTIONS=true` (GitHub's "Default
environment variables") and `GITLAB_CI=true` (GitLab's predefined CI/CD variables). The
runner I/O (plumbing/runner.py) writes outputs, progress and the review note the way the
one it runs under reads them, and nothing at all on a laptop.
"""

import os
from typing import Literal

Platform = Literal["github", "gitlab", "local"]


def current_platform() -> Platform:
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    if os.environ.get("GITLAB_CI") == "true":
        return "gitlab"
    return "local"
