"""`modelrail shadow analyze` on known inputs: agreement, correlation and KS distance
against numpy/scipy, and the exit codes. The shadow-call numbers from a real Prometheus
are tests/integration/test_shadow_prometheus.py."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from tests.support.builders.shadow_logs import POLICY, shadow_analyze, write_shadow_log


@pytest.mark.parametrize("noise", [0.02, 0.3])
def test_agreement_metrics_match_numpy_and_scipy(tmp_path: Path, noise: float) -> None:
    rng = np.random.default_rng(4)
    production = rng.uniform(size=1000).round(3)
    shadow = np.clip(production + rng.normal(scale=noise, size=1000), 0, 1).round(3)
    code, result = shadow_analyze(tmp_path, write_shadow_log(tmp_path, production, shadow))
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
    path = write_shadow_log(tmp_path, np.full(10, 0.2), np.full(10, 0.2))
    code, _ = shadow_analyze(tmp_path, path)
    assert code == 4


def test_a_log_without_shadow_lines_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"request_id": "a", "row": 0, "prediction": 0.1}) + "\n")
    (tmp_path / "modelrail.yaml").write_text(POLICY)
    assert shadow_analyze(tmp_path, path)[0] == 2


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

    everything = shadow_analyze(tmp_path, path)
    three = shadow_analyze(tmp_path, path, "--version", "3")
    capsys.readouterr()
    unknown = shadow_analyze(tmp_path, path, "--version", "4")

    assert everything[0] == 1  # 2's answers sink the mixed log
    assert everything[1]["pairs"] == 600
    assert three[0] == 0
    assert (three[1]["pairs"], three[1]["shadow_rows"]) == (300, 300)
    assert unknown[0] == 4
    assert "no shadow line of version 4 (the shadow lines are of version 2, 3)" in \
        capsys.readouterr().err


def test_a_version_needs_the_version_column(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write_shadow_log(tmp_path, np.full(200, 0.2), np.full(200, 0.2))
    assert shadow_analyze(tmp_path, path, "--version", "3")[0] == 2
    assert "no 'version' column" in capsys.readouterr().err
