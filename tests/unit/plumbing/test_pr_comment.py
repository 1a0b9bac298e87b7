"""The sticky PR comment against a local stand-in of GitHub's REST API."""

from collections.abc import Iterator

import pytest
import requests
from modelrail.errors import ExitCode, ServiceError
from modelrail.local.github_api import DENIED_MESSAGE, GitHubStandIn
from modelrail.local.loopback import RecordedRequest
from modelrail.local.processes import free_port
from modelrail.plumbing.github_api import GitHubClient, Repository
from modelrail.plumbing.github_identity import authored_by, graphql_url
from modelrail.plumbing.retry import RetryPolicy
from modelrail.plumbing.runner import comment_marker, upsert_sticky_comment

TOKEN = "ghs_unitTestToken0123456789abcdef"
REPO = Repository("acme", "ranker")
PR = 7
COMMENTS_PATH = f"/repos/{REPO}/issues/{PR}/comments"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, timeout=5.0)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    monkeypatch.delenv("MODELRAIL_GITHUB_LOGIN", raising=False)


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        yield standin


@pytest.fixture
def client(github: GitHubStandIn) -> GitHubClient:
    return GitHubClient(TOKEN, api_url=github.url, policy=FAST)


def expected_body(key: str, body: str) -> str:
    return f"{comment_marker(key)}\n{body}\n"


WHO_AM_I = [("GET", "/user"), ("POST", "/graphql")]  # installation token: 403, then GraphQL


def calls(github: GitHubStandIn) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in github.requests]


def comment_writes(github: GitHubStandIn, method: str) -> list[RecordedRequest]:
    return [r for r in github.requests_by(method) if r.path.startswith("/repos/")]


def test_marker_is_a_hidden_html_comment_naming_the_key() -> None:
    assert comment_marker("ranker") == "<!-- modelrail:pr-report ranker -->"


def test_first_call_creates_the_comment_with_the_marker_first(
    github: GitHubStandIn, client: GitHubClient
) -> None:
    outcome = upsert_sticky_comment(client, REPO, PR, "ranker", "### gate passed\n\n")

    assert outcome.action == "created"
    posts = github.requests_by("POST")
    assert len(posts) == 1
    assert posts[0].path == COMMENTS_PATH
    assert posts[0].json == {"body": "<!-- modelrail:pr-report ranker -->\n### gate passed\n"}
    assert posts[0].json["body"].startswith("<!-- modelrail:pr-report ranker -->\n")
    [comment] = github.comments(str(REPO), PR)
    assert outcome.url == comment["html_url"]
    gets = github.requests_by("GET")
    assert [g.path for g in gets] == [COMMENTS_PATH]
    assert gets[0].query == {"per_page": "100"}


def test_second_call_with_a_new_body_patches_the_same_comment(
    github: GitHubStandIn, client: GitHubClient
) -> None:
    upsert_sticky_comment(client, REPO, PR, "ranker", "old report")
    [created] = github.comments(str(REPO), PR)
    github.clear_requests()

    outcome = upsert_sticky_comment(client, REPO, PR, "ranker", "new report")

    assert outcome.action == "updated"
    assert outcome.url == created["html_url"]
    assert calls(github) == [("GET", COMMENTS_PATH), *WHO_AM_I,
                             ("PATCH", f"/repos/{REPO}/issues/comments/{created['id']}")]
    [patch] = github.requests_by("PATCH")
    assert patch.path == f"/repos/{REPO}/issues/comments/{created['id']}"
    assert patch.json == {"body": expected_body("ranker", "new report")}
    [comment] = github.comments(str(REPO), PR)
    assert comment["id"] == created["id"]
    assert comment["body"] == expected_body("ranker", "new report")


def test_same_body_again_is_unchanged_and_writes_nothing(
    github: GitHubStandIn, client: GitHubClient
) -> None:
    upsert_sticky_comment(client, REPO, PR, "ranker", "report")
    github.clear_requests()

    outcome = upsert_sticky_comment(client, REPO, PR, "ranker", "report\n")

    assert outcome.action == "unchanged"
    assert outcome.url == github.comments(str(REPO), PR)[0]["html_url"]
    assert calls(github) == [("GET", COMMENTS_PATH), *WHO_AM_I]
    assert len(github.comments(str(REPO), PR)) == 1


def test_marker_found_on_page_two_of_150_comments(
    github: GitHubStandIn, client: GitHubClient
) -> None:
    bodies = [f"review comment {i}" for i in range(150)]
    bodies[3] = f"{comment_marker('ranker-v2')}\nanother model's report"  # similar key
    bodies[120] = expected_body("ranker", "stale report")
    ids = github.seed(str(REPO), PR, bodies)

    outcome = upsert_sticky_comment(client, REPO, PR, "ranker", "fresh report")

    assert outcome.action == "updated"
    gets = [g for g in github.requests_by("GET") if g.path == COMMENTS_PATH]
    assert [g.query.get("page") for g in gets] == [None, "2"]  # followed Link rel="next"
    assert calls(github)[2:4] == WHO_AM_I  # asked once, after the listing
    assert comment_writes(github, "POST") == []
    [patch] = github.requests_by("PATCH")
    assert patch.path == f"/repos/{REPO}/issues/comments/{ids[120]}"
    after = github.comments(str(REPO), PR)
    assert len(after) == 150
    assert after[120]["body"] == expected_body("ranker", "fresh report")
    assert after[3]["body"] == bodies[3]


def test_standin_link_header_paginates_like_github(github: GitHubStandIn) -> None:
    """The stand-in itself: per_page/page slicing and rel="next" until the last page."""
    github.seed(str(REPO), PR, [f"c{i}" for i in range(5)])
    client = GitHubClient(TOKEN, api_url=github.url, policy=FAST)

    items = list(client.paginate(COMMENTS_PATH, per_page=2))

    assert [c["body"] for c in items] == [f"c{i}" for i in range(5)]
    assert [g.query for g in github.requests_by("GET")] == [
        {"per_page": "2"}, {"per_page": "2", "page": "2"}, {"per_page": "2", "page": "3"}]


def test_each_model_key_gets_its_own_comment(
    github: GitHubStandIn, client: GitHubClient
) -> None:
    upsert_sticky_comment(client, REPO, PR, "ranker", "ranker report")
    outcome = upsert_sticky_comment(client, REPO, PR, "scorer", "scorer report")
    assert outcome.action == "created"

    upsert_sticky_comment(client, REPO, PR, "ranker", "ranker report v2")

    ranker, scorer = github.comments(str(REPO), PR)
    assert ranker["body"] == expected_body("ranker", "ranker report v2")
    assert scorer["body"] == expected_body("scorer", "scorer report")
    assert len(comment_writes(github, "POST")) == 2
    [patch] = github.requests_by("PATCH")
    assert patch.path.endswith(f"/comments/{ranker['id']}")


def test_403_on_create_is_skipped_with_a_reason(
    github: GitHubStandIn, client: GitHubClient
) -> None:
    github.deny_writes()

    outcome = upsert_sticky_comment(client, REPO, PR, "ranker", "report")

    assert outcome.action == "skipped"
    assert outcome.url is None
    assert "403" in outcome.reason
    assert DENIED_MESSAGE in outcome.reason
    assert f"#{PR}" in outcome.reason
    assert len(github.requests_by("POST")) == 1  # a 403 is not retried
    assert github.comments(str(REPO), PR) == []


def test_403_on_update_is_skipped_and_leaves_the_comment(
    github: GitHubStandIn, client: GitHubClient
) -> None:
    github.seed(str(REPO), PR, [expected_body("ranker", "old")])
    github.deny_writes()

    outcome = upsert_sticky_comment(client, REPO, PR, "ranker", "new")

    assert outcome.action == "skipped"
    assert len(github.requests_by("PATCH")) == 1
    assert github.comments(str(REPO), PR)[0]["body"] == expected_body("ranker", "old")


def test_500_twice_then_ok_succeeds(github: GitHubStandIn, client: GitHubClient) -> None:
    github.fail_next(2)

    outcome = upsert_sticky_comment(client, REPO, PR, "ranker", "report")

    assert outcome.action == "created"
    assert [r.method for r in github.requests] == ["GET", "GET", "GET", "POST"]
    assert len(github.comments(str(REPO), PR)) == 1


def test_500_on_create_is_retried_and_creates_one_comment(
    github: GitHubStandIn, client: GitHubClient
) -> None:
    github.fail_next(2, method="POST")

    outcome = upsert_sticky_comment(client, REPO, PR, "ranker", "report")

    assert outcome.action == "created"
    assert [r.method for r in github.requests] == ["GET", "POST", "POST", "POST"]
    assert len(github.comments(str(REPO), PR)) == 1


def test_500_always_raises_service_error_after_bounded_attempts(
    github: GitHubStandIn, client: GitHubClient
) -> None:
    github.always_fail()

    with pytest.raises(ServiceError) as caught:
        upsert_sticky_comment(client, REPO, PR, "ranker", "report")

    assert caught.value.exit_code == ExitCode.SERVICE
    message = str(caught.value)
    assert github.url in message
    assert "3 attempts" in message
    assert "500" in message
    assert TOKEN not in message
    assert len(github.requests) == 3
    assert github.comments(str(REPO), PR) == []


def test_unreachable_api_raises_service_error_without_the_token() -> None:
    port = free_port()  # a port nobody listens on
    client = GitHubClient(TOKEN, api_url=f"http://127.0.0.1:{port}", policy=FAST)

    with pytest.raises(ServiceError) as caught:
        upsert_sticky_comment(client, REPO, PR, "ranker", "report")

    assert caught.value.exit_code == ExitCode.SERVICE
    assert TOKEN not in str(caught.value)


def test_requests_carry_bearer_token_and_api_headers(
    github: GitHubStandIn, client: GitHubClient
) -> None:
    upsert_sticky_comment(client, REPO, PR, "ranker", "report")
    upsert_sticky_comment(client, REPO, PR, "ranker", "report 2")

    assert {r.method for r in github.requests} == {"GET", "POST", "PATCH"}
    for recorded in github.requests:
        assert recorded.headers["authorization"] == f"Bearer {TOKEN}"
        assert recorded.headers["accept"] == "application/vnd.github+json"
        assert recorded.headers["x-github-api-version"] == "2022-11-28"


def test_github_api_url_from_the_environment_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with GitHubStandIn(prefix="/api/v3") as ghes:  # GitHub Enterprise Server layout
        ghes.seed(str(REPO), PR, [f"c{i}" for i in range(3)])
        monkeypatch.setenv("GITHUB_API_URL", ghes.url + "/")
        client = GitHubClient(TOKEN, policy=FAST)
        assert client.api_url == ghes.url

        outcome = upsert_sticky_comment(client, REPO, PR, "ranker", "report")
        list(client.paginate(COMMENTS_PATH, per_page=2))  # Link URLs keep the prefix

        assert outcome.action == "created"
        assert {r.path for r in ghes.requests} == {f"/api/v3{COMMENTS_PATH}"}
        assert len(ghes.comments(str(REPO), PR)) == 4
        assert ghes.requests_by("GET")[-1].query == {"per_page": "2", "page": "2"}


def test_explicit_api_url_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, github: GitHubStandIn
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9/never-used")
    client = GitHubClient(TOKEN, api_url=github.url, policy=FAST)

    assert upsert_sticky_comment(client, REPO, PR, "ranker", "r").action == "created"


# -- modelrail's own comment: the marker *and* the token's own login -------------------


def test_a_users_comment_carrying_the_marker_is_never_edited(
    github: GitHubStandIn, client: GitHubClient
) -> None:
    forged = expected_body("ranker", "### ✅ Quality gate passed")
    [theirs] = github.seed(str(REPO), PR, [forged], author="mallory")

    outcome = upsert_sticky_comment(client, REPO, PR, "ranker", "### ❌ Quality gate failed")

    assert outcome.action == "created"
    assert calls(github) == [("GET", COMMENTS_PATH), *WHO_AM_I, ("POST", COMMENTS_PATH)]
    mallorys, ours = github.comments(str(REPO), PR)
    assert (mallorys["id"], mallorys["body"]) == (theirs, forged)
    assert ours["user"] == {"login": "github-actions[bot]", "type": "Bot"}
    assert ours["body"] == expected_body("ranker", "### ❌ Quality gate failed")

    assert upsert_sticky_comment(client, REPO, PR, "ranker", "v2").action == "updated"
    assert github.comments(str(REPO), PR)[0]["body"] == forged


def test_a_personal_token_edits_only_its_own_users_comment(github: GitHubStandIn) -> None:
    github.add_token("ghp_alicesToken", "alice")
    bots, alices = github.seed(str(REPO), PR, [expected_body("ranker", "bot's")]), \
        github.seed(str(REPO), PR, [expected_body("ranker", "alice's")], author="alice")
    client = GitHubClient("ghp_alicesToken", api_url=github.url, policy=FAST)

    outcome = upsert_sticky_comment(client, REPO, PR, "ranker", "fresh")

    assert outcome.action == "updated"
    assert calls(github) == [("GET", COMMENTS_PATH), ("GET", "/user"),
                             ("PATCH", f"/repos/{REPO}/issues/comments/{alices[0]}")]
    bot, alice = github.comments(str(REPO), PR)
    assert (bot["id"], bot["body"]) == (bots[0], expected_body("ranker", "bot's"))
    assert alice["body"] == expected_body("ranker", "fresh")


def test_the_login_can_be_given_and_a_marker_inside_a_body_does_not_count(
    github: GitHubStandIn, client: GitHubClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELRAIL_GITHUB_LOGIN", "modelrail-app[bot]")
    github.seed(str(REPO), PR, [expected_body("ranker", "actions bot's")])  # not that login
    github.seed(str(REPO), PR, [f"quoting: {expected_body('ranker', 'x')}"],
                author="modelrail-app[bot]")

    outcome = upsert_sticky_comment(client, REPO, PR, "ranker", "report")

    assert outcome.action == "created"
    assert calls(github) == [("GET", COMMENTS_PATH), ("POST", COMMENTS_PATH)]


def test_standin_answers_who_a_token_is_as_github_does(github: GitHubStandIn) -> None:
    github.add_token("ghp_alicesToken", "alice")
    session = requests.Session()

    def get(token: str | None, path: str = "/user", method: str = "GET") -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return session.request(method, github.url + path, headers=headers, timeout=5,
                               json={"query": "query { viewer { login } }"} if method ==
                               "POST" else None)

    installation = get(TOKEN)
    assert installation.status_code == 403
    assert installation.json()["message"] == DENIED_MESSAGE
    assert get("ghp_alicesToken").json()["login"] == "alice"
    assert get(None).status_code == 401
    assert get(TOKEN, "/graphql", "POST").json() == {
        "data": {"viewer": {"login": "github-actions[bot]"}}}
    assert get("ghp_alicesToken", "/graphql", "POST").json()["data"]["viewer"]["login"] \
        == "alice"


def test_graphql_endpoint_beside_the_rest_base() -> None:
    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url("https://ghe.example/api/v3/") == "https://ghe.example/api/graphql"


@pytest.mark.parametrize(("user", "login", "mine"), [
    ({"login": "github-actions[bot]", "type": "Bot"}, "github-actions[bot]", True),
    ({"login": "github-actions[bot]", "type": "Bot"}, "github-actions", True),  # GraphQL
    ({"login": "Alice", "type": "User"}, "alice", True),
    ({"login": "github-actions", "type": "User"}, "github-actions[bot]", False),
    ({"login": "github-actions[bot]", "type": "User"}, "github-actions", False),
    (None, "github-actions[bot]", False),
])
def test_authored_by(user: object, login: str, mine: bool) -> None:
    assert authored_by({"user": user}, login) is mine
