"""`modelrail gate` and `modelrail pr-report` in a GitLab job: dotenv outputs, the MR note."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelrail.cli.main import main
from modelrail.local.gitlab_api import GitLabStandIn

POLICY = """\
model: ranker
gate:
  metrics:
    roc_auc: {threshold: 0.80, greater_is_better: true}
"""
TOKEN = "glpat-cliTestToken42"
PROJECT_ID, IID = 7, 42


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "GITHUB_TOKEN",
                 "CI_JOB_TOKEN", "MODELRAIL_GITLAB_TOKEN", "HTTP_PROXY", "http_proxy",
                 "CI_MERGE_REQUEST_PROJECT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("MODELRAIL_DOTENV", str(tmp_path / "modelrail.env"))
    (tmp_path / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    return tmp_path


@pytest.fixture
def gitlab(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitLabStandIn]:
    with GitLabStandIn() as standin:
        standin.add_merge_request(PROJECT_ID, "acme/ranker", IID)
        standin.add_token(TOKEN, 77, "project_7_bot")
        monkeypatch.setenv("CI_API_V4_URL", standin.url)
        monkeypatch.setenv("CI_PROJECT_ID", str(PROJECT_ID))
        monkeypatch.setenv("CI_MERGE_REQUEST_IID", str(IID))
        monkeypatch.setenv("MODELRAIL_GITLAB_TOKEN", TOKEN)
        monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0.01")
        yield standin


def gate_report(workdir: Path, roc_auc: float) -> Path:
    candidate = workdir / "candidate.json"
    candidate.write_text(json.dumps({"roc_auc": roc_auc}), encoding="utf-8")
    report = workdir / "gate.json"
    main(["gate", "--candidate", str(candidate), "--json", str(report)])
    return report


def test_gate_outputs_are_in_the_dotenv_report(
    workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    gate_report(workdir, 0.75)

    lines = (workdir / "modelrail.env").read_text(encoding="utf-8").splitlines()
    assert "MODELRAIL_OUT_PASSED=false" in lines
    assert any(line.startswith('MODELRAIL_OUT_REPORT={"kind": "gate"') for line in lines)
    assert not any(line.startswith("MODELRAIL_OUT_MARKDOWN=") for line in lines)
    out = capsys.readouterr().out
    assert ":modelrail_gate\r\x1b[0Kmodelrail quality gate" in out
    assert "section_end:" in out


def test_pr_report_keeps_one_note_naming_the_failed_metric(
    workdir: Path, gitlab: GitLabStandIn, capsys: pytest.CaptureFixture[str],
) -> None:
    failed = gate_report(workdir, 0.75)
    assert main(["pr-report", "--gate", str(failed), "--model", "ranker"]) == 0
    passed = gate_report(workdir, 0.9)
    assert main(["pr-report", "--gate", str(passed), "--model", "ranker"]) == 0

    [note] = gitlab.notes(PROJECT_ID, IID)
    assert note["body"].startswith("<!-- modelrail:pr-report ranker -->\n")
    assert "Quality gate passed" in note["body"]
    assert [r.method for r in gitlab.requests if r.method != "GET"] == ["POST", "PUT"]
    out, err = capsys.readouterr()
    assert "merge request note created" in out
    assert "merge request note updated" in out
    assert TOKEN not in out + err


def test_pr_report_escapes_markdown_from_data(
    workdir: Path, gitlab: GitLabStandIn,
) -> None:
    failed = gate_report(workdir, 0.75)
    argv = ["pr-report", "--gate", str(failed), "--model", "ranker",
            "--job=<img src=x onerror=alert(1)>=false"]
    assert main(argv) == 1
    [note] = gitlab.notes(PROJECT_ID, IID)
    assert "<img" not in note["body"]
    assert "&lt;img" in note["body"]


def test_pr_report_without_a_token_skips_the_note_and_exits_by_the_verdict(
    workdir: Path, gitlab: GitLabStandIn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("MODELRAIL_GITLAB_TOKEN")
    passed = gate_report(workdir, 0.9)
    assert main(["pr-report", "--gate", str(passed), "--model", "ranker"]) == 0
    assert "merge request note skipped" in capsys.readouterr().err
    assert gitlab.requests == []


def test_pr_report_with_a_refused_job_token_says_which_token_to_set(
    workdir: Path, gitlab: GitLabStandIn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("MODELRAIL_GITLAB_TOKEN")
    monkeypatch.setenv("CI_JOB_TOKEN", "job-secret-99")
    passed = gate_report(workdir, 0.9)
    assert main(["pr-report", "--gate", str(passed), "--model", "ranker"]) == 0
    err = capsys.readouterr().err
    assert "set MODELRAIL_GITLAB_TOKEN" in err
    assert "job-secret-99" not in err


def test_pr_report_outside_a_merge_request_is_a_usage_error_naming_the_flag(
    workdir: Path, gitlab: GitLabStandIn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("CI_MERGE_REQUEST_IID")
    passed = gate_report(workdir, 0.9)
    assert main(["pr-report", "--gate", str(passed), "--model", "ranker"]) == 2
    assert "--pr" in capsys.readouterr().err


def test_pr_report_gitlab_down_exits_3_without_the_token(
    workdir: Path, gitlab: GitLabStandIn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    passed = gate_report(workdir, 0.9)
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    gitlab.fail_next(10)

    assert main(["pr-report", "--gate", str(passed), "--model", "ranker"]) == 3

    out, err = capsys.readouterr()
    assert "GitLab API at" in err
    assert "kept failing after 2 attempts" in err
    assert TOKEN not in out + err
    assert len(gitlab.requests) == 2
