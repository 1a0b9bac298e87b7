"""`monitor` and `shadow analyze` with the engine flags (cli/engine_flags.py): a wrong
combination exits 2 naming the flag, an unreachable PostgreSQL exits 3 after bounded
retries without showing the password, all before any log is read. The runs on each
engine: tests/integration/test_engines.py."""

from pathlib import Path

import pytest
from modelrail.cli.main import main
from modelrail.local.processes import free_port

from tests.support.builders.ab_logs import analysis_dir
from tests.support.builders.shadow_logs import POLICY as SHADOW_POLICY

POLICY = """model: ctr-ranker
monitor:
  min_rows: 1
  performance:
    attribution_window: 2m
    calibration_error: {minor: 0.2, major: 0.5}
""" + SHADOW_POLICY.removeprefix("model: ctr-ranker\n")
MONITOR = ["monitor", "--reference", "reference.csv"]
SHADOW = ["shadow", "analyze"]


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.delenv("WAREHOUSE_DSN", raising=False)
    (tmp_path / "reference.csv").write_text("price,prediction\n1,0.1\n", encoding="utf-8")
    return analysis_dir(tmp_path, monkeypatch, POLICY)


@pytest.mark.parametrize(("args", "message"), [
    ([*MONITOR, "--postgres-dsn-env", "WAREHOUSE_DSN"],
     "--postgres-dsn-env: the environment variable WAREHOUSE_DSN is not set or empty"),
    ([*MONITOR, "--engine", "spark", "--postgres-dsn-env", "WAREHOUSE_DSN"],
     "--engine spark aggregates --current and --events (Parquet), not --postgres-dsn-env"),
    ([*MONITOR, "--current", "p.jsonl", "--events", "e.jsonl", "--spark-master", "local[2]"],
     "--spark-master goes with --engine spark"),
    ([*MONITOR, "--engine", "spark", "--spark-master", "yarn", "--current", "p.parquet",
      "--events", "e.parquet"], "--spark-master: expected local, local[N], local[*] or"),
    ([*SHADOW, "--postgres-dsn-env", "WAREHOUSE_DSN"],
     "--postgres-dsn-env: the environment variable WAREHOUSE_DSN is not set or empty"),
    ([*SHADOW, "--engine", "spark", "--postgres-dsn-env", "WAREHOUSE_DSN"],
     "--engine spark aggregates --predictions (Parquet), not --postgres-dsn-env"),
    ([*SHADOW, "--predictions", "p.jsonl", "--spark-master", "local"],
     "--spark-master goes with --engine spark"),
])
def test_bad_engine_flags_exit_2_naming_the_flag(args: list[str], message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    ([*MONITOR, "--events", "e.jsonl"],
     "--events goes with --current; on PostgreSQL name the table with --events-table"),
    (MONITOR, "monitor.performance needs --events-table TABLE (the click log)"),
])
def test_file_flags_on_postgres_exit_2_naming_the_table_flag(
        args: list[str], message: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WAREHOUSE_DSN", "host=127.0.0.1 port=1 dbname=x")
    assert main([*args, "--postgres-dsn-env", "WAREHOUSE_DSN"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    [*MONITOR, "--events-table", "events"], SHADOW], ids=["monitor", "shadow"])
def test_an_unreachable_server_exits_3_after_bounded_retries(
        args: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    dsn = f"host=127.0.0.1 port={free_port()} user=postgres password=s3cret dbname=x"
    monkeypatch.setenv("WAREHOUSE_DSN", dsn)
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0")

    assert main([*args, "--postgres-dsn-env", "WAREHOUSE_DSN"]) == 3
    err = capsys.readouterr().err
    assert "PostgreSQL kept failing after 2 attempts (connecting)" in err
    assert "s3cret" not in err


@pytest.mark.parametrize("args", [
    [*MONITOR, "--current", "p.jsonl", "--postgres-dsn-env", "WAREHOUSE_DSN"],
    [*SHADOW, "--predictions", "p.jsonl", "--postgres-dsn-env", "WAREHOUSE_DSN"],
    MONITOR, SHADOW])
def test_one_source_exactly(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert "--postgres-dsn-env" in capsys.readouterr().err
