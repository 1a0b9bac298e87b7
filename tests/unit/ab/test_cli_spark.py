"""`ab analyze --engine spark`: the flags checked, and an unreachable Spark Connect server
failing closed, before any JVM starts (the runs themselves: tests/integration/test_engines)."""

from pathlib import Path

import pytest
from modelrail.cli.main import main
from modelrail.local.processes import free_port

from tests.support.builders.ab_logs import analysis_dir

ON_SPARK = ["ab", "analyze", "--engine", "spark", "--predictions", "p.parquet",
            "--events", "e.parquet"]


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    return analysis_dir(tmp_path, monkeypatch)


@pytest.mark.parametrize(("args", "message"), [
    ([*ON_SPARK, "--spark-master", "yarn"],
     "--spark-master: expected local, local[N], local[*] or a Spark Connect URL "
     "sc://HOST[:PORT], got 'yarn'"),
    ([*ON_SPARK, "--spark-master", "local[two]"], "--spark-master: expected local"),
    (["ab", "analyze", "--engine", "spark", "--stats", "s.json"],
     "--engine spark aggregates --predictions and --events (Parquet), not --stats"),
    (["ab", "analyze", "--engine", "spark", "--postgres-dsn-env", "DSN"],
     "not --postgres-dsn-env"),
    (["ab", "analyze", "--predictions", "p.jsonl", "--events", "e.jsonl",
      "--spark-master", "local[2]"], "--spark-master goes with --engine spark"),
])
def test_bad_spark_flags_exit_2_naming_the_flag(args: list[str], message: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_connect_server_exits_3_after_bounded_retries_without_the_token(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SPARK_REMOTE", f"sc://127.0.0.1:{free_port()}/;token=s3cret-tok")
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0")

    assert main(ON_SPARK) == 3
    err = capsys.readouterr().err
    assert "Spark Connect kept failing after 2 attempts (connecting)" in err
    assert "s3cret-tok" not in err
