"""One monitoring issue per model: opened once, rewritten by later runs, found by its
hidden marker among other issues and PRs (GitHub API stand-in)."""

from modelrail.monitor.issue import issue_marker, upsert_issue
from modelrail.plumbing.github_api import GitHubClient, Repository
from modelrail.plumbing.retry import RetryPolicy

from tests.support.standins.github import GitHubStandIn

REPO = Repository("acme", "ranker")


def test_opened_once_then_updated_then_unchanged() -> None:
    with GitHubStandIn() as github:
        client = GitHubClient("tok", api_url=github.url,
                              policy=RetryPolicy(attempts=2, base_delay=0.0, timeout=5.0))
        github.fail_next(1, "GET")  # a 500 on the first lookup is retried
        first = upsert_issue(client, REPO, "ctr-ranker", "price drifted")
        other = upsert_issue(client, REPO, "other-model", "all good")
        second = upsert_issue(client, REPO, "ctr-ranker", "price drifted more")
        third = upsert_issue(client, REPO, "ctr-ranker", "price drifted more")
        issues = github.issues("acme/ranker")
    assert (first.action, second.action, third.action) == ("created", "updated", "unchanged")
    assert first.number == second.number == third.number != other.number
    assert len(issues) == 2
    mine = next(i for i in issues if i["number"] == first.number)
    assert mine["body"] == f"{issue_marker('ctr-ranker')}\nprice drifted more\n"
    assert mine["title"] == "Model monitor: ctr-ranker drifted or degraded"
