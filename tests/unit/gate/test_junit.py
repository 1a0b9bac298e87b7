"""The gate's verdicts as a JUnit XML report (GitLab's MR widget and Tests tab)."""

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from modelrail.cli.main import main
from modelrail.gate.evaluate import GateResult, MetricVerdict
from modelrail.gate.junit import junit_xml, xml_text

POLICY = """\
model: ranker
gate:
  metrics:
    roc_auc: {threshold: 0.80, greater_is_better: true}
    latency_p95_ms: {threshold: 50, greater_is_better: false}
"""


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    return tmp_path


def gate(workdir: Path, **metrics: float) -> tuple[int, ElementTree.Element]:
    candidate = workdir / "candidate.json"
    candidate.write_text(json.dumps(metrics), encoding="utf-8")
    report = workdir / "junit.xml"
    code = main(["gate", "--config", "./modelrail.yaml", "--candidate", str(candidate),
                 "--junit", str(report), "--no-summary"])
    return code, parse(report.read_bytes())


def parse(document: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(document)  # noqa: S314 - the report this test just wrote


def test_one_testcase_per_metric_and_the_failure_names_metric_threshold_and_value(
    workdir: Path,
) -> None:
    code, root = gate(workdir, roc_auc=0.75, latency_p95_ms=42.0)

    assert code == 1
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(cases) == {"roc_auc", "latency_p95_ms"}
    assert cases["roc_auc"].get("classname") == "modelrail-gate.ranker"
    assert cases["roc_auc"].get("file") == "modelrail.yaml"
    failure = cases["roc_auc"].find("failure")
    assert failure is not None
    assert failure.get("type") == "threshold"
    message = failure.get("message") or ""
    assert message.startswith("roc_auc 0.75 is below threshold 0.8")
    # GitLab shows the failure's text: the verdict first, then each check.
    assert (failure.text or "").splitlines()[0] == message
    assert len((failure.text or "").splitlines()) == 2
    assert cases["latency_p95_ms"].find("failure") is None


def test_a_passing_gate_has_no_failure(workdir: Path) -> None:
    code, root = gate(workdir, roc_auc=0.9, latency_p95_ms=42.0)

    assert code == 0
    assert root.get("failures") == "0"
    assert not list(root.iter("failure"))


def test_a_missing_metric_is_a_failure_without_a_check(workdir: Path) -> None:
    _, root = gate(workdir, latency_p95_ms=42.0)

    [failure] = root.iter("failure")
    assert failure.get("type") == "no-value"
    assert "roc_auc: missing from the candidate metrics" in (failure.get("message") or "")


def test_an_unwritable_path_is_a_usage_error_naming_the_flag(
    workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    (workdir / "c.json").write_text('{"roc_auc": 0.9, "latency_p95_ms": 1}', encoding="utf-8")
    code = main(["gate", "--config", "modelrail.yaml", "--candidate", "c.json",
                 "--junit", "no/such/dir/junit.xml", "--no-summary"])
    assert code == 2
    assert "--junit no/such/dir/junit.xml: cannot write" in capsys.readouterr().err


def test_characters_xml_cannot_hold_are_spelled_out_and_secrets_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cr3t-token-value")
    name = 'a<b>&"c\x00\x1b\udc80'
    verdict = MetricVerdict(name, 0.1, None, True, False,
                            f"{name} 0.1 is below threshold 0.5 (s3cr3t-token-value)", [])
    result = GateResult("m]]>", False, None, [verdict], ["note \x07"])

    document = junit_xml(result, "modelrail.yaml")

    root = parse(document.encode("utf-8"))
    [case] = root.iter("testcase")
    assert case.get("name") == 'a<b>&"c\\x00\\x1b\\udc80'
    assert "s3cr3t-token-value" not in document
    assert xml_text("\x07") == "\\x07"
