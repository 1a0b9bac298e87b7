"""Runner I/O: step outputs, job summary, annotations and the pull request number."""

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelrail.errors import ExitCode, UsageError
from modelrail.plumbing import runner

from tests.support.builders.runner_files import parse_file_command

RUNNER_VARS = ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "GITHUB_EVENT_PATH")


@pytest.fixture(autouse=True)
def _clean_runner_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in RUNNER_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def output_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "github_output"
    path.touch()
    monkeypatch.setenv("GITHUB_OUTPUT", str(path))
    return path


def test_parser_self_check() -> None:
    assert parse_file_command("a=1\nb<<X\nl1\nl2\nX\nc=x<<y\n") == {
        "a": "1", "b": "l1\nl2", "c": "x<<y"}
    with pytest.raises(ValueError, match="not found"):
        parse_file_command("b<<X\nl1\n")


# -- set_output -------------------------------------------------------------------------


def test_set_output_writes_the_heredoc_format(output_file: Path) -> None:
    runner.set_output("passed", "true")

    text = output_file.read_text(encoding="utf-8")
    match = re.fullmatch(r"passed<<(modelrail_[0-9a-f]{16})\ntrue\n\1\n", text)
    assert match, text


@pytest.mark.parametrize(
    "value",
    [
        "EOF\nline<<EOF\nEOF",
        "### Gate\n\n| a | b |\n|---|---|\nEOF\n  EOF  \nmodelrail_\nx=y\n",
        "",
        "\n\n",
        '{"passed": false, "notes": ["a\\nb"]}',
        "ends without newline",
    ],
)
def test_multiline_values_round_trip(output_file: Path, value: str) -> None:
    output_file.write_text("earlier=kept\n", encoding="utf-8")

    runner.set_output("report", value)
    runner.set_output("passed", "false")

    assert parse_file_command(output_file.read_text(encoding="utf-8")) == {
        "earlier": "kept", "report": value, "passed": "false"}


def test_each_output_gets_a_fresh_delimiter(output_file: Path) -> None:
    runner.set_output("a", "1")
    runner.set_output("b", "2")

    delimiters = re.findall(r"^\w+<<(\S+)$", output_file.read_text(encoding="utf-8"), re.M)
    assert len(set(delimiters)) == 2


def test_delimiter_that_occurs_in_the_value_is_not_used(
    output_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens: Iterator[str] = iter(["0000000000000000", "1111111111111111"])
    monkeypatch.setattr(secrets, "token_hex", lambda _n: next(tokens))
    value = "a\nmodelrail_0000000000000000\nb"

    runner.set_output("tricky", value)

    text = output_file.read_text(encoding="utf-8")
    assert text.startswith("tricky<<modelrail_1111111111111111\n")
    assert parse_file_command(text) == {"tricky": value}


@pytest.mark.parametrize("setting", [None, ""])
def test_nothing_is_written_without_github_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None
) -> None:
    monkeypatch.chdir(tmp_path)
    if setting is not None:
        monkeypatch.setenv("GITHUB_OUTPUT", setting)

    runner.set_output("passed", "true")
    runner.append_summary("# summary")

    assert list(tmp_path.iterdir()) == []


# -- job summary ------------------------------------------------------------------------


def test_append_summary_appends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# from an earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    runner.append_summary("### first\n\n| a |\n\n\n")
    runner.append_summary("### second")

    assert summary.read_text(encoding="utf-8") == (
        "# from an earlier step\n### first\n\n| a |\n\n### second\n\n")


# -- annotations ------------------------------------------------------------------------


def test_format_annotation_escapes_message_data() -> None:
    line = runner.format_annotation("error", "100% sure:\r\nauc, f1 failed")

    assert line == "::error::100%25 sure:%0D%0Aauc, f1 failed"


def test_format_annotation_escapes_properties() -> None:
    line = runner.format_annotation("warning", "m", title="Gate: auc, 50%\nx",
                                    file="dir:a,b.py")

    assert line == "::warning title=Gate%3A auc%2C 50%25%0Ax,file=dir%3Aa%2Cb.py::m"


def test_format_annotation_percent_is_escaped_first() -> None:
    # A literal "%0A" in the text must stay literal, not become a newline on the runner.
    assert runner.format_annotation("notice", "%0A") == "::notice::%250A"


def test_annotate_prints_a_workflow_command_on_a_runner(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")

    runner.annotate("error", "line1\nline2", title="Quality gate: auc")

    out, err = capsys.readouterr()
    assert out == "::error title=Quality gate%3A auc::line1%0Aline2\n"
    assert err == ""


def test_annotate_prints_plain_text_elsewhere(capsys: pytest.CaptureFixture[str]) -> None:
    runner.annotate("warning", "careful", title="T")
    runner.annotate("notice", "fyi")

    out, err = capsys.readouterr()
    assert out == ""
    assert err == "warning: T: careful\nnotice: fyi\n"


# -- pull request number ----------------------------------------------------------------


def write_event(tmp_path: Path, payload: object) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def test_pull_request_number_from_top_level_number(tmp_path: Path) -> None:
    path = write_event(tmp_path, {"number": 42, "pull_request": {"number": 42,
                                                                   "base": {"sha": "abc"}}})

    assert runner.pull_request_number(str(path)) == 42


def test_pull_request_number_from_pull_request_object(tmp_path: Path) -> None:
    path = write_event(tmp_path, {"action": "opened", "pull_request": {"number": 17}})

    assert runner.pull_request_number(str(path)) == 17


def test_pull_request_number_from_github_event_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(write_event(tmp_path, {"number": 5})))

    assert runner.pull_request_number() == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read the event payload"),
        ('{"ref": "refs/heads/main"}', "has no pull request number"),
        ('{"number": "42"}', "has no pull request number"),
        ('{"pull_request": {"number": 4.5}}', "has no pull request number"),
    ],
)
def test_bad_event_file_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "event.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(UsageError) as caught:
        runner.pull_request_number(str(path))

    assert caught.value.exit_code == ExitCode.USAGE
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_missing_event_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"

    with pytest.raises(UsageError, match=re.escape(str(path))):
        runner.pull_request_number(str(path))


def test_no_event_at_all_asks_for_pr_flag() -> None:
    with pytest.raises(UsageError, match="--pr"):
        runner.pull_request_number()


@pytest.mark.parametrize("content", ["[]", '"text"', '{"pull_request": "oops"}'])
def test_event_that_is_not_an_object_is_a_usage_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "event.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(UsageError):
        runner.pull_request_number(str(path))


def test_an_undecodable_argument_is_written_escaped(output_file: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """A path the OS could not decode arrives as a lone surrogate; it must not crash the
    write of a step output or the summary (found by tests/property/test_cli_arguments)."""
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    runner.set_output("error", "\udcff: metrics file not found")
    runner.append_summary("\udcff")
    assert parse_file_command(output_file.read_text())["error"] == \
        "\\udcff: metrics file not found"
    assert summary.read_text() == "\\udcff\n\n"
