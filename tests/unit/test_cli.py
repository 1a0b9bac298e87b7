"""The `modelrail` command in-process: exit codes, --json, runner files, pr-report."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from modelrail import __version__
from modelrail.cli.main import main
from modelrail.local.github_api import GitHubStandIn

from tests.support.builders.runner_files import parse_file_command

POLICY = """\
model: ranker
gate:
  metrics:
    roc_auc: {threshold: 0.80, min_relative_change: 0.0, greater_is_better: true}
    latency_p95_ms: {threshold: 50, greater_is_better: false}
"""

ENV_VARS = (
    "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "GITHUB_EVENT_PATH",
    "GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL", "MLFLOW_TRACKING_URI",
    "MODELRAIL_RETRY_ATTEMPTS", "MODELRAIL_RETRY_BASE_DELAY", "MODELRAIL_HTTP_TIMEOUT",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
)


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    return tmp_path


def metrics(path: Path, **values: float) -> Path:
    path.write_text(json.dumps(values), encoding="utf-8")
    return path


@pytest.fixture
def good(workdir: Path) -> Path:
    return metrics(workdir / "good.json", roc_auc=0.86, latency_p95_ms=42.0)


@pytest.fixture
def bad(workdir: Path) -> Path:
    return metrics(workdir / "bad.json", roc_auc=0.75, latency_p95_ms=42.0)


@pytest.fixture
def runner_files(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    output, summary = workdir / "output", workdir / "summary.md"
    output.touch()
    summary.touch()
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    return output, summary




def gate_report(workdir: Path, candidate: Path, name: str) -> Path:
    path = workdir / name
    main(["gate", "--candidate", str(candidate), "--json", str(path)])
    return path


@pytest.fixture
def reports(workdir: Path, good: Path, bad: Path) -> tuple[Path, Path]:
    """`gate --json` reports: (failed, passed)."""
    return gate_report(workdir, bad, "failed.json"), gate_report(workdir, good, "passed.json")


# -- gate -------------------------------------------------------------------------------


def test_gate_output_lines_cannot_be_forged_into_workflow_commands(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Metric names come from the PR's own files: a newline in one must not start a line
    the runner reads as a command (`::set-output name=passed::true`)."""
    forged = "auc\n::set-output name=passed::true\n::notice::ok"
    (workdir / "modelrail.yaml").write_text(
        f"model: ranker\ngate:\n  metrics:\n    {json.dumps(forged)}: "
        "{threshold: 0.8, greater_is_better: true}\n", encoding="utf-8")
    candidate = workdir / "candidate.json"
    candidate.write_text(json.dumps({forged: 0.5}), encoding="utf-8")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")

    assert main(["gate", "--candidate", str(candidate)]) == 1

    out, err = capsys.readouterr()
    commands = [line for line in (out + err).splitlines() if line.startswith("::")]
    assert any(line.startswith("::error ") for line in commands)
    smuggled = [line for line in commands if not line.startswith(("::error ", "::add-mask::"))]
    assert smuggled == []


def test_gate_pass_exits_0(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "--candidate", str(good)]) == 0

    out, err = capsys.readouterr()
    assert "quality gate passed" in out
    assert ("note: no champion compared: neither --champion nor --champion-model was given; "
            "champion-relative checks were skipped") in out
    assert err == ""


def test_gate_fail_exits_1_and_says_why(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "--candidate", str(bad)]) == 1

    out, err = capsys.readouterr()
    assert "FAIL  roc_auc 0.75 is below threshold 0.8, off by 0.05" in out
    assert "quality gate FAILED" in out
    assert "error: Quality gate: roc_auc: roc_auc 0.75 is below threshold 0.8" in err


def test_gate_fail_annotates_on_a_runner(
    bad: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")

    assert main(["gate", "--candidate", str(bad)]) == 1

    out = capsys.readouterr().out
    assert "::error title=Quality gate%3A roc_auc::roc_auc 0.75 is below" in out


@pytest.mark.parametrize(
    ("policy", "named"),
    [
        (POLICY.replace("threshold: 50", "threshold: fifty"),
         "gate.metrics.latency_p95_ms.threshold"),
        (POLICY.replace("greater_is_better: false", "greater_is_better: 'no'"),
         "gate.metrics.latency_p95_ms.greater_is_better"),
        (POLICY + "rollouts: {}\n", "'rollouts'"),
        ("model: [ranker\n", "not valid YAML"),
        ("model: ranker\n", "gate.metrics is required"),
    ],
)
def test_bad_config_exits_2_naming_the_key(
    workdir: Path, good: Path, capsys: pytest.CaptureFixture[str], policy: str, named: str
) -> None:
    (workdir / "modelrail.yaml").write_text(policy, encoding="utf-8")

    assert main(["gate", "--candidate", str(good)]) == 2

    out, err = capsys.readouterr()
    assert named in err
    assert "modelrail.yaml" in err
    assert "Traceback" not in out + err


def test_missing_files_exit_2_naming_the_file(
    workdir: Path, good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gate", "--config", "other.yaml", "--candidate", str(good)]) == 2
    assert "other.yaml: policy file not found" in capsys.readouterr().err

    assert main(["gate", "--candidate", "nope.json"]) == 2
    assert "nope.json: metrics file not found" in capsys.readouterr().err

    assert main(["gate", "--candidate", str(good), "--champion", "champ.json"]) == 2
    assert "champ.json: metrics file not found" in capsys.readouterr().err


def test_non_utf8_policy_exits_2_without_traceback(workdir: Path, good: Path) -> None:
    (workdir / "modelrail.yaml").write_bytes((POLICY + "# propriétaire\n").encode("latin-1"))

    assert main(["gate", "--candidate", str(good)]) == 2


def test_json_file_has_the_report(workdir: Path, bad: Path) -> None:
    out = workdir / "gate.json"

    assert main(["gate", "--candidate", str(bad), "--json", str(out)]) == 1

    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["passed"] is False
    assert report["model"] == "ranker"
    assert report["champion"] is None
    by_name = {m["name"]: m for m in report["metrics"]}
    assert set(by_name) == {"roc_auc", "latency_p95_ms"}
    assert by_name["roc_auc"]["candidate"] == 0.75
    assert by_name["roc_auc"]["passed"] is False
    assert by_name["latency_p95_ms"]["passed"] is True


def test_unwritable_json_path_exits_2(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "--candidate", str(good), "--json", "no/such/dir/gate.json"]) == 2
    assert "--json no/such/dir/gate.json: cannot write" in capsys.readouterr().err


def test_runner_outputs_and_summary(
    workdir: Path, bad: Path, runner_files: tuple[Path, Path]
) -> None:
    output, summary = runner_files
    json_path = workdir / "gate.json"

    assert main(["gate", "--candidate", str(bad), "--json", str(json_path)]) == 1

    outputs = parse_file_command(output.read_text(encoding="utf-8"))
    assert outputs["passed"] == "false"
    assert json.loads(outputs["report"]) == json.loads(json_path.read_text(encoding="utf-8"))
    markdown = summary.read_text(encoding="utf-8")
    assert outputs["markdown"].strip() == markdown.strip()
    assert "Quality gate failed: <code>ranker</code>" in markdown
    assert "| metric | candidate | champion | change | required | result |" in markdown
    assert re.search(r"^\| <code>roc\\_auc</code> \| 0\.75 \| .* \| ❌ \|$", markdown, re.M)
    assert re.search(r"^\| <code>latency\\_p95\\_ms</code> \| 42 \| .* \| ✅ \|$", markdown, re.M)


def test_runner_outputs_on_pass(good: Path, runner_files: tuple[Path, Path]) -> None:
    output, summary = runner_files

    assert main(["gate", "--candidate", str(good)]) == 0

    assert parse_file_command(output.read_text(encoding="utf-8"))["passed"] == "true"
    assert "Quality gate passed" in summary.read_text(encoding="utf-8")


@pytest.mark.parametrize(("candidate_auc", "code"), [(0.84, 1), (0.85, 0), (0.86, 0)])
def test_champion_file_enables_relative_checks(
    workdir: Path, capsys: pytest.CaptureFixture[str], candidate_auc: float, code: int
) -> None:
    champion = metrics(workdir / "champion.yaml", roc_auc=0.85, latency_p95_ms=40.0)
    candidate = metrics(workdir / "candidate.json", roc_auc=candidate_auc, latency_p95_ms=45.0)
    out = workdir / "gate.json"

    assert main(["gate", "--candidate", str(candidate), "--champion", str(champion),
                 "--json", str(out)]) == code

    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["champion"] == str(champion)
    assert report["notes"] == []
    roc = report["metrics"][0]
    assert roc["champion"] == 0.85
    assert [c["kind"] for c in roc["checks"]] == ["threshold", "min_relative_change"]
    assert "no champion" not in capsys.readouterr().out


def test_nan_candidate_report_is_strict_json(workdir: Path) -> None:
    candidate = workdir / "nan.json"
    candidate.write_text('{"roc_auc": NaN, "latency_p95_ms": 40}', encoding="utf-8")
    out = workdir / "gate.json"

    assert main(["gate", "--candidate", str(candidate), "--json", str(out)]) == 1

    def reject(token: str) -> Any:
        raise ValueError(f"non-standard JSON constant {token}")

    json.loads(out.read_text(encoding="utf-8"), parse_constant=reject)


# -- pr-report --------------------------------------------------------------------------


def test_pr_report_exit_with_gate(
    reports: tuple[Path, Path], runner_files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    failed, passed = reports
    _, summary = runner_files
    summary.write_text("", encoding="utf-8")
    capsys.readouterr()

    args = ["pr-report", "--model", "m", "--no-comment", "--exit-with-gate", "--gate"]
    assert main([*args, str(failed)]) == 1
    assert "FAIL  roc_auc 0.75 is below threshold 0.8" in capsys.readouterr().out
    assert main([*args, str(passed)]) == 0
    assert main(["pr-report", "--model", "m", "--no-comment", "--gate", str(failed)]) == 0

    text = summary.read_text(encoding="utf-8")
    assert text.count("Quality gate failed") == 2
    assert text.count("Quality gate passed") == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"passed": true}', "not a modelrail gate report"),
        ('{"passed": true, "model": "m", "metrics": [{"name": "a"}]}',
         "not a modelrail gate report"),
        ('{"kind": "gate", "schema_version": 2, "passed": true, "model": "m", "metrics": []}',
         "--gate gate.json: schema_version 2 is not understood: this modelrail reads gate "
         "documents of schema_version 1"),
        ('{"kind": "log-check", "schema_version": 1, "passed": true}',
         "--gate gate.json: kind 'log-check': expected a 'gate' document"),
    ],
)
def test_pr_report_bad_gate_file_exits_2(
    workdir: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    (workdir / "gate.json").write_text(content, encoding="utf-8")

    assert main(["pr-report", "--gate", "gate.json", "--model", "m", "--no-comment"]) == 2

    out, err = capsys.readouterr()
    assert "--gate" in err
    assert message in err
    assert "Traceback" not in out + err


def test_pr_report_missing_gate_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pr-report", "--gate", "none.json", "--model", "m", "--no-comment"]) == 2
    assert "--gate none.json: file not found" in capsys.readouterr().err


def test_pr_report_without_token_skips_the_comment(
    workdir: Path, good: Path, runner_files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = gate_report(workdir, good, "gate.json")
    capsys.readouterr()

    assert main(["pr-report", "--gate", str(report), "--model", "m"]) == 0

    assert "no GITHUB_TOKEN" in capsys.readouterr().err
    assert "Quality gate passed" in runner_files[1].read_text(encoding="utf-8")


@pytest.fixture
def github(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
    """GitHub at a local stand-in, a token, a repository and a pull_request event for #9."""
    event = workdir / "event.json"
    event.write_text(json.dumps({"number": 9, "pull_request": {"number": 9}}), "utf-8")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    with GitHubStandIn() as standin:
        monkeypatch.setenv("GITHUB_API_URL", standin.url)
        monkeypatch.setenv("GITHUB_TOKEN", "ghs_cliTestToken")
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/ranker")
        monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0.01")
        yield standin


def test_pr_report_comment_is_sticky_across_reruns(
    reports: tuple[Path, Path], github: GitHubStandIn, runner_files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    failed, passed = reports
    # no --pr: the number comes from the event payload (GITHUB_EVENT_PATH)

    assert main(["pr-report", "--gate", str(failed), "--model", "ranker"]) == 0
    assert main(["pr-report", "--gate", str(failed), "--model", "ranker"]) == 0
    assert main(["pr-report", "--gate", str(passed), "--model", "ranker"]) == 0

    [comment] = github.comments("acme/ranker", 9)
    assert comment["body"].startswith("<!-- modelrail:pr-report ranker -->\n")
    assert "Quality gate passed" in comment["body"]
    writes = [r.method for r in github.requests if r.path.startswith("/repos/")
              and r.method != "GET"]
    assert writes == ["POST", "PATCH"]
    out = capsys.readouterr().out
    assert "PR comment created" in out
    assert "PR comment unchanged" in out
    assert "PR comment updated" in out
    outputs = parse_file_command(runner_files[0].read_text(encoding="utf-8"))
    assert outputs["comment-url"] == comment["html_url"]


def test_pr_report_forbidden_comment_still_exits_0(
    workdir: Path, good: Path, github: GitHubStandIn, runner_files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = gate_report(workdir, good, "gate.json")
    github.deny_writes()

    assert main(["pr-report", "--gate", str(report), "--model", "ranker", "--pr", "3"]) == 0

    err = capsys.readouterr().err
    assert "PR comment skipped" in err
    assert "Resource not accessible by integration" in err
    assert "ghs_cliTestToken" not in err
    assert "Quality gate passed" in runner_files[1].read_text(encoding="utf-8")


def test_pr_report_github_down_exits_3(
    workdir: Path, good: Path, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = gate_report(workdir, good, "gate.json")
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    github.always_fail()

    assert main(["pr-report", "--gate", str(report), "--model", "ranker", "--pr", "3"]) == 3

    out, err = capsys.readouterr()
    assert "kept failing after 2 attempts" in err
    assert "ghs_cliTestToken" not in out + err
    assert len(github.requests) == 2


# -- pr-report when the check reached no verdict, and log-check -----------------------------


def test_gate_that_cannot_reach_mlflow_exits_3_and_hands_its_error_on(
    good: Path, runner_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0.01")

    assert main(["gate", "--candidate", str(good), "--champion-model"]) == 3

    error = parse_file_command(runner_files[0].read_text(encoding="utf-8"))["error"]
    assert error.startswith("MLflow at http://127.0.0.1:9 kept failing after 2 attempts")


def test_pr_report_explains_an_unreachable_mlflow_and_fails_with_its_code(
    github: GitHubStandIn, runner_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["pr-report", "--model", ".", "--gate-exit-code", "3",
            "--gate-error", "MLflow at http://mlflow:5000 kept failing after 4 attempts",
            "--mlflow-uri", "http://mlflow:5000", "--job", "Model tests=true",
            "--job", "Gate against the champion=false"]

    assert main(argv) == 3

    [comment] = github.comments("acme/ranker", 9)
    assert comment["body"].startswith("<!-- modelrail:pr-report . -->")
    for text in (comment["body"], runner_files[1].read_text(encoding="utf-8")):
        assert "Did not succeed: **Gate against the champion**." in text
        assert "Quality gate could not run: MLflow unreachable" in text
        assert ("MLflow at <code>http://mlflow:5000</code> could not be reached after retries"
                in text)
        assert "re-run this check when MLflow is back" in text
    assert "the gate stopped with exit code 3" in capsys.readouterr().out


def test_pr_report_names_a_failed_job_and_quotes_a_configuration_error(
    runner_files: tuple[Path, Path],
) -> None:
    argv = ["pr-report", "--model", ".", "--no-comment", "--job=Model tests=false",
            "--job=Reproduce and diff=true", "--gate-exit-code=2",
            "--gate-error=-modelrail.yaml: gate: unknown key 'metric'"]

    assert main(argv) == 2

    summary = runner_files[1].read_text(encoding="utf-8")
    assert "Did not succeed: **Model tests**." in summary
    assert "Quality gate could not run: configuration error" in summary
    assert "\\-modelrail.yaml: gate: unknown key 'metric'" in summary


def test_pr_report_fails_on_a_failed_job_even_when_the_gate_passed(
    reports: tuple[Path, Path], runner_files: tuple[Path, Path],
) -> None:
    _, passed = reports
    argv = ["pr-report", "--model", ".", "--no-comment", "--gate", str(passed)]

    assert main([*argv, "--job", "Model tests=true"]) == 0
    assert main([*argv, "--job", "Model tests=false"]) == 1
    summary = runner_files[1].read_text(encoding="utf-8")
    assert summary.count("Quality gate passed") == 2
    assert summary.count("Did not succeed: **Model tests**.") == 1


@pytest.mark.parametrize(("argv", "message"), [
    ([], "--gate: no gate report, and no failed --job"),
    (["--job", "Model tests=true"], "--gate: no gate report"),
    (["--gate-exit-code", "1"], "--gate: no gate report"),
    (["--job", "Model tests"], "--job: expected NAME=true or NAME=false, got 'Model tests'"),
    (["--job", "Model tests=skipped"], "--job: expected NAME=true or NAME=false"),
    (["--gate-exit-code", "3"], "--model: needed to keep the PR comment"),
])
def test_pr_report_with_nothing_to_explain_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["pr-report", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("content", "says"), [
    (json.dumps({"passed": False, "stage": "log-command",
                 "message": "the log command exited 1", "tail": "ValueError: tree\n",
                 "run_id": None, "model_uri": None}),
     "throwaway MLflow store, it failed: the log command exited 1."),
    ("", "throwaway MLflow store, it could not be checked: the logging check sent no result"),
])
def test_pr_report_fails_when_the_release_would_fail_at_logging(
    reports: tuple[Path, Path], workdir: Path, runner_files: tuple[Path, Path],
    content: str, says: str,
) -> None:
    _, passed = reports
    (workdir / "log-check.json").write_text(content, encoding="utf-8")

    assert main(["pr-report", "--model", ".", "--no-comment", "--exit-with-gate",
                 "--gate", str(passed), "--log-check", "log-check.json"]) == 1

    summary = runner_files[1].read_text(encoding="utf-8")
    assert "Quality gate passed" in summary
    assert "### ❌ The release would fail at logging the model" in summary
    assert says in summary


def test_pr_report_refuses_a_log_check_report_of_a_newer_version(
    reports: tuple[Path, Path], workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    _, passed = reports
    (workdir / "log-check.json").write_text(json.dumps(
        {"kind": "log-check", "schema_version": 2, "passed": True, "stage": "logged",
         "message": "ok", "tail": "", "run_id": "r", "model_uri": "runs:/r/model"}),
        encoding="utf-8")

    assert main(["pr-report", "--model", ".", "--no-comment", "--gate", str(passed),
                 "--log-check", "log-check.json"]) == 2
    assert ("--log-check log-check.json: schema_version 2 is not understood: this modelrail "
            "reads log-check documents of schema_version 1") in capsys.readouterr().err


@pytest.fixture
def file_store_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """log-check allows MLflow's file store in its own process: undone after the test."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


@pytest.mark.usefixtures("file_store_allowed")
def test_log_check_of_a_failing_command_exits_1_with_its_outputs(
    workdir: Path, runner_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["log-check", "--command", "echo 'cannot pickle'; exit 4",
                 "--json", "proof.json"]) == 1

    outputs = parse_file_command(runner_files[0].read_text(encoding="utf-8"))
    assert outputs["passed"] == "false"
    report = json.loads(outputs["report"])
    assert report == json.loads((workdir / "proof.json").read_text(encoding="utf-8"))
    assert (report["stage"], report["tail"]) == ("log-command", "cannot pickle\n")
    out, err = capsys.readouterr()
    assert "cannot pickle" in out
    assert "The release would fail at logging the model: the log command exited 4" in err


def test_log_check_refuses_a_bad_artifact_path_before_running_anything(
    workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["log-check", "--command", "touch ran", "--artifact-path", "../x"]) == 2
    assert not (workdir / "ran").exists()
    assert "--artifact-path" in capsys.readouterr().err


# -- argparse -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["deploy"], [], ["gate"], ["log-check"], ["gate", "--candidate", "x",
                                                               "--champion", "a",
                                                               "--champion-model", "m@c"]],
)
def test_usage_errors_from_argparse_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)

    assert caught.value.code == 2
    assert "usage: modelrail" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


def test_version_on_a_runner_prints_only_the_version(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """install-modelrail.sh writes `version=$(modelrail version)` to GITHUB_OUTPUT: an
    `::add-mask::` line in it breaks the step."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_a-token-to-mask")

    assert main(["version"]) == 0
    assert capsys.readouterr().out == f"{__version__}\n"


def test_pr_report_exit_with_gate_recomputes_a_forged_pass(
    reports: tuple[Path, Path], workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    failed, _ = reports
    report = json.loads(failed.read_text(encoding="utf-8"))
    forged = workdir / "forged.json"
    forged.write_text(json.dumps({**report, "passed": True}), encoding="utf-8")
    malformed = workdir / "malformed.json"
    malformed.write_text(json.dumps({**report, "passed": "true"}), encoding="utf-8")
    capsys.readouterr()

    args = ["pr-report", "--model", "m", "--no-comment", "--exit-with-gate", "--gate"]
    assert main([*args, str(forged)]) == 1
    assert "FAIL  roc_auc 0.75 is below threshold 0.8" in capsys.readouterr().out
    assert main([*args, str(malformed)]) == 2
    assert "passed" in capsys.readouterr().err


def test_pr_report_from_a_hostile_gate_report_opens_no_markdown(
    reports: tuple[Path, Path], workdir: Path, github: GitHubStandIn,
    runner_files: tuple[Path, Path],
) -> None:
    from tests.support.markdown_check import HOSTILE, assert_inert

    def comment(name: str, number: int) -> str:
        report = json.loads(reports[0].read_text(encoding="utf-8"))
        report["model"] = name
        report["notes"] = [f"{name} note"]
        for entry in report["metrics"]:
            entry["reason"] = f"{name}: {entry['reason']}"
        (workdir / "hostile.json").write_text(json.dumps(report), encoding="utf-8")
        argv = ["pr-report", "--gate", "hostile.json", "--pr", str(number), "--base-sha", name]
        assert main(argv) == 0
        [posted] = github.comments("acme/ranker", number)
        return str(posted["body"])

    benign, hostile = comment("ranker", 1), comment(HOSTILE, 2)

    marker, _, body = hostile.partition("\n")
    assert marker.startswith("<!-- modelrail:pr-report x%7Cy%60%0A%23%23%20Quality")
    assert marker.count("-->") == 1
    assert marker.endswith(" -->")
    assert_inert(benign.partition("\n")[2], body)
    assert "<!--" not in runner_files[1].read_text(encoding="utf-8")
