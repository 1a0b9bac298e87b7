"""A small GitLab REST (v4) client: `$CI_API_V4_URL`, bounded retries, pagination.

The token is sent the way GitLab's API authenticates it: a project, group or personal
access token as `PRIVATE-TOKEN`, a job's `CI_JOB_TOKEN` as `JOB-TOKEN`. Self-managed
instances work unchanged because the base URL comes from the job.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import requests

from modelrail.errors import UsageError
from modelrail.plumbing.http_retry import api_request
from modelrail.plumbing.redact import excerpt, register, register_url
from modelrail.plumbing.retry import RetryPolicy

DEFAULT_API_URL = "https://gitlab.com/api/v4"
TokenKind = Literal["private", "job"]
_TOKEN_HEADERS: dict[TokenKind, str] = {"private": "PRIVATE-TOKEN", "job": "JOB-TOKEN"}
# The project token variable the components document; CI_JOB_TOKEN is the fallback.
PROJECT_TOKEN_ENV = "MODELRAIL_GITLAB_TOKEN"  # noqa: S105 - a variable name


@dataclass(frozen=True)
class JobToken:
    """A token and how GitLab must be told which kind it is."""

    value: str
    kind: TokenKind

    @classmethod
    def from_env(cls) -> "JobToken | None":
        """The project token variable when set, else the job's own CI_JOB_TOKEN."""
        if os.environ.get(PROJECT_TOKEN_ENV):
            return cls(os.environ[PROJECT_TOKEN_ENV], "private")
        if os.environ.get("CI_JOB_TOKEN"):
            return cls(os.environ["CI_JOB_TOKEN"], "job")
        return None


@dataclass(frozen=True)
class MergeRequest:
    project: str  # the numeric id, or the URL-encoded path, as CI_PROJECT_ID gives the id
    iid: int

    @classmethod
    def from_env(cls, project: str | None = None, iid: int | None = None) -> "MergeRequest":
        project = project or os.environ.get("CI_PROJECT_ID", "")
        if not project:
            raise UsageError("--repo: no GitLab project (CI_PROJECT_ID is not set)")
        if iid is None:
            text = os.environ.get("CI_MERGE_REQUEST_IID", "")
            if not text.isdigit():
                raise UsageError("--pr: no merge request: pass --pr IID or run in a merge "
                                 "request pipeline (CI_MERGE_REQUEST_IID)")
            iid = int(text)
        return cls(project, iid)

    @property
    def notes_path(self) -> str:
        return f"/projects/{quote(self.project, safe='')}" \
               f"/merge_requests/{self.iid}/notes"


class GitLabClient:
    def __init__(self, token: JobToken, api_url: str | None = None,
                 policy: RetryPolicy | None = None) -> None:
        self.api_url = (api_url or os.environ.get("CI_API_V4_URL") or DEFAULT_API_URL).rstrip("/")
        self.token_kind = token.kind
        register(token.value)
        register_url(self.api_url)
        self._policy = policy or RetryPolicy.from_env()
        self._session = requests.Session()
        self._session.headers.update({"User-Agent": "modelrail",
                                      _TOKEN_HEADERS[token.kind]: token.value})

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One API call with retries on 5xx/429/timeouts; raises on any other error."""
        url = path if path.startswith("http") else f"{self.api_url}{path}"
        return api_request(self._session, method, url, policy=self._policy, api="GitLab API",
                           api_url=self.api_url, describe=_message, **kwargs)

    def paginate(self, path: str, per_page: int = 100) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, page by page as `X-Next-Page` says (GitLab's
        offset pagination; the header is empty on the last page)."""
        page = "1"
        while page:
            response = self.request("GET", path, params={"per_page": per_page, "page": page})
            yield from response.json()
            page = response.headers.get("X-Next-Page", "")


def _message(response: requests.Response) -> str:
    """GitLab answers errors as {"message": ...} or, for a parameter, {"error": ...}."""
    try:
        body = response.json()
    except ValueError:
        return excerpt(response.text)
    if isinstance(body, dict):
        for key in ("message", "error"):
            if key in body:
                return excerpt(str(body[key]))
    return excerpt(str(body))
