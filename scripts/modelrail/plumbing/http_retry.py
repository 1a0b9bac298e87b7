"""One HTTP call to a remote service, retried the same way for every client modelrail has.

Connection errors, timeouts, 429 and 5xx are worth another try; anything else is the
caller's to interpret. When the retries run out the call fails closed with ServiceError
(exit 3), naming the service but never a credential: every message made from a response
or an exception here passes through plumbing/redact.py (the error classes redact).
"""

from collections.abc import Callable
from typing import Any

import requests

from modelrail.errors import ServiceError
from modelrail.plumbing.redact import redact, redact_url
from modelrail.plumbing.retry import RetryPolicy, TransientError, retry_or_fail

TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


def request_with_retries(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    service: str,
    describe: Callable[[requests.Response], str],
    **kwargs: Any,
) -> requests.Response:
    """`session.request(...)` under `policy`; `service` ("GitHub API at URL") names it."""

    def attempt() -> requests.Response:
        try:
            response = session.request(method, url, timeout=policy.timeout, **kwargs)
        except requests.RequestException as error:
            raise TransientError(str(error)) from error  # TransientError redacts
        if response.status_code in TRANSIENT_STATUS:
            raise TransientError(f"HTTP {response.status_code}: {describe(response)}")
        return response

    return retry_or_fail(attempt, policy, service)


class ApiDeniedError(Exception):
    """401/403 from a REST API: the token may not do this (e.g. a fork PR's read-only
    token). Its message (the API's answer) is redacted, as a ModelrailError's is."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(redact(message))
        self.status = status


def api_request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    api: str,
    api_url: str,
    describe: Callable[[requests.Response], str],
    **kwargs: Any,
) -> requests.Response:
    """One call to the REST API `api` ("GitHub API") at `api_url`, with retries: 401/403
    raise ApiDeniedError, any other error answer is a ServiceError naming the call."""
    response = request_with_retries(session, method, url, policy=policy,
                                    service=f"{api} at {redact_url(api_url)}",
                                    describe=describe, **kwargs)
    if response.status_code in (401, 403):
        raise ApiDeniedError(response.status_code, describe(response))
    if response.status_code >= 400:
        raise ServiceError(f"{api} {method} {redact_url(url)} answered "
                           f"{response.status_code}: {describe(response)}")
    return response
