"""Pushing gauges to a Prometheus Pushgateway (https://github.com/prometheus/pushgateway,
README "API": `PUT /metrics/job/<JOB>{/<LABEL_NAME>/<LABEL_VALUE>}`).

PUT replaces every metric of the group (job + grouping key), so a re-run leaves the group
as that run saw it, not a mix of two runs. The body is the text format without timestamps
(the Pushgateway refuses pushed timestamps). Connection errors, timeouts, 429 and 5xx are
retried (plumbing/http_retry.py), then fail closed with ServiceError (exit 3); any other
refusal (400: metrics inconsistent with what the gateway holds) is a ServiceError at once,
with the gateway's answer.
"""

import base64
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

import requests

from modelrail.errors import ServiceError, UsageError
from modelrail.plumbing.http_retry import request_with_retries
from modelrail.plumbing.openmetrics import Gauge, render
from modelrail.plumbing.redact import excerpt, redact_url, register_url
from modelrail.plumbing.retry import RetryPolicy

_PLAIN = re.compile(r"[A-Za-z0-9._-]+")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _segment(name: str, value: str) -> str:
    """`/name/value`, or `/name@base64/...` for a value a path cannot carry as is (a
    slash, an empty value), as the Pushgateway README says."""
    if _PLAIN.fullmatch(value):
        return f"/{name}/{value}"
    encoded = base64.urlsafe_b64encode(value.encode()).decode() or "="
    return f"/{name}@base64/{encoded}"


def group_url(url: str, job: str, grouping: Mapping[str, str]) -> str:
    """The group's URL: `URL/metrics/job/<job>/<label>/<value>...`."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--pushgateway {redact_url(url)!r}: expected http:// or https://")
    if not job:
        raise UsageError("--pushgateway-job: give a job name")
    path = _segment("job", job) + "".join(_segment(quote(name), value)
                                           for name, value in grouping.items())
    return url.rstrip("/") + "/metrics" + path


def push(url: str, job: str, grouping: Mapping[str, str], families: Iterable[Gauge],
         policy: RetryPolicy | None = None) -> str:
    """PUT the families to the group; returns the group's URL (redacted) for the log."""
    target = group_url(url, job, grouping)
    register_url(url)  # userinfo in the URL is sent as basic auth: never shown
    shown = redact_url(target)
    with requests.Session() as session:
        response = request_with_retries(
            session, "PUT", target, policy=policy or RetryPolicy.from_env(),
            service=f"Pushgateway at {redact_url(url)}",
            describe=lambda answer: excerpt(answer.text),
            data=render(families, timestamps=False).encode(),
            headers={"Content-Type": CONTENT_TYPE})
    if not response.ok:
        raise ServiceError(f"Pushgateway refused the push to {shown}: HTTP "
                           f"{response.status_code}: {excerpt(response.text)}")
    return shown
