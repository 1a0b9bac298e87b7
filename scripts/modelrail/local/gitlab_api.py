"""A local stand-in for the slice of GitLab's REST API (v4) that modelrail uses: the notes
of a merge request, and who a token is.

It follows GitLab's documented endpoints (doc/api/notes.md, "Merge requests" section;
lib/api/notes.rb) and its authentication (lib/api/api_guard.rb, doc/api/rest/
authentication.md):

- ``GET /projects/:id/merge_requests/:iid/notes`` — ``sort`` (``asc``/``desc``, default
  ``desc``: newest first, by creation), offset pagination with ``per_page`` (default 20,
  max 100) and ``page``; the answer carries ``X-Page``, ``X-Per-Page``, ``X-Total``,
  ``X-Total-Pages``, ``X-Next-Page``/``X-Prev-Page`` (empty at the ends) and a ``Link``
  header;
- ``POST /projects/:id/merge_requests/:iid/notes`` — ``body`` required (400
  ``{"error": "body is missing"}`` without), 201 with the note;
- ``PUT /projects/:id/merge_requests/:iid/notes/:note_id`` — ``body``; only the note's
  author may edit it (403 otherwise), 404 for a note not on that merge request;
- ``GET /user`` — the token's user (a project access token's bot user).

``:id`` is the project's numeric id or its URL-encoded path. A project or merge request
the stand-in was not told of is 404 (``404 Project Not Found``/``404 Merge Request Not
Found``). Tokens: ``PRIVATE-TOKEN`` (or ``Authorization: Bearer``) with a token registered
by ``add_token``; ``JOB-TOKEN`` is recognised only on the routes GitLab lets a job token
use, which the notes API and ``/user`` are not (doc/ci/jobs/ci_job_token.md), so there it
is 401 as no token at all is (``{"message": "401 Unauthorized"}``). Every request is
recorded (method, path, query, headers, JSON body); ``fail_next(n)`` answers the next ``n``
with 500.

Usage::

    with GitLabStandIn() as gitlab:
        gitlab.add_merge_request(7, "acme/ranker", 42)
        gitlab.add_token("glpat-x", user_id=99, username="project_7_bot")
"""

import json
import math
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from modelrail.local.loopback import ApiCall, LoopbackServer, RecordedRequest, json_api_handler

API_PREFIX = "/api/v4"
_NOTES = re.compile(r"^/projects/(?P<project>[^/]+)/merge_requests/(?P<iid>\d+)/notes"
                    r"(?:/(?P<note>\d+))?$")
_Answer = tuple[int, dict[str, str], Any]  # status, extra headers, JSON payload
_UNAUTHORIZED: _Answer = (401, {}, {"message": "401 Unauthorized"})


@dataclass
class _State:
    projects: dict[str, int] = field(default_factory=dict)  # id or path -> id
    notes: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> user
    requests: list[RecordedRequest] = field(default_factory=list)
    next_id: int = 5000
    fail_remaining: int = 0


class GitLabStandIn(LoopbackServer):
    """A threaded HTTP server on 127.0.0.1 (free port); use as a context manager."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.Lock()
        super().__init__(json_api_handler(self._handle, ("GET", "POST", "PUT")))

    @property
    def url(self) -> str:
        """The API base URL (what CI_API_V4_URL would be)."""
        return f"{self.address}{API_PREFIX}"

    # -- test controls -----------------------------------------------------------------

    def add_merge_request(self, project_id: int, project_path: str, iid: int) -> None:
        with self._lock:
            self._state.projects[str(project_id)] = project_id
            self._state.projects[project_path] = project_id
            self._state.notes.setdefault((project_id, iid), [])

    def add_token(self, token: str, user_id: int, username: str, bot: bool = True) -> None:
        """An access token (PRIVATE-TOKEN) acting as this user."""
        with self._lock:
            self._state.users[token] = {"id": user_id, "username": username,
                                        "name": username, "bot": bot}

    def seed(self, project_id: int, iid: int, body: str, author: dict[str, Any],
             system: bool = False) -> int:
        """An existing note by `author` ({"id", "username"}); returns its id."""
        with self._lock:
            return int(self._add_note(project_id, iid, body, author, system)["id"])

    def notes(self, project_id: int, iid: int) -> list[dict[str, Any]]:
        """The merge request's notes, oldest first."""
        with self._lock:
            return [dict(n) for n in self._state.notes.get((project_id, iid), [])]

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.requests)

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._state.fail_remaining = count

    # -- implementation ----------------------------------------------------------------

    def _add_note(self, project_id: int, iid: int, body: str, author: dict[str, Any],
                  system: bool = False) -> dict[str, Any]:
        self._state.next_id += 1
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        note = {"id": self._state.next_id, "type": None, "body": body, "author": dict(author),
                "created_at": now, "updated_at": now, "system": system,
                "noteable_id": project_id * 1000 + iid, "noteable_type": "MergeRequest",
                "noteable_iid": iid, "project_id": project_id, "resolvable": False,
                "confidential": False, "internal": False}
        self._state.notes.setdefault((project_id, iid), []).append(note)
        return note

    def _user(self, headers: dict[str, str]) -> dict[str, Any] | None:
        """The user a PRIVATE-TOKEN or Bearer token acts as; a JOB-TOKEN is not accepted
        on these routes, so it identifies no one."""
        token = headers.get("private-token", "")
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        if not token and scheme.lower() == "bearer":
            token = bearer
        return self._state.users.get(token) if token else None

    def _handle(self, method: str, raw_path: str, headers: dict[str, str],
                raw_body: bytes) -> _Answer:
        split = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = raw_body.decode(errors="replace")
        with self._lock:
            state = self._state
            state.requests.append(RecordedRequest(method, split.path, query, headers, body))
            if state.fail_remaining > 0:
                state.fail_remaining -= 1
                return 500, {}, {"message": "500 Internal Server Error"}
            if not split.path.startswith(API_PREFIX + "/"):
                return 404, {}, {"error": "404 Not Found"}
            user = self._user(headers)
            if user is None:
                return _UNAUTHORIZED
            return self._route(ApiCall(method, split.path[len(API_PREFIX):], query, body), user)

    def _route(self, call: ApiCall, user: dict[str, Any]) -> _Answer:
        if call.path == "/user" and call.method == "GET":
            return 200, {}, dict(user)
        route = _NOTES.match(call.path)
        if route is None:
            return 404, {}, {"error": "404 Not Found"}
        project_id = self._state.projects.get(unquote(route["project"]))
        if project_id is None:
            return 404, {}, {"message": "404 Project Not Found"}
        key = (project_id, int(route["iid"]))
        if key not in self._state.notes:
            return 404, {}, {"message": "404 Merge Request Not Found"}
        return self._notes_route(key, route["note"], call, user)

    def _notes_route(self, key: tuple[int, int], note: str | None, call: ApiCall,
                     user: dict[str, Any]) -> _Answer:
        """The notes of a merge request that exists: list, create, edit."""
        method, body = call.method, call.body
        if note is None and method == "GET":
            return self._page(self._state.notes[key], call.path, call.query)
        if method not in ("POST", "PUT") or (method == "PUT") != (note is not None):
            return 405, {}, {"message": "405 Method Not Allowed"}
        if not isinstance(body, dict) or not isinstance(body.get("body"), str) \
                or not body["body"]:
            return 400, {}, {"error": "body is missing"}
        if method == "POST":
            return 201, {}, dict(self._add_note(*key, body["body"], user))
        return self._edit(key, int(note or 0), body["body"], user)

    def _edit(self, key: tuple[int, int], note_id: int, text: str,
              user: dict[str, Any]) -> _Answer:
        note = next((n for n in self._state.notes[key] if n["id"] == note_id), None)
        if note is None:
            return 404, {}, {"message": "404 Note Not Found"}
        if note["author"].get("id") != user["id"] or note["system"]:
            return 403, {}, {"message": "403 Forbidden"}
        note["body"] = text
        note["updated_at"] = datetime.now(UTC).isoformat(timespec="milliseconds") \
            .replace("+00:00", "Z")
        return 200, {}, dict(note)

    def _page(self, notes: list[dict[str, Any]], path: str, query: dict[str, str]) -> _Answer:
        try:
            per_page = min(max(int(query.get("per_page", "20")), 1), 100)
            page = max(int(query.get("page", "1")), 1)
        except ValueError:
            return 400, {}, {"error": "per_page is invalid, page is invalid"}
        ordered = notes if query.get("sort") == "asc" else list(reversed(notes))
        pages = max(1, math.ceil(len(ordered) / per_page))
        chunk = [dict(n) for n in ordered[(page - 1) * per_page: page * per_page]]

        def link(target: int, rel: str) -> str:
            params = {**query, "per_page": per_page, "page": target}
            return f'<{self.url}{path}?{urlencode(params)}>; rel="{rel}"'

        links = [link(page - 1, "prev")] if page > 1 else []
        links += [link(page + 1, "next")] if page < pages else []
        links += [link(1, "first"), link(pages, "last")]
        headers = {
            "X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(ordered)),
            "X-Total-Pages": str(pages),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "Link": ", ".join(links),
        }
        return 200, headers, chunk
