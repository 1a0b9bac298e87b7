"""The Prometheus client's edges: parsing, auth, retries, and failing closed.

The happy path runs against the real Prometheus in tests/integration; here a scripted
loopback server answers what Prometheus answers when things go wrong (bodies copied from
Prometheus 2.42), so each failure is exact and fast.
"""

import base64
import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from modelrail.errors import ServiceError, UsageError
from modelrail.local.processes import free_port
from modelrail.plumbing.prometheus import PrometheusAuth, PrometheusClient, Series
from modelrail.plumbing.retry import RetryPolicy

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001, timeout=5)
VECTOR = {"status": "success", "data": {"resultType": "vector", "result": [
    {"metric": {"version": "12"}, "value": [1795794360, "0.5"]},
    {"metric": {"version": "11"}, "value": [1795794360, "NaN"]}]}}
MATRIX = {"status": "success", "data": {"resultType": "matrix", "result": [
    {"metric": {"le": "+Inf"}, "values": [[1795793760, "200"], [1795794060, "+Inf"]]}]}}
SCALAR = {"status": "success", "data": {"resultType": "scalar", "result": [1795794360, "-Inf"]}}
BAD_DATA = {"status": "error", "errorType": "bad_data",
            "error": 'invalid parameter "query": 1:16: parse error: unclosed left parenthesis'}


class Scripted:
    """Answers requests with the scripted (status, body) pairs, the last one forever."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, object]] = []
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                scripted.requests.append((parts.path, {k: v[0] for k, v in
                                                       parse_qs(parts.query).items()},
                                          {k.lower(): v for k, v in self.headers.items()}))
                status, body = scripted.answers.pop(0) if len(scripted.answers) > 1 \
                    else scripted.answers[0]
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def prom() -> Iterator[Scripted]:
    scripted = Scripted()
    thread = threading.Thread(target=scripted.server.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    yield scripted
    scripted.server.shutdown()
    scripted.server.server_close()


def test_instant_vector_with_nan(prom: Scripted) -> None:
    prom.answers = [(200, VECTOR)]

    series = PrometheusClient(prom.url, policy=FAST).query("up", at=1795794360.5)

    assert series[0] == Series({"version": "12"}, ((1795794360.0, 0.5),))
    assert math.isnan(series[1].points[0][1])
    path, params, _ = prom.requests[0]
    assert (path, params) == ("/api/v1/query", {"query": "up", "time": "1795794360.500"})


def test_range_matrix_with_inf_and_a_scalar(prom: Scripted) -> None:
    prom.answers = [(200, MATRIX), (200, SCALAR)]
    client = PrometheusClient(prom.url + "/", policy=FAST)

    matrix = client.query_range("x", start=100, end=700, step=300)
    scalar = client.query("1/0", at=5)

    assert matrix == [Series({"le": "+Inf"}, ((1795793760.0, 200.0), (1795794060.0, math.inf)))]
    assert scalar == [Series({}, ((1795794360.0, -math.inf),))]
    assert prom.requests[0][1] == {"query": "x", "start": "100.000", "end": "700.000",
                                   "step": "300.000"}


def test_5xx_is_retried_then_fails_closed_without_credentials(prom: Scripted) -> None:
    prom.answers = [(503, "Service Unavailable")]
    client = PrometheusClient(f"http://admin:hunter2@{prom.url[7:]}", policy=FAST)

    with pytest.raises(ServiceError) as caught:
        client.query("up", at=0)

    message = str(caught.value)
    assert message == (f"Prometheus at {prom.url} kept failing after 3 attempts: HTTP 503: "
                       "Service Unavailable")
    assert len(prom.requests) == 3
    assert caught.value.exit_code == 3


def test_a_recovered_server_answers(prom: Scripted) -> None:
    prom.answers = [(502, "bad gateway"), (200, VECTOR)]

    assert len(PrometheusClient(prom.url, policy=FAST).query("up", at=0)) == 2


def test_unreachable_server_is_exit_3_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    auth = PrometheusAuth(token="tok-s3cr3t")

    with pytest.raises(ServiceError) as caught:
        PrometheusClient(url, auth, policy=FAST).query("up", at=0)

    assert str(caught.value).startswith(f"Prometheus at {url} kept failing after 3 attempts")
    assert "tok-s3cr3t" not in str(caught.value)


@pytest.mark.parametrize("status", [400, 422])
def test_a_rejected_query_is_a_usage_error_showing_it(prom: Scripted, status: int) -> None:
    prom.answers = [(status, BAD_DATA)]

    with pytest.raises(UsageError) as caught:
        PrometheusClient(prom.url, policy=FAST).query("sum(rate(x[5m]", at=0)

    assert str(caught.value) == (
        f"Prometheus at {prom.url} rejected the query (bad_data: invalid parameter "
        '"query": 1:16: parse error: unclosed left parenthesis):\n  sum(rate(x[5m]')
    assert len(prom.requests) == 1  # not retried


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials(prom: Scripted, status: int) -> None:
    prom.answers = [(status, "Unauthorized")]

    with pytest.raises(UsageError, match=f"refused the credentials \\(HTTP {status}\\); check "
                                          "PROMETHEUS_TOKEN"):
        PrometheusClient(prom.url, policy=FAST).query("up", at=0)


def test_wrong_base_url(prom: Scripted) -> None:
    prom.answers = [(404, "404 page not found")]

    with pytest.raises(UsageError, match="answered HTTP 404 for /api/v1/query; is the URL the "
                                         "server's base URL"):
        PrometheusClient(prom.url, policy=FAST).query("up", at=0)


@pytest.mark.parametrize("body", ["<html>proxy login</html>", {"status": "error"},
                                  {"status": "success", "data": {}}])
def test_an_answer_that_is_not_query_results(prom: Scripted, body: object) -> None:
    prom.answers = [(200, body)]

    with pytest.raises(ServiceError, match=r"did not answer with query results|answered status"):
        PrometheusClient(prom.url, policy=FAST).query("up", at=0)


def test_native_histograms_and_strings_are_refused(prom: Scripted) -> None:
    native = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "histogram": [1, {"count": "3"}]}]}}
    prom.answers = [(200, native), (200, {"status": "success",
                                          "data": {"resultType": "string", "result": [1, "a"]}})]
    client = PrometheusClient(prom.url, policy=FAST)

    with pytest.raises(UsageError, match="native histograms are not supported"):
        client.query("h", at=0)
    with pytest.raises(UsageError, match="returned a string result"):
        client.query('"a"', at=0)


def test_bearer_token_and_basic_auth_are_sent(prom: Scripted,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    prom.answers = [(200, VECTOR)]
    monkeypatch.setenv("PROMETHEUS_URL", prom.url)
    monkeypatch.setenv("PROMETHEUS_TOKEN", "tok")
    PrometheusClient.from_env().query("up", at=0)
    monkeypatch.delenv("PROMETHEUS_TOKEN")
    monkeypatch.setenv("PROMETHEUS_USERNAME", "reader")
    monkeypatch.setenv("PROMETHEUS_PASSWORD", "pw")
    PrometheusClient.from_env().query("up", at=0)

    assert prom.requests[0][2]["authorization"] == "Bearer tok"
    basic = base64.b64encode(b"reader:pw").decode()
    assert prom.requests[1][2]["authorization"] == f"Basic {basic}"


@pytest.mark.parametrize(("env", "message"), [
    ({"PROMETHEUS_TOKEN": "t", "PROMETHEUS_USERNAME": "u", "PROMETHEUS_PASSWORD": "p"},
     "set either PROMETHEUS_TOKEN or"),
    ({"PROMETHEUS_USERNAME": "u"}, "go together"),
    ({}, "no Prometheus: pass --prometheus-url or set PROMETHEUS_URL"),
])
def test_configuration_errors(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                              message: str) -> None:
    for name in ("PROMETHEUS_URL", "PROMETHEUS_TOKEN", "PROMETHEUS_USERNAME",
                 "PROMETHEUS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    url = "http://prometheus:9090" if env else None

    with pytest.raises(UsageError, match=message):
        PrometheusClient.from_env(url)


def test_url_must_be_http() -> None:
    with pytest.raises(UsageError, match="expected http:// or https://"):
        PrometheusClient("prometheus:9090")
