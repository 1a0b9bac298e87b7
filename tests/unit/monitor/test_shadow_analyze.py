"""`modelrail shadow analyze` on known inputs: agreement, correlation and KS distance
against numpy/scipy, the exit codes, and the shadow-call numbers from a real Prometheus."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from modelrail.cli import main
from scipy import stats as scipy_stats

from tests.support.prometheus import History, history_end, prometheus_available, prometheus_server

POLICY = """model: ctr-ranker
shadow:
  decision_threshold: 0.5
  min_pairs: 100
  min_agreement: 0.9
  min_correlation: 0.8
  max_ks: 0.1
  max_error_rate: 0.05
  max_latency_p99: 0.3
  window: 30m
"""


def _write(tmp_path: Path, production: np.ndarray, shadow: np.ndarray) -> Path:
    """Production lines, shadow lines (own request ids, shadow_of = production's), one
    unpaired production line and an unrelated shadow line that must not pair."""
    path = tmp_path / "predictions.jsonl"
    with path.open("w") as log:
        for index, (p, s) in enumerate(zip(production, shadow, strict=True)):
            request, row = f"req-{index // 2}", index % 2
            log.write(json.dumps({"request_id": request, "row": row, "prediction": p}) + "\n")
            log.write(json.dumps({"request_id": f"shadow-{index}", "row": row,
                                  "prediction": s, "shadow": True,
                                  "shadow_of": request}) + "\n")
        log.write(json.dumps({"request_id": "alone", "row": 0, "prediction": 0.9}) + "\n")
        log.write(json.dumps({"request_id": "x", "row": 0, "prediction": 0.1, "shadow": True,
                              "shadow_of": "missing"}) + "\n")
    (tmp_path / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    return path


def _analyze(tmp_path: Path, path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["shadow", "analyze", "--config", str(tmp_path / "modelrail.yaml"),
                 "--predictions", str(path), "--json", str(tmp_path / "out.json"), *extra])
    out = tmp_path / "out.json"
    return code, json.loads(out.read_text()) if out.exists() else {}


@pytest.mark.parametrize("noise", [0.02, 0.3])
def test_agreement_metrics_match_numpy_and_scipy(tmp_path: Path, noise: float) -> None:
    rng = np.random.default_rng(4)
    production = rng.uniform(size=1000).round(3)
    shadow = np.clip(production + rng.normal(scale=noise, size=1000), 0, 1).round(3)
    code, result = _analyze(tmp_path, _write(tmp_path, production, shadow))
    checks = {c["name"]: c for c in result["checks"]}
    assert result["pairs"] == 1000
    assert result["shadow_rows"] == 1001
    assert checks["decision_agreement"]["value"] == pytest.approx(
        np.mean((production >= 0.5) == (shadow >= 0.5)))
    assert checks["score_correlation"]["value"] == pytest.approx(
        np.corrcoef(production, shadow)[0, 1])
    assert checks["score_ks_distance"]["value"] == pytest.approx(
        scipy_stats.ks_2samp(production, shadow).statistic)
    assert code == (0 if noise < 0.1 else 1)


def test_too_few_pairs_is_inconclusive(tmp_path: Path) -> None:
    code, _ = _analyze(tmp_path, _write(tmp_path, np.full(10, 0.2), np.full(10, 0.2)))
    assert code == 4


def test_a_log_without_shadow_lines_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"request_id": "a", "row": 0, "prediction": 0.1}) + "\n")
    (tmp_path / "modelrail.yaml").write_text(POLICY)
    assert _analyze(tmp_path, path)[0] == 2


def test_only_the_candidate_versions_shadow_lines_count(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Shadow lines of version 3 agree with production, those of an older candidate (2)
    do not: the verdict for 3 ignores 2's, and a version with no lines has no verdict."""
    path = tmp_path / "predictions.jsonl"
    rng = np.random.default_rng(5)
    with path.open("w") as log:
        for index, score in enumerate(rng.uniform(size=300).round(3)):
            request = f"req-{index}"
            lines = [{"request_id": request, "row": 0, "prediction": score, "version": "1"},
                     {"request_id": f"s3-{index}", "row": 0, "prediction": score,
                      "version": "3", "shadow": True, "shadow_of": request},
                     {"request_id": f"s2-{index}", "row": 0, "prediction": 1 - score,
                      "version": "2", "shadow": True, "shadow_of": request}]
            log.writelines(json.dumps(line) + "\n" for line in lines)
    (tmp_path / "modelrail.yaml").write_text(POLICY.replace("min_pairs: 100", "min_pairs: 250"))

    everything = _analyze(tmp_path, path)
    three = _analyze(tmp_path, path, "--version", "3")
    capsys.readouterr()
    unknown = _analyze(tmp_path, path, "--version", "4")

    assert everything[0] == 1  # 2's answers sink the mixed log
    assert everything[1]["pairs"] == 600
    assert three[0] == 0
    assert (three[1]["pairs"], three[1]["shadow_rows"]) == (300, 300)
    assert unknown[0] == 4
    assert "no shadow line of version 4 (the shadow lines are of version 2, 3)" in \
        capsys.readouterr().err


def test_a_version_needs_the_version_column(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, np.full(200, 0.2), np.full(200, 0.2))
    assert _analyze(tmp_path, path, "--version", "3")[0] == 2
    assert "no 'version' column" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.skipif(not prometheus_available(), reason="needs prometheus and promtool")
def test_shadow_calls_from_prometheus(tmp_path: Path) -> None:
    history = History(end=history_end(), duration=20 * 60)
    family = "modelrail_router_shadow_requests"
    history.counter(family, {"variant": "candidate", "outcome": "ok"}, per_second=9.0)
    history.counter(family, {"variant": "candidate", "outcome": "timeout"}, per_second=1.0)
    history.histogram("modelrail_router_shadow_duration_seconds", {"variant": "candidate"},
                      per_second=10.0, cdf={0.1: 0.5, 0.25: 0.995, 0.5: 1.0})
    production = np.linspace(0, 1, 200)
    path = _write(tmp_path, production, production)
    with prometheus_server(tmp_path / "prom", history) as server:
        code, result = _analyze(tmp_path, path, "--prometheus-url", server.url)
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["shadow_error_rate"]["value"] == pytest.approx(0.1)
    assert not checks["shadow_error_rate"]["passed"]
    assert checks["shadow_latency_p99_seconds"]["value"] == pytest.approx(
        0.1 + 0.15 * (0.99 - 0.5) / 0.495)
    assert checks["shadow_latency_p99_seconds"]["passed"]
    assert code == 1
