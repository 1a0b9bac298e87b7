"""`modelrail analyze` and `modelrail analysis export-argo` in-process: flags and exits."""

from pathlib import Path

import pytest
import yaml
from modelrail.cli.analysis import parse_time
from modelrail.cli.main import main
from modelrail.errors import UsageError

POLICY = """\
model: ctr_ranker
analysis:
  window: 10m
  metrics:
    error_rate_slo:
      kind: threshold
      query: 'sum(rate(req{version="{{version}}",code=~"5.."}[{{window}}]))'
      max: 0.01
    latency:
      kind: compare
      data: histogram
      query: 'sum by (le) (rate(d_bucket{version="{{version}}"}[{{window}}]))'
"""


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PROMETHEUS_URL", "PROMETHEUS_TOKEN", "PROMETHEUS_USERNAME",
                 "PROMETHEUS_PASSWORD", "GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    return tmp_path


def test_export_argo_prints_the_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analysis", "export-argo"]) == 0

    template = yaml.safe_load(capsys.readouterr().out)
    assert template["metadata"]["name"] == "ctr-ranker-canary"
    assert [m["name"] for m in template["spec"]["metrics"]] == ["error_rate_slo"]


def test_export_argo_to_a_file_with_a_name(workdir: Path) -> None:
    code = main(["analysis", "export-argo", "--name", "ranker-analysis", "--output", "at.yaml",
                 "--prometheus-address", "http://prometheus:9090"])

    assert code == 0
    template = yaml.safe_load((workdir / "at.yaml").read_text())
    assert template["metadata"]["name"] == "ranker-analysis"
    assert template["spec"]["metrics"][0]["provider"]["prometheus"]["address"] == \
        "http://prometheus:9090"


def test_export_argo_window_defaults_to_the_rollout_step(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "modelrail.yaml").write_text(
        POLICY.replace("  window: 10m\n", "") + "rollout: {name: ranker, step_seconds: 600}\n")

    assert main(["analysis", "export-argo"]) == 0

    args = yaml.safe_load(capsys.readouterr().out)["spec"]["args"]
    assert {"name": "window", "value": "600s"} in args


def test_export_argo_measures_when_canary_run_looks(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After step_seconds, then every retry (two 10 s ticks) for one more step."""
    (workdir / "modelrail.yaml").write_text(POLICY + "rollout: {name: ranker, step_seconds: 60}\n")

    assert main(["analysis", "export-argo"]) == 0

    metric = yaml.safe_load(capsys.readouterr().out)["spec"]["metrics"][0]
    assert {key: metric[key] for key in ("initialDelay", "interval", "count",
                                         "consecutiveSuccessLimit", "inconclusiveLimit")} == {
        "initialDelay": "60s", "interval": "20s", "count": 4, "consecutiveSuccessLimit": 1,
        "inconclusiveLimit": 3}


def test_export_argo_refuses_a_scalar_query(workdir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "modelrail.yaml").write_text(POLICY.replace(
        """'sum(rate(req{version="{{version}}",code=~"5.."}[{{window}}]))'""",
        """'scalar(sum(rate(req{version="{{version}}",code=~"5.."}[{{window}}])))'"""))

    assert main(["analysis", "export-argo"]) == 2
    err = capsys.readouterr().err
    assert "analysis.metrics.error_rate_slo.query returns a PromQL scalar" in err
    assert "drop scalar(), or wrap a constant in vector(...)" in err


def test_export_argo_errors(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analysis", "export-argo", "--name", "Not_A_Name"]) == 2
    assert "--name 'Not_A_Name': not a Kubernetes resource name" in capsys.readouterr().err
    compare_only = "\n".join(line for line in POLICY.splitlines()
                             if "error_rate_slo" not in line and "req{" not in line
                             and "max:" not in line and "threshold" not in line)
    (workdir / "modelrail.yaml").write_text(compare_only)
    assert main(["analysis", "export-argo"]) == 2
    assert "analysis has no threshold metric to export" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["--look", "5", "--looks", "4"], "--look 5: expected 1 to --looks (4)"),
    (["--window", "ten minutes"], "--window 'ten minutes': expected a Prometheus duration"),
    (["--time", "yesterday"], "--time 'yesterday': expected RFC 3339"),
    ([], "no Prometheus: pass --prometheus-url or set PROMETHEUS_URL"),
])
def test_analyze_usage_errors_are_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                         message: str) -> None:
    code = main(["analyze", "--canary", "2", "--baseline", "1", *argv])

    assert code == 2
    assert message in capsys.readouterr().err


def test_analyze_without_an_analysis_section(workdir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "modelrail.yaml").write_text("model: ranker\n")

    assert main(["analyze", "--canary", "2", "--baseline", "1"]) == 2
    assert "modelrail.yaml: analysis.metrics is required" in capsys.readouterr().err


def test_analyze_names_a_missing_placeholder_value(capsys: pytest.CaptureFixture[str],
                                                   workdir: Path) -> None:
    (workdir / "modelrail.yaml").write_text(POLICY.replace('version="{{version}}",code',
                                                           'namespace="{{namespace}}",code'))

    code = main(["analyze", "--canary", "2", "--baseline", "1",
                 "--prometheus-url", "http://127.0.0.1:9"])

    assert code == 2
    assert ("analysis.metrics.error_rate_slo: the query uses {{namespace}} but no namespace "
            "was given (--namespace)") in capsys.readouterr().err


@pytest.mark.parametrize(("text", "seconds"), [
    ("1795794360", 1795794360.0), ("1795794360.5", 1795794360.5),
    ("2026-11-27T16:06:00Z", 1795795560.0), ("2026-11-27T17:06:00+01:00", 1795795560.0)])
def test_parse_time(text: str, seconds: float) -> None:
    assert parse_time(text) == seconds


def test_parse_time_needs_a_zone() -> None:
    with pytest.raises(UsageError, match="give a time zone"):
        parse_time("2026-11-27T16:06:00")


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e400", "1e20"])
def test_parse_time_refuses_what_is_not_a_time(text: str) -> None:
    with pytest.raises(UsageError, match=r"--time .*: not a time"):
        parse_time(text)
