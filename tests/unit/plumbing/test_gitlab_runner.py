"""Runner I/O on GitLab: outputs as a dotenv report, progress as job log sections."""

from pathlib import Path

import pytest
from modelrail.plumbing import dotenv, runner
from modelrail.plumbing.ci_platform import current_platform
from modelrail.plumbing.log_sections import log_section, section_end, section_start

PLATFORM_VARS = ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITLAB_CI",
                 "MODELRAIL_DOTENV")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PLATFORM_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A GitLab job that names its dotenv report."""
    path = tmp_path / "modelrail.env"
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("MODELRAIL_DOTENV", str(path))
    return path


def test_platform_is_read_from_each_ci_systems_own_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert current_platform() == "local"
    monkeypatch.setenv("GITLAB_CI", "true")
    assert current_platform() == "gitlab"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert current_platform() == "github"


# -- dotenv outputs ---------------------------------------------------------------------

def test_outputs_are_key_value_lines_with_prefixed_gitlab_keys(report: Path) -> None:
    runner.set_output("passed", "true")
    runner.set_output("exit-code", "1")
    runner.set_output("report", '{"model": "ranker", "note": "a = b"}')

    assert report.read_text(encoding="utf-8") == (
        "MODELRAIL_OUT_PASSED=true\n"
        "MODELRAIL_OUT_EXIT_CODE=1\n"
        'MODELRAIL_OUT_REPORT={"model": "ranker", "note": "a = b"}\n')


def test_github_files_are_not_written_on_gitlab(
    report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    github_output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(github_output))
    runner.set_output("passed", "true")
    assert not github_output.exists()
    assert report.read_text(encoding="utf-8") == "MODELRAIL_OUT_PASSED=true\n"


@pytest.mark.parametrize(("value", "why"), [
    ("line 1\nline 2", "multi-line"),
    ("a\rb", "multi-line"),
    (" padded", "leading or trailing blanks"),
    ("x" * dotenv.MAX_BYTES, "5120"),
])
def test_a_value_gitlab_cannot_carry_is_left_out_and_said(
    report: Path, value: str, why: str, capsys: pytest.CaptureFixture[str],
) -> None:
    runner.set_output("passed", "true")
    runner.set_output("markdown", value)

    assert report.read_text(encoding="utf-8") == "MODELRAIL_OUT_PASSED=true\n"
    err = capsys.readouterr().err
    assert "output markdown is not in the dotenv report" in err
    assert why in err


def test_the_report_stays_within_the_variable_limit(report: Path) -> None:
    for index in range(dotenv.MAX_VARIABLES):
        runner.set_output(f"v{index}", "1")
    assert dotenv.write_output("one-too-many", "1") == \
        "the report holds 20 variables already (GitLab's limit)"
    # A key already there may be written again: GitLab keeps the last value.
    assert dotenv.write_output("v0", "2") is None
    lines = report.read_text(encoding="utf-8").splitlines()
    assert len({line.partition("=")[0] for line in lines}) == dotenv.MAX_VARIABLES


def test_no_dotenv_file_named_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.chdir(tmp_path)
    runner.set_output("passed", "true")
    assert list(tmp_path.iterdir()) == []


def test_an_undecodable_value_is_written_escaped(report: Path) -> None:
    runner.set_output("error", "bad \udcff byte")
    assert report.read_text(encoding="utf-8") == "MODELRAIL_OUT_ERROR=bad \\udcff byte\n"


# -- job log sections -------------------------------------------------------------------

def test_section_markers_follow_gitlabs_format() -> None:
    assert section_start("modelrail_gate", "Quality gate", now=1700000000) == \
        "\x1b[0Ksection_start:1700000000:modelrail_gate\r\x1b[0KQuality gate"
    assert section_start("s", "h", collapsed=True, now=1) == \
        "\x1b[0Ksection_start:1:s[collapsed=true]\r\x1b[0Kh"
    assert section_end("modelrail_gate", now=1700000009) == \
        "\x1b[0Ksection_end:1700000009:modelrail_gate\r\x1b[0K"


def test_data_cannot_break_a_section_marker() -> None:
    start = section_start("model ranker:v2[x]", "line 1\nsection_end:0:x", now=5)
    assert start == "\x1b[0Ksection_start:5:model_ranker_v2_x_\r\x1b[0Kline 1 section_end:0:x"
    assert "\n" not in start


def test_log_section_wraps_output_on_gitlab_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    with log_section("work", "Working"):
        print("inside")
    assert capsys.readouterr().out == "inside\n"

    monkeypatch.setenv("GITLAB_CI", "true")
    with log_section("work", "Working"):
        print("inside")
    lines = capsys.readouterr().out.split("\n")  # the markers hold a \r of their own
    assert lines[0].startswith("\x1b[0Ksection_start:")
    assert lines[0].endswith(":work\r\x1b[0KWorking")
    assert lines[1] == "inside"
    assert lines[2].startswith("\x1b[0Ksection_end:")
    assert lines[2].endswith(":work\r\x1b[0K")


def test_log_section_is_closed_when_the_work_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITLAB_CI", "true")
    with pytest.raises(RuntimeError), log_section("work", "Working"):
        raise RuntimeError("boom")
    assert "section_end:" in capsys.readouterr().out


def test_the_summary_is_a_collapsed_log_section_on_gitlab(
    report: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    runner.append_summary("### Quality gate passed\n")
    out = capsys.readouterr().out
    assert ":modelrail_summary[collapsed=true]\r" in out
    assert "### Quality gate passed\n" in out
    assert "section_end:" in out
