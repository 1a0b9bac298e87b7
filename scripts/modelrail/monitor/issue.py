"""One GitHub issue per model for monitoring alarms, found again by a hidden marker and
its author (as the sticky PR comment is: an issue anyone else opened with the marker is
left alone), so a scheduled run updates it instead of opening another."""

from dataclasses import dataclass
from typing import Literal

from modelrail.plumbing.github_api import GitHubClient, Repository
from modelrail.plumbing.github_identity import own_marked
from modelrail.plumbing.runner import hidden_marker


def issue_marker(model: str) -> str:
    return hidden_marker("monitor", model)


@dataclass(frozen=True)
class IssueOutcome:
    action: Literal["created", "updated", "unchanged"]
    number: int
    url: str | None


def upsert_issue(client: GitHubClient, repo: Repository, model: str,
                 body: str) -> IssueOutcome:
    """Create the model's open monitoring issue, or rewrite the one already open."""
    marker = issue_marker(model)
    full_body = f"{marker}\n{body.rstrip()}\n"
    issues = (issue for issue in client.paginate(f"/repos/{repo}/issues?state=open")
              if "pull_request" not in issue)
    existing = own_marked(client, issues, marker)
    if existing is None:
        created = client.request("POST", f"/repos/{repo}/issues", json={
            "title": f"Model monitor: {model} drifted or degraded", "body": full_body,
        }).json()
        return IssueOutcome("created", int(created["number"]), created.get("html_url"))
    number = int(existing["number"])
    if existing.get("body") == full_body:
        return IssueOutcome("unchanged", number, existing.get("html_url"))
    updated = client.request("PATCH", f"/repos/{repo}/issues/{number}",
                             json={"body": full_body}).json()
    return IssueOutcome("updated", number, updated.get("html_url"))
