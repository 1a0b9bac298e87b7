"""A small GitHub REST client: `$GITHUB_API_URL`, bounded retries, pagination.

GitHub Enterprise Server works unchanged because the base URL comes from the runner.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from modelrail.errors import UsageError
from modelrail.plumbing.http_retry import api_request
from modelrail.plumbing.redact import excerpt, register, register_url
from modelrail.plumbing.retry import RetryPolicy

DEFAULT_API_URL = "https://api.github.com"


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
        return api_request(self._session, method, url, policy=self._policy, api="GitHub API",
                           api_url=self.api_url, describe=_message, **kwargs)

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
