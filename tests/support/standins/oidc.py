"""A stand-in for the endpoint behind a job's ACTIONS_ID_TOKEN_REQUEST_URL (GitHub's OIDC
token service), as @actions/core's getIDToken uses it (packages/core/src/oidc-utils.ts):
`GET <url>&audience=<aud>` with `Authorization: Bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>`,
answered `{"value": "<JWT>"}`. A missing or wrong bearer gets 401, another method 405.

Each request token stands for one job (`request_token(job)`); the JWT's claims are those the
job's token would carry (`iss`, `aud`, `sub`), unsigned: no cloud here verifies it. Every
request is recorded as (job, audience), so a test sees which audience each action asked for.
"""

import base64
import json
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from modelrail.local.loopback import JsonAnswer, LoopbackServer, json_api_handler

ISSUER = "https://token.actions.githubusercontent.com"


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class OidcTokenStandIn(LoopbackServer):
    """Threaded HTTP server on 127.0.0.1 (free port); use as a context manager."""

    def __init__(self, subject: str) -> None:
        self.subject = subject  # the `sub` claim of every job's token
        self._jobs: dict[str, str] = {}  # request token -> job
        self._asked: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        super().__init__(json_api_handler(self._answer, ("GET", "POST")))

    @property
    def url(self) -> str:
        """ACTIONS_ID_TOKEN_REQUEST_URL, with the query GitHub's has."""
        return f"{self.address}/idtoken?api-version=2.0"

    def request_token(self, job: str) -> str:
        """The ACTIONS_ID_TOKEN_REQUEST_TOKEN of `job`."""
        token = f"oidc-request-{job}"
        with self._lock:
            self._jobs[token] = job
        return token

    @property
    def asked(self) -> list[tuple[str, str]]:
        """(job, audience) of every token handed out."""
        with self._lock:
            return list(self._asked)

    def _answer(self, method: str, path: str, headers: dict[str, str],
                _body: bytes) -> JsonAnswer:
        if method != "GET":
            return 405, {}, {"message": "Method not allowed"}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            job = self._jobs.get(token) if scheme.lower() == "bearer" else None
            if job is None:
                return 401, {}, {"message": "Unauthorized"}
            audience = parse_qs(urlsplit(path).query).get("audience", [""])[0]
            self._asked.append((job, audience))
        claims = {"iss": ISSUER, "aud": audience, "sub": self.subject}
        return 200, {}, {"value": f"{_segment({'alg': 'none'})}.{_segment(claims)}."}
