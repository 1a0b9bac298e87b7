"""`modelrail ab analyze` in-process: exit codes, --json, runner outputs, bad input."""

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from modelrail.cli.main import main

from tests.support.builders.ab_documents import POLICY, stats, write_stats
from tests.support.builders.runner_files import parse_file_command


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("document", "code", "decision"), [
    (stats(), 0, "ship"),
    (stats(treatment_clicks=850), 1, "no-ship"),
    (stats(treatment_clicks=1010), 4, "keep-running"),
    (stats(treatment_units=10_600), 1, "invalid"),
])
def test_exit_code_json_outputs_and_summary(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str],
                                            document: dict[str, Any], code: int,
                                            decision: str) -> None:
    output, summary = workdir / "output", workdir / "summary.md"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    path = write_stats(workdir / "stats.json", document)

    assert main(["ab", "analyze", "--stats", path, "--json", "result.json"]) == code

    result = json.loads((workdir / "result.json").read_text(encoding="utf-8"))
    assert result["decision"] == decision
    written = parse_file_command(output.read_text(encoding="utf-8"))
    assert written["decision"] == decision
    assert json.loads(written["report"]) == result
    assert f"**{decision}**" in summary.read_text(encoding="utf-8")
    assert f"**{decision}**" in capsys.readouterr().out
    if decision == "invalid":
        assert result["metrics"] == {}
        assert written["lift"] == ""
    else:
        assert float(written["lift"]) == result["metrics"]["ctr"]["lift"]


def test_no_ship_is_annotated_on_a_runner(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    path = write_stats(workdir / "stats.json", stats(treatment_duration=285))
    assert main(["ab", "analyze", "--stats", path]) == 1
    assert "::error title=A/B test ranker-v2::guardrail session_duration" \
        in capsys.readouterr().out


def test_no_summary_flag(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = workdir / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    path = write_stats(workdir / "stats.json", stats())
    assert main(["ab", "analyze", "--stats", path, "--no-summary"]) == 0
    assert not summary.exists()


def test_malformed_statistics_exit_2_naming_the_path(workdir: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    document = stats()
    del document["metrics"]["ctr"]["treatment"]["sum"]
    path = write_stats(workdir / "stats.json", document)
    assert main(["ab", "analyze", "--stats", path]) == 2
    assert f"{path}: metrics.ctr.treatment.sum: is required" in capsys.readouterr().err


def test_a_policy_without_an_experiment_exits_2(workdir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "modelrail.yaml").write_text("model: ranker\n", encoding="utf-8")
    path = write_stats(workdir / "stats.json", stats())
    assert main(["ab", "analyze", "--stats", path]) == 2
    assert "modelrail.yaml: the experiment section is required" in capsys.readouterr().err


def test_a_bad_experiment_section_exits_2(workdir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "modelrail.yaml").write_text(POLICY + "  alpha: 2\n", encoding="utf-8")
    path = write_stats(workdir / "stats.json", stats())
    assert main(["ab", "analyze", "--stats", path]) == 2
    assert "modelrail.yaml: experiment.alpha: must be in (0, 0.5)" in capsys.readouterr().err


def test_without_the_ab_extra_the_message_says_what_to_install(
        workdir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for module in [m for m in sys.modules if m.startswith(("scipy", "modelrail.ab."))
                   and m not in ("modelrail.cli.ab", "modelrail.ab.config",
                                 "modelrail.ab.hashing")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "scipy", None)
    path = write_stats(workdir / "stats.json", stats())
    assert main(["ab", "analyze", "--stats", path]) == 2
    assert "needs the ab extra (scipy" in (err := capsys.readouterr().err)
    assert "install modelrail[ab]" in err
