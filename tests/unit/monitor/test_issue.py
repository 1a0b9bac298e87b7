"""One monitoring issue per model: opened once, rewritten by later runs, found by its
hidden marker among other issues and PRs (GitHub API stand-in)."""

from modelrail.local.github_api import GitHubStandIn
from modelrail.monitor.issue import issue_marker, upsert_issue
from modelrail.plumbing.github_api import GitHubClient, Repository
from modelrail.plumbing.retry import RetryPolicy

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


def test_an_issue_someone_else_opened_with_the_marker_is_left_alone() -> None:
    with GitHubStandIn(prefix="/api/v3") as github:  # Enterprise Server: /api/graphql
        forged = f"{issue_marker('ctr-ranker')}\nall good, nothing drifted\n"
        theirs = github.seed_issue("acme/ranker", "Model monitor: ctr-ranker", forged,
                                   author="mallory")
        client = GitHubClient("ghs_tok", api_url=github.url,
                              policy=RetryPolicy(attempts=2, base_delay=0.0, timeout=5.0))

        outcome = upsert_issue(client, REPO, "ctr-ranker", "price drifted")

        issues = github.issues("acme/ranker")
        calls = [(r.method, r.path) for r in github.requests]
    assert outcome.action == "created"
    assert outcome.number != theirs
    assert calls == [("GET", "/api/v3/repos/acme/ranker/issues"), ("GET", "/api/v3/user"),
                     ("POST", "/api/graphql"), ("POST", "/api/v3/repos/acme/ranker/issues")]
    mallorys, ours = issues
    assert mallorys["body"] == forged
    assert ours["user"]["login"] == "github-actions[bot]"
