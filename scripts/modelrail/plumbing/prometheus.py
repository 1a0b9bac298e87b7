"""A small client for the Prometheus HTTP API: instant and range queries.

Connection errors, timeouts, 429 and 5xx are retried per RetryPolicy, then fail closed as
a ServiceError (exit 3) naming the server, never its credentials. A query Prometheus
rejects (400 bad_data, 422 execution error) is a UsageError that shows the query as sent
and Prometheus' answer, redacted (plumbing/redact.py) like every error message: the client
registers its token, password and URL userinfo so that their echo in any encoding goes.
Values come back as floats, NaN and +-Inf included: deciding what they mean is the
caller's business.
"""

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import requests

from modelrail.errors import ServiceError, UsageError
from modelrail.plumbing.http_retry import request_with_retries
from modelrail.plumbing.redact import (
    excerpt,
    redact_url,
    register,
    register_credentials,
    register_url,
)
from modelrail.plumbing.retry import RetryPolicy

_REJECTED_QUERY_STATUS = {400, 422}


@dataclass(frozen=True)
class Series:
    """One series of a result: its labels and (timestamp, value) points."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class PrometheusAuth:
    """A bearer token (PROMETHEUS_TOKEN) or basic auth (PROMETHEUS_USERNAME/PASSWORD)."""

    token: str | None = None
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_env(cls) -> "PrometheusAuth":
        token = os.environ.get("PROMETHEUS_TOKEN") or None
        username = os.environ.get("PROMETHEUS_USERNAME") or None
        password = os.environ.get("PROMETHEUS_PASSWORD") or None
        if token and (username or password):
            raise UsageError("set either PROMETHEUS_TOKEN or PROMETHEUS_USERNAME/"
                             "PROMETHEUS_PASSWORD, not both")
        if bool(username) != bool(password):
            raise UsageError("PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD go together: "
                             "set both or neither")
        return cls(token=token, username=username, password=password)

    def register_secrets(self) -> None:
        """Make the redaction know these credentials (and the basic-auth pair)."""
        register(self.token)
        register_credentials(self.username, self.password)


class PrometheusClient:
    def __init__(self, url: str, auth: PrometheusAuth | None = None,
                 policy: RetryPolicy | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"Prometheus URL {redact_url(url)!r}: expected http:// or "
                             "https:// (--prometheus-url or PROMETHEUS_URL)")
        self.url = url.rstrip("/")
        self._auth = auth or PrometheusAuth()
        self._auth.register_secrets()
        register_url(url)  # requests sends URL userinfo as basic auth
        self._policy = policy or RetryPolicy.from_env()
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "modelrail"
        if self._auth.token:
            self._session.headers["Authorization"] = f"Bearer {self._auth.token}"
        elif self._auth.username and self._auth.password:
            self._session.auth = (self._auth.username, self._auth.password)

    @classmethod
    def from_env(cls, url: str | None = None) -> "PrometheusClient":
        """`url`, else PROMETHEUS_URL; credentials from the environment."""
        url = url or os.environ.get("PROMETHEUS_URL")
        if not url:
            raise UsageError("no Prometheus: pass --prometheus-url or set PROMETHEUS_URL")
        return cls(url, PrometheusAuth.from_env())

    @property
    def name(self) -> str:
        """The server as it may be shown: no userinfo."""
        return redact_url(self.url)

    def query(self, promql: str, at: float) -> list[Series]:
        """An instant query evaluated at `at` (Unix seconds); a scalar is one series."""
        return self._get("/api/v1/query", {"query": promql, "time": _timestamp(at)}, promql)

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[Series]:
        """A range query: points at start, start + step, ... up to end."""
        return self._get("/api/v1/query_range",
                         {"query": promql, "start": _timestamp(start),
                          "end": _timestamp(end), "step": _timestamp(step)}, promql)

    def _get(self, path: str, params: dict[str, str], promql: str) -> list[Series]:
        url = f"{self.url}{path}"

        response = request_with_retries(
            self._session, "GET", url, policy=self._policy,
            service=f"Prometheus at {self.name}", describe=_error_text, params=params)
        if response.status_code in _REJECTED_QUERY_STATUS:
            raise UsageError(f"Prometheus at {self.name} rejected the query "
                             f"({_error_text(response)}):\n  {promql}")
        if response.status_code in (401, 403):
            raise UsageError(f"Prometheus at {self.name} refused the credentials "
                             f"(HTTP {response.status_code}); check PROMETHEUS_TOKEN or "
                             "PROMETHEUS_USERNAME/PROMETHEUS_PASSWORD")
        if response.status_code != 200:
            raise UsageError(f"Prometheus at {self.name} answered HTTP "
                             f"{response.status_code} for {path}; is the URL the server's "
                             "base URL (the part before /api/v1)?")
        return self._parse(response)

    def _parse(self, response: requests.Response) -> list[Series]:
        try:
            body = response.json()
            status = body["status"]
            if status == "success":
                return _results(body["data"]["resultType"], body["data"]["result"])
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise ServiceError(f"Prometheus at {self.name} did not answer with query "
                               f"results ({type(error).__name__}: {error})") from None
        raise ServiceError(f"Prometheus at {self.name} answered status {status!r}")


def _results(kind: str, result: Any) -> list[Series]:
    if kind == "scalar":
        return [Series({}, (_point(result),))]
    if kind == "vector":
        return [_series(item, "value") for item in result]
    if kind == "matrix":
        return [_series(item, "values") for item in result]
    raise UsageError(f"the query returned a {kind} result; expected an instant vector, a "
                     "range vector or a scalar")


def _series(item: dict[str, Any], key: Literal["value", "values"]) -> Series:
    if "histogram" in item or "histograms" in item:
        raise UsageError("native histograms are not supported: query the classic "
                         "_bucket series with their le label")
    points = [item[key]] if key == "value" else item[key]
    return Series(dict(item["metric"]), tuple(_point(point) for point in points))


def _point(point: Any) -> tuple[float, float]:
    timestamp, value = point
    return float(timestamp), float(value)  # "NaN", "+Inf", "-Inf" parse as floats


def _timestamp(seconds: float) -> str:
    if not math.isfinite(seconds):
        raise UsageError(f"not a usable time: {seconds}")
    return f"{seconds:.3f}"


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return excerpt(response.text.strip()) or response.reason
    if isinstance(body, dict) and "error" in body:
        return f"{body.get('errorType', 'error')}: {body['error']}"
    return excerpt(str(body))
