"""Who a GitHub token acts as, so modelrail edits only what it wrote itself.

The sticky PR comment and the monitoring issue are found by a hidden marker, which anyone
can copy into their own comment; they are modelrail's only when the token's own login
wrote them too. A personal access token answers `GET /user`. An installation token (a
GitHub App's, and a job's GITHUB_TOKEN, which acts as `github-actions[bot]`) gets 403
"Resource not accessible by integration" there, and `GET /app` wants the App's JWT; the
GraphQL `viewer` answers for both. When that is refused too, the login is the Actions
bot's; `MODELRAIL_GITHUB_LOGIN` overrides all of this.
"""

import os
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from modelrail.plumbing.github_api import GitHubClient
from modelrail.plumbing.http_retry import ApiDeniedError

ACTIONS_BOT = "github-actions[bot]"
"""The login of a job's GITHUB_TOKEN (user id 41898282, type Bot)."""

LOGIN_ENV = "MODELRAIL_GITHUB_LOGIN"
_VIEWER = "query { viewer { login } }"


def graphql_url(api_url: str) -> str:
    """GitHub's GraphQL endpoint next to a REST base URL (api.github.com/graphql, and
    /api/graphql beside GitHub Enterprise Server's /api/v3)."""
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"


def token_login(client: GitHubClient) -> str:
    """The login the client's token acts as (see the module docstring for how)."""
    explicit = os.environ.get(LOGIN_ENV, "").strip()
    if explicit:
        return explicit
    try:
        login = _field(client.request("GET", "/user"), "login")
    except ApiDeniedError:  # an installation token
        login = _viewer_login(client)
    return login if isinstance(login, str) and login else ACTIONS_BOT


def _viewer_login(client: GitHubClient) -> Any:
    try:
        answer = client.request("POST", graphql_url(client.api_url), json={"query": _VIEWER})
    except ApiDeniedError:
        return None
    return _field(answer, "data", "viewer", "login")


def _field(response: requests.Response, *path: str) -> Any:
    """`response.json()[path...]`, or None where the answer has no such field."""
    try:
        value = response.json()
    except ValueError:
        return None
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def authored_by(item: Mapping[str, Any], login: str) -> bool:
    """Whether a comment or issue was written by `login` (GraphQL may name a bot without
    the `[bot]` suffix that the REST API shows)."""
    user = item.get("user")
    if not isinstance(user, Mapping) or not isinstance(user.get("login"), str):
        return False
    author, wanted = user["login"].casefold(), login.casefold()
    return author == wanted or (user.get("type") == "Bot" and author == f"{wanted}[bot]")


def own_marked(client: GitHubClient, items: Iterable[dict[str, Any]],
               marker: str) -> dict[str, Any] | None:
    """The first comment or issue whose body starts with `marker` and that the client's
    token wrote; the token's login is asked for only when some body carries the marker."""
    marked = [item for item in items
              if (item.get("body") or "").startswith(f"{marker}\n")]
    if not marked:
        return None
    login = token_login(client)
    return next((item for item in marked if authored_by(item, login)), None)
