"""The gate's failures as a GitLab Code Quality (Code Climate) report."""

import json
from pathlib import Path

import pytest
from modelrail.cli.main import main
from modelrail.gate.code_quality import policy_line

POLICY = """\
model: ranker
gate:
  metrics:
    roc_auc: {threshold: 0.80, greater_is_better: true}
    "latency_p95_ms": {threshold: 50, greater_is_better: false}
"""
SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    return tmp_path


def gate(workdir: Path, **metrics: float) -> list[dict[str, object]]:
    candidate = workdir / "candidate.json"
    candidate.write_text(json.dumps(metrics), encoding="utf-8")
    report = workdir / "gl-code-quality-report.json"
    main(["gate", "--config", "policy/modelrail.yaml", "--candidate", str(candidate),
          "--code-quality", str(report), "--no-summary"])
    issues = json.loads(report.read_text(encoding="utf-8"))
    assert isinstance(issues, list)
    return issues


def test_each_failed_metric_is_one_issue_on_its_policy_line(workdir: Path) -> None:
    [issue] = gate(workdir, roc_auc=0.75, latency_p95_ms=42.0)

    assert issue["check_name"] == "modelrail-gate/roc_auc"
    assert issue["severity"] in SEVERITIES
    assert str(issue["description"]).startswith("Quality gate (ranker): roc_auc 0.75")
    assert issue["location"] == {"path": "policy/modelrail.yaml", "lines": {"begin": 4}}
    assert len(str(issue["fingerprint"])) == 64


def test_a_passing_gate_writes_an_empty_report(workdir: Path) -> None:
    assert gate(workdir, roc_auc=0.9, latency_p95_ms=42.0) == []


def test_the_fingerprint_names_the_failure_not_the_values(workdir: Path) -> None:
    """The MR widget compares fingerprints across pipelines: the same failing metric at
    another value is the same finding, another metric is another one."""
    [first] = gate(workdir, roc_auc=0.75, latency_p95_ms=42.0)
    [again] = gate(workdir, roc_auc=0.70, latency_p95_ms=42.0)
    both = gate(workdir, roc_auc=0.70, latency_p95_ms=60.0)

    assert first["fingerprint"] == again["fingerprint"]
    assert first["description"] != again["description"]
    assert len({issue["fingerprint"] for issue in both}) == 2
    assert both[1]["location"] == {"path": "policy/modelrail.yaml", "lines": {"begin": 5}}


def test_the_path_is_written_as_the_widget_matches_it(workdir: Path) -> None:
    candidate = workdir / "candidate.json"
    candidate.write_text(json.dumps({"roc_auc": 0.5, "latency_p95_ms": 1.0}), encoding="utf-8")
    report = workdir / "cq.json"
    main(["gate", "--config", "./policy/../policy/modelrail.yaml", "--candidate",
          str(candidate), "--code-quality", str(report), "--no-summary"])
    [issue] = json.loads(report.read_text(encoding="utf-8"))
    assert issue["location"]["path"] == "policy/modelrail.yaml"


def test_an_unwritable_report_is_a_usage_error_naming_the_flag(
    workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    candidate = workdir / "candidate.json"
    candidate.write_text(json.dumps({"roc_auc": 0.5, "latency_p95_ms": 1.0}), encoding="utf-8")
    argv = ["gate", "--config", "policy/modelrail.yaml", "--candidate", str(candidate),
            "--code-quality", "no/such/dir/cq.json", "--no-summary"]
    assert main(argv) == 2
    assert "--code-quality no/such/dir/cq.json: cannot write" in capsys.readouterr().err


def test_policy_line_matches_keys_only() -> None:
    text = "# roc_auc is the main metric\nmodel: roc_auc\ngate:\n  metrics:\n    roc_auc: {}\n"
    assert policy_line(text, "roc_auc") == 5
    assert policy_line(text, "absent") == 1
