"""`modelrail analyze` against the real Prometheus, on histories loaded with promtool.

One server holds every case: the baseline `v1` and one canary version per scenario.
Each test queries at the history's last timestamp (`--time`), so results are exact.
"""

import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
import requests
from modelrail.cli.main import main
from modelrail.local.processes import free_port

from tests.support.services.prometheus import (
    History,
    PrometheusServer,
    history_end,
    prometheus_available,
    prometheus_server,
)

pytestmark = pytest.mark.integration

BASELINE_LATENCY = {0.05: 0.30, 0.1: 0.70, 0.2: 0.93, 0.3: 0.985, 0.4: 0.995, 0.5: 0.998,
                    0.75: 0.9995, 1.0: 1.0}  # p99 0.35 s
SLOW_LATENCY = {0.05: 0.30, 0.1: 0.70, 0.2: 0.92, 0.3: 0.96, 0.4: 0.975, 0.5: 0.988,
                0.75: 0.998, 1.0: 1.0}  # p99 0.55 s: +57%
REQUESTS = "modelrail_requests_total"

ERROR_RATE = """\
    error_rate:
      kind: compare
      data: counter
      query: 'sum(increase(
        modelrail_requests_total{version="{{version}}",code=~"5.."}[{{window}}]))'
      total: 'sum(increase(modelrail_requests_total{version="{{version}}"}[{{window}}]))'
      critical: true
      no_data: NO_DATA
"""
LATENCY = """\
    latency_p99:
      kind: compare
      data: histogram
      query: 'sum by (le) (increase(
        modelrail_request_duration_seconds_bucket{version="{{version}}"}[{{window}}]))'
      no_data: NO_DATA
"""
SCORE = """\
    prediction_score:
      kind: compare
      data: gauge
      query: 'avg(modelrail_prediction_score{version="{{version}}"})'
      direction: either
      allowed_ratio: 1.05
      no_data: NO_DATA
"""
SLO = """\
    error_rate_slo:
      kind: threshold
      query: 'sum(rate(modelrail_requests_total{version="{{version}}",code=~"5.."}[{{window}}]))
        / sum(rate(modelrail_requests_total{version="{{version}}"}[{{window}}]))'
      max: 0.05
      no_data: NO_DATA
"""


def policy(*metrics: str, no_data: str = "inconclusive") -> str:
    body = "".join(metric.replace("NO_DATA", no_data) for metric in metrics)
    return f"model: ranker\nanalysis:\n  looks: 4\n  window: 5m\n  metrics:\n{body}"


FULL = policy(ERROR_RATE, LATENCY, SCORE, SLO)


@dataclass(frozen=True)
class Loaded:
    server: PrometheusServer
    end: int


def scores(mean: float, seed: int) -> list[float]:
    rng = random.Random(seed)  # noqa: S311 - repeatable test data
    return [rng.gauss(mean, 0.02) for _ in range(400)]


def traffic(history: History, version: str, per_second: float, error_rate: float,
            latency: dict[float, float] = BASELINE_LATENCY, score: float = 0.60,
            seed: int = 1) -> None:
    history.counter("modelrail_requests", {"version": version, "code": "200"},
                    per_second * (1 - error_rate))
    history.counter("modelrail_requests", {"version": version, "code": "500"},
                    per_second * error_rate)
    history.histogram("modelrail_request_duration_seconds", {"version": version},
                      per_second, latency)
    values = scores(score, seed)
    history.gauge("modelrail_prediction_score", {"version": version}, values.__getitem__)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    if not prometheus_available():
        message = ("prometheus/promtool missing "
                   "(install with: sudo bash scripts/install-system-packages.sh)")
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI is set, so the Prometheus tests must run")
        pytest.skip(message)
    history = History(end=history_end(), duration=40 * 60)
    traffic(history, "v1", 30.0, 0.01, seed=1)
    traffic(history, "v2", 10.0, 0.01, seed=2)
    traffic(history, "v2-errors", 10.0, 0.02, seed=3)
    traffic(history, "v2-slow", 10.0, 0.01, latency=SLOW_LATENCY, seed=4)
    traffic(history, "v2-shifted", 10.0, 0.01, score=0.66, seed=5)
    traffic(history, "v2-few", 0.05, 0.01, seed=6)
    history.gauge("modelrail_prediction_score", {"version": "v2-nan"}, lambda _: float("nan"))
    with prometheus_server(tmp_path_factory.mktemp("prometheus"), history) as server:
        yield Loaded(server, history.end)


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    report: dict[str, Any]

    def metric(self, name: str) -> dict[str, Any]:
        return next(m for m in self.report["metrics"] if m["name"] == name)


class Analyze(Protocol):
    def __call__(self, canary: str, text: str = ..., *extra: str,
                 url: str | None = None) -> Run: ...


@pytest.fixture
def analyze(prom: Loaded, tmp_path: Path, capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch) -> Analyze:
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "PROMETHEUS_URL",
                 "PROMETHEUS_TOKEN", "PROMETHEUS_USERNAME", "PROMETHEUS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)

    def run(canary: str, text: str = FULL, *extra: str, url: str | None = None) -> Run:
        (tmp_path / "modelrail.yaml").write_text(text, encoding="utf-8")
        (tmp_path / "result.json").unlink(missing_ok=True)
        code = main(["analyze", "--canary", canary, "--baseline", "v1",
                     "--time", str(prom.end), "--json", "result.json",
                     "--prometheus-url", url or prom.server.url, *extra])
        captured = capsys.readouterr()
        result = tmp_path / "result.json"
        report = json.loads(result.read_text()) if result.exists() else {}
        return Run(code, captured.out, captured.err, report)

    return run


def test_clean_canary_passes_every_metric(analyze: Analyze) -> None:
    run = analyze("v2", FULL, "--look", "2")

    assert run.code == 0, run.out + run.err
    assert run.report["outcome"] == "pass"
    assert [m["outcome"] for m in run.report["metrics"]] == ["pass"] * 4
    errors = run.metric("error_rate")
    assert errors["canary"] == {"events": 60, "total": 6000.0, "rate": 0.01}
    assert errors["baseline"] == {"events": 180, "total": 18000.0, "rate": 0.01}
    assert errors["details"]["steps"] == 2
    assert errors["queries"]["canary"] == (
        f'sum(increase( {REQUESTS}{{version="v2",code=~"5.."}}[5m]))')
    assert 'version="v1"' in errors["queries"]["baseline_total"]
    assert run.metric("latency_p99")["canary"]["p99"] == pytest.approx(0.35)
    assert run.metric("prediction_score")["canary"]["samples"] == 20
    assert f'query  error_rate [canary]: sum(increase( {REQUESTS}{{version="v2"' in run.out
    assert "canary analysis: PASS" in run.out


def test_look_window_and_labels_default_from_the_rollout_section(analyze: Analyze) -> None:
    text = FULL.replace("  looks: 4\n  window: 5m\n", "") + (
        "rollout: {name: ranker, namespace: ml, steps: [10, 25, 50, 100], step_seconds: 300}\n")

    run = analyze("v2", text, "--look", "3")

    assert run.code == 0, run.out + run.err
    report = run.report
    assert (report["look"], report["looks"], report["window"]) == (3, 4, "300s")
    assert (report["namespace"], report["rollout"]) == ("ml", "ranker")
    assert run.metric("error_rate")["details"]["steps"] == 3


def test_twice_the_error_rate_fails(analyze: Analyze) -> None:
    run = analyze("v2-errors")

    assert run.code == 1
    assert run.report["outcome"] == "fail"
    assert "critical metric error_rate failed" in str(run.report["reason"])
    errors = run.metric("error_rate")
    assert errors["outcome"] == "fail"
    assert errors["effect"] == pytest.approx(2.0)
    assert errors["p_value"] < errors["alpha"]
    assert run.metric("latency_p99")["outcome"] == "pass"
    assert run.metric("error_rate_slo")["outcome"] == "pass"  # 2% is within the 5% SLO


def test_half_again_the_p99_latency_fails(analyze: Analyze, prom: Loaded) -> None:
    run = analyze("v2-slow")

    assert run.code == 1
    latency = run.metric("latency_p99")
    assert latency["outcome"] == "fail"
    assert latency["canary"]["p99"] == pytest.approx(0.55)
    assert latency["baseline"]["p99"] == pytest.approx(0.35)
    assert run.metric("error_rate")["outcome"] == "pass"
    # the judge's quantile is Prometheus's own histogram_quantile
    query = f"histogram_quantile(0.99, {latency['queries']['canary']})"
    answer = requests.get(f"{prom.server.url}/api/v1/query", timeout=10,
                          params={"query": query, "time": str(prom.end)}).json()
    assert float(answer["data"]["result"][0]["value"][1]) == \
        pytest.approx(latency["canary"]["p99"])


def test_shifted_prediction_scores_fail_by_mann_whitney(analyze: Analyze) -> None:
    run = analyze("v2-shifted")

    assert run.code == 1
    score = run.metric("prediction_score")
    assert score["outcome"] == "fail"
    assert score["test"].startswith("Mann-Whitney")
    assert score["details"]["shift"] == pytest.approx(0.06, abs=0.02)
    assert score["details"]["shift_lower"] > 0
    assert "higher than baseline" in str(score["reason"])


@pytest.mark.parametrize(("no_data", "code", "outcome"),
                         [("fail", 1, "fail"), ("inconclusive", 4, "inconclusive")])
def test_nan_samples_get_the_no_data_outcome(analyze: Analyze, no_data: str, code: int,
                                             outcome: str) -> None:
    run = analyze("v2-nan", policy(SCORE, no_data=no_data))

    assert run.code == code
    assert run.report["outcome"] == outcome
    assert "no data: the canary has no samples" in str(run.metric("prediction_score")["reason"])


@pytest.mark.parametrize(("no_data", "code"), [("fail", 1), ("inconclusive", 4)])
def test_empty_result_gets_the_no_data_outcome(analyze: Analyze, no_data: str,
                                               code: int) -> None:
    run = analyze("v2-empty", policy(SLO, ERROR_RATE, no_data=no_data))

    assert run.code == code
    assert "the query returned no value" in str(run.metric("error_rate_slo")["reason"])
    assert "canary has no requests" in str(run.metric("error_rate")["reason"])


def test_too_few_samples_is_inconclusive(analyze: Analyze) -> None:
    run = analyze("v2-few", policy(ERROR_RATE, LATENCY))

    assert run.code == 4
    assert run.report["outcome"] == "inconclusive"
    assert "too few requests: canary 15" in str(run.metric("error_rate")["reason"])
    assert "too few observations: canary 15" in str(run.metric("latency_p99")["reason"])


def test_prometheus_down_is_exit_3_and_names_no_secret(
        analyze: Analyze, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0.01")
    monkeypatch.setenv("PROMETHEUS_TOKEN", "tok-s3cr3t")
    url = f"http://scraper:pa55w0rd@127.0.0.1:{free_port()}"

    run = analyze("v2", FULL, url=url)

    assert run.code == 3
    assert run.report == {}  # no verdict at all, certainly not a pass
    assert f"Prometheus at http://127.0.0.1:{url.rsplit(':', 1)[1]} kept failing after 2 " \
        "attempts" in run.err
    for secret in ("tok-s3cr3t", "pa55w0rd", "scraper"):
        assert secret not in run.out + run.err


def test_a_query_prometheus_rejects_is_exit_2_with_the_resolved_query(
        analyze: Analyze) -> None:
    broken = SLO.replace("sum(rate(", "sum(rate((", 1)

    run = analyze("v2", policy(broken))

    assert run.code == 2
    assert "analysis.metrics.error_rate_slo (canary): Prometheus at" in run.err
    assert "rejected the query (bad_data:" in run.err
    assert f'sum(rate(({REQUESTS}{{version="v2",code=~"5.."}}[5m]))' in run.err


def test_a_histogram_query_without_le_is_exit_2(analyze: Analyze) -> None:
    run = analyze("v2", policy(LATENCY.replace("sum by (le) (", "sum(")))

    assert run.code == 2
    assert "analysis.metrics.latency_p99: the query returned a series without a numeric le " \
        "label ({}); sum the _bucket series by (le)" in run.err


def test_summary_and_outputs_on_a_runner(analyze: Analyze, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))

    run = analyze("v2-errors")

    assert run.code == 1
    text = summary.read_text()
    assert "Canary analysis: fail" in text
    assert "| <code>error\\_rate</code> (critical) | ❌ |" in text
    assert 'modelrail_requests_total{version="v2-errors",code=~"5.."}[5m]))' in text
    assert "outcome<<" in outputs.read_text()
