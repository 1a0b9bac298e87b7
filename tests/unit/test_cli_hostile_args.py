"""Argument values the property suite (tests/property) found crashing a command, each now
exit 2 naming the flag: issue 15's "any input ends in exit 0-4 with no traceback"."""

from pathlib import Path

import pytest
from modelrail.cli.main import main

LONG_NAME = "a" * 300  # longer than a file name may be: pathlib's is_file() raised OSError


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("KUBECONFIG", "KUBECONFIG_DATA", "GITHUB_OUTPUT",
                 "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_SHA", "c" * 40)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # never reached
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "1")
    (tmp_path / "modelrail.yaml").write_text(
        "model: m\nrollout: {name: m}\nmonitor: {min_rows: 1}\n"
        "experiment: {key: k, primary: ctr, metrics: {ctr: {type: proportion}}}\n",
        encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("flag", "value"), [("--interval", "nan"), ("--timeout", "nan"),
                                             ("--interval", "0"), ("--timeout", "-1"),
                                             ("--interval", "1e300"), ("--timeout", "inf")])
def test_rollout_wait_seconds_out_of_range_exit_2_naming_the_flag(
    capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    """NaN reached time.sleep (ValueError) and 1e300 overflowed it once a rollout was read."""
    code = main(["rollout", "wait", "--until", "healthy", flag, value,
                 "--kubeconfig", "absent"])

    assert code == 2
    assert f"{flag}: expected seconds greater than 0, at most 604800 (7 days)" \
        in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["rollout", "status", "--kubeconfig", LONG_NAME], "not found"),
    (["monitor", "--reference", LONG_NAME, "--current", "c.jsonl"], "no such file"),
    (["ab", "analyze", "--predictions", f"{LONG_NAME}.jsonl", "--events", "e.jsonl"],
     "no such file"),
    (["register", "--model-dir", LONG_NAME], "not a directory"),
])
def test_a_file_name_too_long_is_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                        message: str) -> None:
    code = main(argv)

    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err
    assert "Traceback" not in err
