"""A small GitHub REST client: `$GITHUB_API_URL`, bounded retries, pagination.

GitHub Enterprise Server works unchanged because the base URL comes from the runner.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from modelrail.errors import ServiceError, UsageError
from modelrail.plumbing.http_retry import request_with_retries
from modelrail.plumbing.redact import excerpt, redact, redact_url, register, register_url
from modelrail.plumbing.retry import RetryPolicy

DEFAULT_API_URL = "https://api.github.com"


class PermissionDeniedError(Exception):
    """401/403: the token may not do this (e.g. a fork PR's read-only token). Its message
    (the API's answer) is redacted, as a ModelrailError's is."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(redact(message))
        self.status = status


@dataclass(frozen=True)
class Repository:
    owner: str
    name: str

    @classmethod
    def parse(cls, value: str) -> "Repository":
        owner, _, name = value.partition("/")
        if not owner or not name or "/" in name:
            raise UsageError(f"repository {value!r}: expected OWNER/NAME (GITHUB_REPOSITORY)")
        return cls(owner, name)

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}"


class GitHubClient:
    def __init__(
        self,
        token: str,
        api_url: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        self._token = token
        register(token)
        register_url(self.api_url)
        self._policy = policy or RetryPolicy.from_env()
        self._session = requests.Session()
        self._session.headers.update({
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "modelrail",
        })
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One API call with retries on 5xx/429/timeouts; raises on any other error."""
        url = path if path.startswith("http") else f"{self.api_url}{path}"

        response = request_with_retries(
            self._session, method, url, policy=self._policy,
            service=f"GitHub API at {redact_url(self.api_url)}", describe=_message, **kwargs)
        if response.status_code in (401, 403):
            raise PermissionDeniedError(response.status_code, _message(response))
        if response.status_code >= 400:
            raise ServiceError(f"GitHub API {method} {redact_url(url)} answered "
                               f"{response.status_code}: {_message(response)}")
        return response

    def paginate(self, path: str, per_page: int = 100) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following the Link: rel="next" headers."""
        url: str | None = f"{self.api_url}{path}"
        params: dict[str, int] | None = {"per_page": per_page}
        while url:
            response = self.request("GET", url, params=params)
            yield from response.json()
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries its own query


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return excerpt(response.text)
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return excerpt(str(body))
