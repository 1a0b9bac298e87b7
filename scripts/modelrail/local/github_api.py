"""A local stand-in for the slice of GitHub's REST API that modelrail uses.

It follows the real API's semantics for issue comments:

- ``GET  /repos/{owner}/{repo}/issues/{number}/comments`` — ``per_page`` (default 30,
  max 100) and ``page`` (1-based) pagination, with an RFC 5988 ``Link`` header carrying
  ``rel="next"``/``rel="last"`` (and ``rel="prev"``/``rel="first"``) as absolute URLs;
- ``POST /repos/{owner}/{repo}/issues/{number}/comments`` — ``{"body": ...}``, 201;
- ``PATCH /repos/{owner}/{repo}/issues/comments/{id}`` — ``{"body": ...}``, 200 (404 when
  the id is unknown).

and for who a token is (how modelrail tells its own comments from copies of its marker):
``GET /user`` answers a user's token (a PAT) with its login, and an installation token
(a GitHub App's or a job's GITHUB_TOKEN, the stand-in's default ``login``, a Bot) with 403
"Resource not accessible by integration", as GitHub does; ``POST /graphql`` (``/api/graphql``
beside Enterprise Server's ``/api/v3``) answers ``{ viewer { login } }`` for both. A request
without a token gets 401 there.

and for issues (the monitoring issue): ``GET /repos/{owner}/{repo}/issues`` (``state``
open/closed/all, default open; the same pagination), ``POST /repos/{owner}/{repo}/issues``
(``{"title", "body"}``, 201, numbers shared with nothing else here) and
``PATCH /repos/{owner}/{repo}/issues/{number}`` (``body``/``title``/``state``).

and for releases (modelrail's own release workflow, scripts/release.py), as "Create a
release" documents it (https://docs.github.com/rest/releases/releases#create-a-release):
``POST /repos/{owner}/{repo}/releases`` with ``tag_name`` (required), ``name``, ``body``,
``target_commitish``, ``draft``, ``prerelease``, ``make_latest`` (``"true"``/``"false"``/
``"legacy"``); 201 with the release, 422 "Validation Failed" (``already_exists`` on
``tag_name``) when the tag has a release already. Stricter than GitHub: a field of the wrong
type, or one the stand-in does not know, is a 422 naming it.

Comments, issues and releases record their author (``user.login``/``user.type``): the identity of
the token that created them (``add_token`` registers a user's token; any other token is the
bot), or the ``author`` a test seeds them with. Every request is recorded (method, path,
query, headers, JSON body). Faults can be
injected: ``deny_writes`` answers POST/PATCH with 403 "Resource not accessible by
integration" (what a fork PR's read-only token gets), ``fail_next(n)`` answers the next
``n`` requests with 500, ``always_fail`` answers every request with 500.

Usage::

    with GitHubStandIn() as github:
        github.seed("acme/ranker", 7, ["hello"])
        client = GitHubClient("tok", api_url=github.url)
"""

import json
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from modelrail.local.loopback import ApiCall, LoopbackServer, RecordedRequest, json_api_handler

_LIST_OR_CREATE = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/comments$")
_EDIT = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$")
_ISSUES = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues$")
_ISSUE = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)$")
_RELEASES = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/releases$")
RELEASE_DOCS = "https://docs.github.com/rest/releases/releases#create-a-release"
_RELEASE_FIELDS: dict[str, type] = {
    "tag_name": str, "target_commitish": str, "name": str, "body": str, "draft": bool,
    "prerelease": bool, "make_latest": str,
}
DENIED_MESSAGE = "Resource not accessible by integration"
USER_DOCS = "https://docs.github.com/rest/users/users#get-the-authenticated-user"
_UNPARSEABLE = object()
_Answer = tuple[int, dict[str, str], Any]  # status, extra headers, JSON payload


@dataclass
class _State:
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    issues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    releases: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # token -> a user's login
    requests: list[RecordedRequest] = field(default_factory=list)
    next_id: int = 1000
    deny_writes: bool = False
    fail_remaining: int = 0
    fail_method: str | None = None
    always_fail: bool = False


class GitHubStandIn(LoopbackServer):
    """A threaded HTTP server on 127.0.0.1 (free port); use as a context manager."""

    def __init__(self, login: str = "github-actions[bot]", prefix: str = "") -> None:
        """`prefix` serves the API under a path, as GitHub Enterprise Server does (/api/v3)."""
        self.login = login
        self.prefix = prefix.rstrip("/")
        self._state = _State()
        self._lock = threading.Lock()
        super().__init__(json_api_handler(self._handle, ("GET", "POST", "PATCH"),
                                          "application/json; charset=utf-8"))

    @property
    def url(self) -> str:
        """The API base URL (what GITHUB_API_URL would be)."""
        return f"{self.address}{self.prefix}"

    # -- test controls -----------------------------------------------------------------

    def add_token(self, token: str, login: str) -> None:
        """A user's token (a PAT): it acts as `login`, a User, and may call GET /user."""
        with self._lock:
            self._state.users[token] = login

    def seed(self, repo: str, number: int, bodies: list[str],
             author: str | None = None) -> list[int]:
        """Add existing comments to an issue/PR (by `author`, default the bot); returns
        their ids in order."""
        with self._lock:
            return [self._add_comment(repo, number, body, _user(author or self.login))["id"]
                    for body in bodies]

    def seed_issue(self, repo: str, title: str, body: str, author: str) -> int:
        """Open an issue by `author`; returns its number."""
        with self._lock:
            return int(self._add_issue(repo, title, body, _user(author))["number"])

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._state.comments.get((repo, number), [])]

    def issues(self, repo: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(i) for i in self._state.issues.get(repo, [])]

    def releases(self, repo: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._state.releases.get(repo, [])]

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.requests)

    def requests_by(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method]

    def clear_requests(self) -> None:
        with self._lock:
            self._state.requests.clear()

    def deny_writes(self, deny: bool = True) -> None:
        with self._lock:
            self._state.deny_writes = deny

    def fail_next(self, count: int, method: str | None = None) -> None:
        """Answer the next `count` requests (of `method`, or any) with HTTP 500."""
        with self._lock:
            self._state.fail_remaining = count
            self._state.fail_method = method

    def always_fail(self, fail: bool = True) -> None:
        with self._lock:
            self._state.always_fail = fail

    # -- implementation ----------------------------------------------------------------

    def _identity(self, headers: dict[str, str]) -> dict[str, str] | None:
        """The user a request's token acts as; None without a token."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token:
            return None
        login = self._state.users.get(token)
        return _user(login or self.login, "User" if login else "Bot")

    def _add_comment(self, repo: str, number: int, body: str,
                     user: dict[str, str]) -> dict[str, Any]:
        state = self._state
        state.next_id += 1
        comment_id = state.next_id
        comment = {
            "id": comment_id,
            "body": body,
            "user": dict(user),
            "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{comment_id}",
            "url": f"{self.url}/repos/{repo}/issues/comments/{comment_id}",
        }
        state.comments.setdefault((repo, number), []).append(comment)
        return comment

    def _find(self, repo: str, comment_id: int) -> dict[str, Any] | None:
        for (owner_repo, _), comments in self._state.comments.items():
            if owner_repo != repo:
                continue
            for comment in comments:
                if comment["id"] == comment_id:
                    return comment
        return None

    def _handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> _Answer:
        split = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = _UNPARSEABLE
        with self._lock:
            state = self._state
            recorded = raw_body.decode(errors="replace") if body is _UNPARSEABLE else body
            state.requests.append(RecordedRequest(method, split.path, query, headers, recorded))
            injected = state.fail_remaining > 0 and state.fail_method in (None, method)
            if state.always_fail or injected:
                state.fail_remaining -= 1 if injected else 0
                return 500, {}, {"message": "Server Error"}
            if body is _UNPARSEABLE:
                return 400, {}, {"message": "Problems parsing JSON"}
            identity = self._identity(headers)
            if split.path == self._graphql_path():
                return _graphql(identity, body)
            if method in ("POST", "PATCH") and state.deny_writes:
                return 403, {}, {
                    "message": DENIED_MESSAGE,
                    "documentation_url": "https://docs.github.com/rest",
                }
            if not split.path.startswith(self.prefix + "/"):
                return 404, {}, {"message": "Not Found"}
            return self._route_as(identity, method, split.path[len(self.prefix):], query, body)

    def _route_as(self, identity: dict[str, str] | None, method: str, path: str,
                  query: dict[str, str], body: Any) -> _Answer:
        """Who-am-I answers, then the repository routes (writes need a token)."""
        if path == "/user" and method == "GET":
            return _authenticated_user(identity)
        if identity is None and method != "GET":
            return 401, {}, {"message": "Requires authentication"}
        releases = _RELEASES.match(path)
        if releases and method == "POST":
            return self._create_release(releases["repo"], body, identity or _user(self.login))
        return self._route(method, path, query, body, identity or _user(self.login))

    def _graphql_path(self) -> str:
        return self.prefix[: -len("/v3")] + "/graphql" if self.prefix.endswith("/api/v3") \
            else f"{self.prefix}/graphql"

    def _route(self, method: str, path: str, query: dict[str, str], body: Any,
               user: dict[str, str]) -> _Answer:
        issues_route = _ISSUES.match(path) or _ISSUE.match(path)
        if issues_route:
            return self._route_issues(ApiCall(method, path, query, body), issues_route, user)
        listing = _LIST_OR_CREATE.match(path)
        edit = _EDIT.match(path)
        if listing and method == "GET":
            return self._list(listing["repo"], int(listing["number"]), path, query)
        writes = (listing and method == "POST") or (edit and method == "PATCH")
        if writes and not (isinstance(body, dict) and isinstance(body.get("body"), str)):
            return 422, {}, {"message": "Invalid request: body is required"}
        if listing and method == "POST":
            created = self._add_comment(listing["repo"], int(listing["number"]),
                                        body["body"], user)
            return 201, {}, dict(created)
        if edit and method == "PATCH":
            comment = self._find(edit["repo"], int(edit["id"]))
            if comment is not None:
                comment["body"] = body["body"]
                return 200, {}, dict(comment)
        return 404, {}, {"message": "Not Found"}

    def _route_issues(self, call: "ApiCall", route: re.Match[str],
                      user: dict[str, str]) -> _Answer:
        method, path, query, body = call.method, call.path, call.query, call.body
        repo = route["repo"]
        items = self._state.issues.setdefault(repo, [])
        if "number" not in route.groupdict() and method == "GET":
            state = query.get("state", "open")
            chosen = [i for i in items if state == "all" or i["state"] == state]
            return self._page(chosen, path, query)
        if not isinstance(body, dict):
            return 422, {}, {"message": "Invalid request"}
        if method == "POST" and "number" not in route.groupdict():
            if not isinstance(body.get("title"), str) or not body["title"]:
                return 422, {}, {"message": "Invalid request: title is required"}
            created = self._add_issue(repo, body["title"], body.get("body") or "", user)
            return 201, {}, dict(created)
        found = next((i for i in items if str(i["number"]) == route.groupdict().get("number")),
                     None)
        if method == "PATCH" and found is not None:
            found.update({k: v for k, v in body.items() if k in ("title", "body", "state")})
            return 200, {}, dict(found)
        return 404, {}, {"message": "Not Found"}

    def _create_release(self, repo: str, body: Any, user: dict[str, str]) -> _Answer:
        """POST /repos/{owner}/{repo}/releases, as RELEASE_DOCS describes it."""
        if not isinstance(body, dict) or not isinstance(body.get("tag_name"), str) \
                or not body["tag_name"]:
            return _invalid("tag_name", "missing_field")
        for key, value in body.items():
            if _RELEASE_FIELDS.get(key) is not type(value):
                return _invalid(key, "invalid")
        if body.get("make_latest", "true") not in ("true", "false", "legacy"):
            return _invalid("make_latest", "invalid")
        items = self._state.releases.setdefault(repo, [])
        if any(r["tag_name"] == body["tag_name"] for r in items):
            return _invalid("tag_name", "already_exists")
        self._state.next_id += 1
        release_id = self._state.next_id
        created = {"id": release_id, "tag_name": body["tag_name"],
                   "target_commitish": body.get("target_commitish", "main"),
                   "name": body.get("name"), "body": body.get("body"),
                   "draft": body.get("draft", False), "prerelease": body.get("prerelease", False),
                   "author": dict(user),
                   "url": f"{self.url}/repos/{repo}/releases/{release_id}",
                   "html_url": f"https://github.com/{repo}/releases/tag/{body['tag_name']}"}
        items.append(created)
        return 201, {"Location": created["url"]}, dict(created)

    def _add_issue(self, repo: str, title: str, body: str,
                   user: dict[str, str]) -> dict[str, Any]:
        items = self._state.issues.setdefault(repo, [])
        self._state.next_id += 1
        number = len(items) + 1
        created = {"id": self._state.next_id, "number": number, "state": "open",
                   "title": title, "body": body, "user": dict(user),
                   "html_url": f"https://github.com/{repo}/issues/{number}"}
        items.append(created)
        return created

    def _list(
        self, repo: str, number: int, path: str, query: dict[str, str]
    ) -> _Answer:
        return self._page(self._state.comments.get((repo, number), []), path, query)

    def _page(self, items: list[dict[str, Any]], path: str, query: dict[str, str]) -> _Answer:
        try:
            per_page = min(max(int(query.get("per_page", "30")), 1), 100)
            page = max(int(query.get("page", "1")), 1)
        except ValueError:
            return 422, {}, {"message": "Invalid pagination parameters"}
        last = max(1, math.ceil(len(items) / per_page))
        chunk = [dict(c) for c in items[(page - 1) * per_page : page * per_page]]

        def link(target: int, rel: str) -> str:
            return f'<{self.url}{path}?{urlencode({"per_page": per_page, "page": target})}>; ' \
                   f'rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, headers, chunk


def _user(login: str, kind: str | None = None) -> dict[str, str]:
    """A `user` object as GitHub embeds it (a `[bot]` login is a Bot unless told)."""
    return {"login": login, "type": kind or ("Bot" if login.endswith("[bot]") else "User")}


def _invalid(field_name: str, code: str) -> _Answer:
    """GitHub's 422 "Validation Failed" naming the field and why."""
    return 422, {}, {"message": "Validation Failed", "documentation_url": RELEASE_DOCS,
                     "errors": [{"resource": "Release", "code": code, "field": field_name}]}


def _authenticated_user(identity: dict[str, str] | None) -> _Answer:
    """GET /user: a user's token gets its login; an installation token (a Bot) gets 403."""
    if identity is None:
        return 401, {}, {"message": "Requires authentication", "documentation_url": USER_DOCS}
    if identity["type"] == "Bot":
        return 403, {}, {"message": DENIED_MESSAGE, "documentation_url": USER_DOCS,
                         "status": "403"}
    return 200, {}, {"login": identity["login"], "id": 1, "type": "User"}


def _graphql(identity: dict[str, str] | None, body: Any) -> _Answer:
    """POST /graphql: only `{ viewer { login } }`, for any token."""
    if identity is None:
        return 401, {}, {"message": "This endpoint requires you to be authenticated."}
    query = body.get("query") if isinstance(body, dict) else None
    if not isinstance(query, str) or "viewer" not in query or "login" not in query:
        return 200, {}, {"errors": [{"message": "the stand-in answers only viewer { login }"}]}
    return 200, {}, {"data": {"viewer": {"login": identity["login"]}}}
