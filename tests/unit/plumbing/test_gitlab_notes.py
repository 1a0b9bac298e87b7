"""The sticky merge-request note against a local stand-in of GitLab's Notes API."""

from collections.abc import Iterator

import pytest
import requests
from modelrail.errors import ServiceError
from modelrail.local.gitlab_api import GitLabStandIn
from modelrail.plumbing.gitlab_api import GitLabClient, JobToken, MergeRequest
from modelrail.plumbing.gitlab_notes import upsert_mr_note
from modelrail.plumbing.retry import RetryPolicy
from modelrail.plumbing.runner import comment_marker

TOKEN = "glpat-unitTestToken0123456789"
BOT_ID, BOT_NAME = 77, "project_7_bot_abc"
BOT: dict[str, object] = {"id": BOT_ID, "username": BOT_NAME}
PROJECT_ID, PROJECT_PATH, IID = 7, "acme/ranker", 42
NOTES = f"/api/v4/projects/{PROJECT_ID}/merge_requests/{IID}/notes"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, timeout=5.0)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy", "CI_API_V4_URL", "CI_JOB_TOKEN", "MODELRAIL_GITLAB_TOKEN",
                 "GITLAB_USER_ID", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID",
                 "CI_MERGE_REQUEST_PROJECT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def gitlab() -> Iterator[GitLabStandIn]:
    with GitLabStandIn() as standin:
        standin.add_merge_request(PROJECT_ID, PROJECT_PATH, IID)
        standin.add_token(TOKEN, BOT_ID, BOT_NAME)
        yield standin


@pytest.fixture
def client(gitlab: GitLabStandIn) -> GitLabClient:
    return GitLabClient(JobToken(TOKEN, "private"), api_url=gitlab.url, policy=FAST)


MR = MergeRequest(str(PROJECT_ID), IID)


def calls(gitlab: GitLabStandIn) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in gitlab.requests]


def test_the_note_is_created_once_and_then_edited_in_place(
    gitlab: GitLabStandIn, client: GitLabClient,
) -> None:
    first = upsert_mr_note(client, MR, "ranker", "❌ Quality gate failed")
    again = upsert_mr_note(client, MR, "ranker", "❌ Quality gate failed")
    fixed = upsert_mr_note(client, MR, "ranker", "✅ Quality gate passed")

    assert (first.action, again.action, fixed.action) == ("created", "unchanged", "updated")
    [note] = gitlab.notes(PROJECT_ID, IID)
    assert note["body"] == f"{comment_marker('ranker')}\n✅ Quality gate passed\n"
    assert calls(gitlab) == [
        ("GET", NOTES), ("POST", NOTES),
        ("GET", NOTES), ("GET", "/api/v4/user"),
        ("GET", NOTES), ("GET", "/api/v4/user"), ("PUT", f"{NOTES}/{note['id']}"),
    ]
    for request in gitlab.requests:
        assert request.headers["private-token"] == TOKEN
        assert "job-token" not in request.headers
    listing = gitlab.requests[0]
    assert listing.query == {"per_page": "100", "page": "1"}
    assert gitlab.requests[1].json == {
        "body": f"{comment_marker('ranker')}\n❌ Quality gate failed\n"}
    assert gitlab.requests[-1].json == {"body": note["body"]}


def test_one_note_per_model(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    upsert_mr_note(client, MR, "ranker", "a")
    upsert_mr_note(client, MR, "scorer", "b")
    assert len(gitlab.notes(PROJECT_ID, IID)) == 2


def test_a_copy_of_the_marker_by_someone_else_is_left_alone(
    gitlab: GitLabStandIn, client: GitLabClient,
) -> None:
    marker = comment_marker("ranker")
    quoted = gitlab.seed(PROJECT_ID, IID, f"{marker}\nquoted by a reviewer\n",
                         {"id": 5, "username": "reviewer"})
    system = gitlab.seed(PROJECT_ID, IID, f"{marker}\n", BOT, system=True)

    outcome = upsert_mr_note(client, MR, "ranker", "report")

    assert outcome.action == "created"
    notes = {note["id"]: note for note in gitlab.notes(PROJECT_ID, IID)}
    assert notes[quoted]["body"] == f"{marker}\nquoted by a reviewer\n"
    assert notes[system]["body"] == f"{marker}\n"
    assert len(notes) == 3


def test_the_own_note_is_found_past_the_first_page(
    gitlab: GitLabStandIn, client: GitLabClient,
) -> None:
    upsert_mr_note(client, MR, "ranker", "first")
    for index in range(120):  # newer notes push it to the second page (newest first)
        gitlab.seed(PROJECT_ID, IID, f"comment {index}", {"id": 5, "username": "reviewer"})

    assert upsert_mr_note(client, MR, "ranker", "second").action == "updated"
    assert ("GET", NOTES) in calls(gitlab)
    assert any(r.query.get("page") == "2" for r in gitlab.requests)
    assert len(gitlab.notes(PROJECT_ID, IID)) == 121


def test_a_job_token_acts_as_the_pipelines_user_and_is_refused_by_the_notes_api(
    gitlab: GitLabStandIn, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI_JOB_TOKEN", "job-token-secret-123")
    monkeypatch.setenv("GITLAB_USER_ID", "5")
    token = JobToken.from_env()
    assert token == JobToken("job-token-secret-123", "job")
    client = GitLabClient(token, api_url=gitlab.url, policy=FAST)

    outcome = upsert_mr_note(client, MR, "ranker", "report")

    assert outcome.action == "skipped"
    assert "HTTP 401: 401 Unauthorized" in outcome.reason
    assert "MODELRAIL_GITLAB_TOKEN" in outcome.reason
    assert "job-token-secret-123" not in outcome.reason
    assert gitlab.requests[0].headers["job-token"] == "job-token-secret-123"
    assert gitlab.notes(PROJECT_ID, IID) == []


def test_the_project_token_variable_wins_over_the_job_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI_JOB_TOKEN", "job")
    monkeypatch.setenv("MODELRAIL_GITLAB_TOKEN", "glpat-x")
    assert JobToken.from_env() == JobToken("glpat-x", "private")


def test_an_unknown_merge_request_fails_naming_the_answer(
    gitlab: GitLabStandIn, client: GitLabClient,
) -> None:
    with pytest.raises(ServiceError, match="404 Merge Request Not Found"):
        upsert_mr_note(client, MergeRequest(str(PROJECT_ID), 999), "ranker", "report")


def test_the_project_may_be_given_by_its_path(gitlab: GitLabStandIn,
                                              client: GitLabClient) -> None:
    upsert_mr_note(client, MergeRequest(PROJECT_PATH, IID), "ranker", "report")
    assert gitlab.requests[0].path == "/api/v4/projects/acme%2Franker/merge_requests/42/notes"
    assert len(gitlab.notes(PROJECT_ID, IID)) == 1


def test_server_errors_are_retried(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    gitlab.fail_next(2)
    assert upsert_mr_note(client, MR, "ranker", "report").action == "created"


def test_merge_request_from_the_pipeline_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_PROJECT_ID", "7")
    monkeypatch.setenv("CI_MERGE_REQUEST_IID", "42")
    assert MergeRequest.from_env() == MergeRequest("7", 42)
    assert MergeRequest.from_env("9", 3) == MergeRequest("9", 3)
    monkeypatch.delenv("CI_MERGE_REQUEST_IID")
    with pytest.raises(Exception, match="--pr: no merge request"):
        MergeRequest.from_env()


# -- the stand-in follows the documented endpoints ----------------------------------------

def test_standin_refuses_requests_without_an_accepted_token(gitlab: GitLabStandIn) -> None:
    for headers in ({}, {"JOB-TOKEN": "job"}, {"PRIVATE-TOKEN": "unknown"}):
        answer = requests.get(f"{gitlab.address}{NOTES}", headers=headers, timeout=5)
        assert (answer.status_code, answer.json()) == (401, {"message": "401 Unauthorized"})


def test_standin_validates_bodies_and_authors(gitlab: GitLabStandIn) -> None:
    headers = {"PRIVATE-TOKEN": TOKEN}
    missing = requests.post(f"{gitlab.address}{NOTES}", json={}, headers=headers, timeout=5)
    assert (missing.status_code, missing.json()) == (400, {"error": "body is missing"})
    theirs = gitlab.seed(PROJECT_ID, IID, "theirs", {"id": 5, "username": "reviewer"})
    edit = requests.put(f"{gitlab.address}{NOTES}/{theirs}", json={"body": "x"},
                        headers=headers, timeout=5)
    assert edit.status_code == 403
    unknown = requests.put(f"{gitlab.address}{NOTES}/1", json={"body": "x"},
                           headers=headers, timeout=5)
    assert unknown.status_code == 404
    project = requests.get(f"{gitlab.address}/api/v4/projects/99/merge_requests/1/notes",
                           headers=headers, timeout=5)
    assert (project.status_code, project.json()) == (404, {"message": "404 Project Not Found"})


def test_standin_pages_newest_first_with_gitlabs_headers(gitlab: GitLabStandIn) -> None:
    for index in range(3):
        gitlab.seed(PROJECT_ID, IID, f"n{index}", BOT)
    answer = requests.get(f"{gitlab.address}{NOTES}", params={"per_page": 2},
                          headers={"PRIVATE-TOKEN": TOKEN}, timeout=5)
    assert [n["body"] for n in answer.json()] == ["n2", "n1"]
    assert answer.headers["X-Total"] == "3"
    assert answer.headers["X-Next-Page"] == "2"
    assert 'rel="next"' in answer.headers["Link"]
    last = requests.get(f"{gitlab.address}{NOTES}", params={"per_page": 2, "page": 2},
                        headers={"PRIVATE-TOKEN": TOKEN}, timeout=5)
    assert [n["body"] for n in last.json()] == ["n0"]
    assert last.headers["X-Next-Page"] == ""
