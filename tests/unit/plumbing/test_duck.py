"""`modelrail.plumbing.duck`: the memory limit from MODELRAIL_DUCKDB_MEMORY reaches DuckDB, a bad
value is a usage error naming the variable, the spill directory lives under RUNNER_TEMP
and goes away, and a query that does not fit exits 2 through the CLI, not a traceback."""

import os
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from modelrail.cli.main import main
from modelrail.errors import UsageError
from modelrail.plumbing import duck

from tests.support.builders.ab_logs import analysis_dir


def _setting(connection: duckdb.DuckDBPyConnection, name: str) -> str:
    row = connection.execute("SELECT current_setting(?)", [name]).fetchone()
    assert row is not None
    return str(row[0])


def test_the_limit_reaches_duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(duck.MEMORY_VARIABLE, "300MB")
    with duck.connect() as connection, duckdb.connect(
            config={"memory_limit": "300MB"}) as plain:
        assert _setting(connection, "memory_limit") == _setting(plain, "memory_limit")
        assert _setting(connection, "threads") == str(duck.threads("300MB"))
        assert _setting(connection, "preserve_insertion_order") == "False"


def test_the_default_is_2gb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(duck.MEMORY_VARIABLE, raising=False)
    with duck.connect() as connection:
        assert _setting(connection, "memory_limit") == "1.8 GiB"  # 2e9 bytes


def test_threads_are_the_cpus_but_one_per_128_mib() -> None:
    cpus = len(os.sched_getaffinity(0))
    assert duck.threads("100MB") == 1
    assert duck.threads("300MB") == min(2, cpus)
    assert duck.threads("64GB") == cpus


@pytest.mark.parametrize("value", ["3000000000B", "3000000 kb", "3000MB", "3gb", "0.003TB",
                                   "3000000KiB", "3000 MiB", "3GiB", "0.003TiB"])
def test_every_accepted_unit_means_what_it_means_to_duckdb(
        monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(duck.MEMORY_VARIABLE, value)
    with duck.connect() as connection, duckdb.connect(config={"memory_limit": value}) as plain:
        assert _setting(connection, "memory_limit") == _setting(plain, "memory_limit")


@pytest.mark.parametrize("value", ["lots", "80%", "-1", "0GB", "2XB", "2", "none"])
def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(duck.MEMORY_VARIABLE, value)
    with pytest.raises(UsageError, match=f"^{duck.MEMORY_VARIABLE}: .*{value!r}"):
        duck.memory_limit()


def test_the_spill_directory_is_under_runner_temp_and_removed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path))
    with duck.connect() as connection:
        spill = Path(_setting(connection, "temp_directory"))
        assert spill.parent == tmp_path
        assert spill.is_dir()
    assert not spill.exists()


def test_a_missing_runner_temp_is_named(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path / "gone"))
    with pytest.raises(UsageError, match=r"^RUNNER_TEMP: cannot create DuckDB's spill"), \
            duck.connect():
        pass


_PREDICTIONS = """
CREATE TABLE predictions AS
SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i) AS "timestamp",
       'r' || i AS request_id, 'u' || (i // 2) AS user_id,
       CASE WHEN hash(i // 2) % 2 = 0 THEN 'control' ELSE 'treatment' END AS variant
FROM range(?) t(i)"""
_EVENTS = """
CREATE TABLE events AS
SELECT TIMESTAMPTZ '2026-01-01 00:00:01+00' + to_seconds(i) AS "timestamp",
       'u' || (i // 2) AS user_id, 'r' || i AS request_id,
       CASE WHEN i % 7 = 0 THEN 'click' ELSE 'session_end' END AS type, 1.0 AS value
FROM range(?) t(i)"""


def _ab_logs(directory: Path, rows: int) -> list[str]:
    """`rows` predictions for rows/2 users and as many events, in Parquet; the command
    that analyses them."""
    with duckdb.connect() as connection:
        for name, sql in (("predictions", _PREDICTIONS), ("events", _EVENTS)):
            connection.execute(sql, [rows])
            connection.table(name).write_parquet(str(directory / f"{name}.parquet"))
    return ["ab", "analyze", "--predictions", "predictions.parquet", "--events",
            "events.parquet", "--no-summary"]


_FEATURES = """
CREATE TABLE features AS
SELECT random() AS price, CAST(floor(random() * 1000) AS INTEGER) AS shop,
       random() AS prediction
FROM range(?)"""


def _monitor_logs(directory: Path, rows: int) -> list[str]:
    """A reference of 50k rows and a prediction log of `rows`; the command that
    compares them."""
    (directory / "monitor.yaml").write_text(
        "model: m\nmonitor:\n  min_rows: 10\n  categorical: [shop]\n", encoding="utf-8")
    with duckdb.connect() as connection:
        for name, count in (("reference", 50_000), ("current", rows)):
            connection.execute(_FEATURES, [count])
            connection.table("features").write_parquet(str(directory / f"{name}.parquet"))
            connection.execute("DROP TABLE features")
    return ["monitor", "--config", "monitor.yaml", "--reference", "reference.parquet",
            "--current", "current.parquet", "--no-summary"]


@pytest.mark.parametrize(("command", "rows", "limit"), [
    (_ab_logs, 100_000, "20MB"),  # the join's hash tables
    (_monitor_logs, 200_000, "4MB"),  # Logs.grid_counts' sort, through its guard
])
def test_a_query_over_the_limit_exits_2_naming_the_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: Callable[[Path, int], list[str]], rows: int, limit: str) -> None:
    """The same command that passes under the default fails cleanly under `limit`, and
    the message says what to raise."""
    argv = command(analysis_dir(tmp_path, monkeypatch), rows)
    monkeypatch.delenv(duck.MEMORY_VARIABLE, raising=False)
    assert main(argv) != 2
    capsys.readouterr()

    monkeypatch.setenv(duck.MEMORY_VARIABLE, limit)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Out of Memory" in err
    assert f"did not fit in {duck.MEMORY_VARIABLE}={limit}" in err
    assert f"raise {duck.MEMORY_VARIABLE}" in err
    assert "Traceback" not in err


def test_a_bad_value_exits_2_through_the_cli(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = _ab_logs(analysis_dir(tmp_path, monkeypatch), 100)
    monkeypatch.setenv(duck.MEMORY_VARIABLE, "plenty")
    assert main(argv) == 2
    assert f"{duck.MEMORY_VARIABLE}: expected a size" in capsys.readouterr().err
