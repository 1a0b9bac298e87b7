"""The A/B aggregation on DuckDB, PostgreSQL and Spark (local mode): one SQL text, the
same sufficient statistics (to 1e-9) from the same logs, at the end and at every
checkpoint over time.

The logs are generated to hit what engines disagree on by default: ties (a ten-second
grid of timestamps, two variants at one instant), NULLs (request ids, experiment keys,
user ids, session values), zeros (sessions of 0 s, users without clicks), clicks on both
edges of the window, and a variant whose users have no events at all. Spark starts once
for the module (local[2], about 10-30 s).
"""

import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from modelrail.ab.aggregate import Aggregation, LogStats, aggregate_logs, aggregate_on
from modelrail.ab.stats import SufficientStats
from modelrail.cli.main import main
from modelrail.config import parse_config
from modelrail.errors import UsageError
from modelrail.monitor.aggregate import open_logs
from modelrail.monitor.drift import check_logs
from modelrail.monitor.shadow import agreement
from modelrail.plumbing import spark
from modelrail.plumbing.engines import Location
from pyspark.sql import SparkSession

from tests.support.builders.ab_hand_logs import EVENTS, PREDICTIONS
from tests.support.builders.ab_logs import (
    analysis_dir,
    at,
    write_jsonl,
    write_logs,
    write_parquet,
)
from tests.support.builders.ab_sufficient import numbers
from tests.support.builders.ab_tables import create_tables, load_postgres, same_analysis
from tests.support.builders.log_tables import load_log_table
from tests.support.builders.monitor_logs import (
    BOTH_POLICY,
    MONITOR_POLICY,
    monitor_logs,
    monitor_reference,
)
from tests.support.services.postgres import postgres_bin, postgres_server

pytestmark = pytest.mark.integration

VARIANTS = ("control", "treatment", "quiet")  # quiet: exposed users, no events
ON_SPARK = Location("spark", spark_master="local[2]")  # the module's session (a fixture)
AGGREGATION = Aggregation(experiment="ranker-v2", window_seconds=600.0, over_time=True)


def generated_logs(seed: int, users: int = 300) -> tuple[list[dict[str, Any]],
                                                         list[dict[str, Any]]]:
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    predictions: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []

    def instant() -> float:
        return 10.0 * rng.randrange(0, 180)  # 30 minutes on a 10 s grid: ties

    for index in range(users):
        user = f"u{index:03d}"
        variant = VARIANTS[index % 3]
        shown = sorted(instant() for _ in range(rng.randint(1, 4)))
        requests = [f"{user}-r{row}" for row in range(len(shown))]
        for row, seconds in enumerate(shown):
            predictions.append({
                "timestamp": at(seconds), "variant": variant,
                "user_id": None if rng.random() < 0.02 else user,
                "request_id": None if rng.random() < 0.1 else requests[row],
                "experiment": rng.choice(["ranker-v2"] * 8 + [None, "other"])})
        if rng.random() < 0.1:  # a second variant at the first instant: the tie-break
            predictions.append({"timestamp": at(shown[0]), "variant": "treatment",
                                "user_id": user, "request_id": rng.choice([None, "a"]),
                                "experiment": "ranker-v2"})
        if variant == "quiet":
            continue
        for _ in range(rng.randint(0, 4)):
            anchor = rng.choice(shown)
            delay = rng.choice([0.0, 600.0, 601.0, -10.0, 10.0 * rng.randrange(0, 80)])
            events.append({"timestamp": at(anchor + delay), "type": "click", "value": None,
                           "user_id": None if rng.random() < 0.02 else user,
                           "request_id": rng.choice([None, *requests])})
        if rng.random() < 0.8:
            events.append({"timestamp": at(instant()), "type": "session_end",
                           "user_id": user, "request_id": None,
                           "value": rng.choice([0.0, None, round(rng.uniform(1, 900), 3)])})
    events.append({"timestamp": at(50), "type": "click", "user_id": "nobody",
                   "request_id": None, "value": None})
    return predictions, events


@pytest.fixture(scope="module")
def spark_session() -> Iterator[SparkSession]:
    if shutil.which("java") is None:
        pytest.skip("Java is not installed (apt-get install openjdk-17-jre-headless)")
    with spark.session("local[2]") as session:
        yield session


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres_server() as dsn:
        yield dsn


def on_every_engine(directory: Path, predictions: list[dict[str, Any]],
                    events: list[dict[str, Any]], dsn: str, session: SparkSession,
                    variants: tuple[str, ...]) -> dict[str, LogStats]:
    """The logs as JSON lines (DuckDB, and loaded into PostgreSQL) and Parquet (Spark)."""
    lines = (write_jsonl(directory / "p.jsonl", predictions),
             write_jsonl(directory / "e.jsonl", events))
    parquet = (write_parquet(directory / "p.parquet", predictions),
               write_parquet(directory / "e.parquet", events))
    create_tables(dsn)
    load_postgres(dsn, *lines)
    return {
        "duckdb": aggregate_logs(*lines, variants, experiment=AGGREGATION.experiment,
                                 window_seconds=AGGREGATION.window_seconds, over_time=True),
        "postgres": aggregate_on(Location("postgres", dsn=dsn), "predictions", "events", variants,
                                 AGGREGATION),
        "spark": aggregate_on(ON_SPARK, str(parquet[0]), str(parquet[1]), variants,
                              AGGREGATION),
    }


def assert_equal(first: SufficientStats | None, second: SufficientStats | None) -> None:
    """The same units and sufficient statistics, each sum to 1e-9 (relative)."""
    assert (first is None) == (second is None)
    if first is None or second is None:
        return
    assert first.units == second.units
    assert list(first.metrics) == list(second.metrics)
    for name, by_variant in second.metrics.items():
        for variant, expected in by_variant.items():
            assert numbers(first.metrics[name][variant]) == pytest.approx(
                numbers(expected), rel=1e-9, abs=1e-9), f"{name}.{variant}"


def assert_same_logs(result: LogStats, reference: LogStats) -> None:
    assert_equal(result.stats, reference.stats)
    for key in ("prediction_rows", "event_rows", "multi_variant_users",
                "multi_variant_users_by_variant", "attributed_clicks"):
        assert result.data[key] == reference.data[key], key
    assert result.span == reference.span
    assert result.timeline is not None
    assert reference.timeline is not None
    assert result.timeline.unit == reference.timeline.unit
    assert [c.at for c in result.timeline.checkpoints] == \
        [c.at for c in reference.timeline.checkpoints]
    for mine, theirs in zip(result.timeline.checkpoints, reference.timeline.checkpoints,
                            strict=True):
        assert_equal(mine.stats, theirs.stats)


@pytest.mark.parametrize("seed", [1])
def test_three_engines_give_the_same_statistics(tmp_path: Path, postgres: str,
                                                spark_session: SparkSession,
                                                seed: int) -> None:
    results = on_every_engine(tmp_path, *generated_logs(seed), postgres, spark_session,
                              VARIANTS)

    reference = results["duckdb"]
    assert reference.timeline is not None
    assert len(reference.timeline.checkpoints) > 30  # minutes: the over-time SQL runs
    quiet = reference.stats.metrics["ctr"]["quiet"]
    assert numbers(quiet)["numerator_sum"] == 0  # the variant without events
    assert reference.data["multi_variant_users"] != 0  # the tie-break decided some
    for engine in ("postgres", "spark"):
        assert_same_logs(results[engine], reference)


def test_spark_names_a_missing_column_and_path(tmp_path: Path,
                                               spark_session: SparkSession) -> None:
    predictions = write_parquet(tmp_path / "p.parquet", PREDICTIONS)
    untyped = write_parquet(tmp_path / "e.parquet",
                            [{k: v for k, v in e.items() if k != "type"} for e in EVENTS])

    with pytest.raises(UsageError, match=r"e\.parquet: the events log has no 'type' column"):
        aggregate_on(ON_SPARK, str(predictions), str(untyped), ("control", "treatment"))
    with pytest.raises(UsageError, match=r"nowhere\.parquet: Spark cannot read it as "
                                         r"Parquet: .*PATH_NOT_FOUND"):
        aggregate_on(ON_SPARK, str(tmp_path / "nowhere.parquet"), str(untyped),
                     ("control", "treatment"))


def test_the_cli_runs_on_spark_as_on_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           spark_session: SparkSession) -> None:
    workdir = analysis_dir(tmp_path, monkeypatch)
    write_logs(workdir, PREDICTIONS, EVENTS)
    write_logs(workdir, PREDICTIONS, EVENTS, "parquet")

    on_spark = main(["ab", "analyze", "--engine", "spark", "--spark-master", "local[2]",
                     "--predictions", "predictions.parquet", "--events", "events.parquet",
                     "--json", "spark.json", "--no-summary"])
    embedded = main(["ab", "analyze", "--predictions", "predictions.jsonl", "--events",
                     "events.jsonl", "--json", "duckdb.json", "--no-summary"])

    assert on_spark == embedded
    same_analysis(workdir, "spark.json", "duckdb.json")
    assert SparkSession.getActiveSession() is spark_session  # the CLI left it running


# monitor and shadow analyze: the current log (and events) on each engine, the reference
# sample a file on the runner (the logs: tests/support/builders/monitor_logs.py).
def monitor_numbers(location: Location, reference: Path, current: str,
                    events: str) -> dict[str, Any]:
    """What the monitor aggregates on the engine: the production rows, each numeric
    feature's grid counts, the categories' counts, and the calibration."""
    with open_logs(reference, current, location) as logs:
        numbers: dict[str, Any] = {"rows": logs.count()}
        for feature in ("price", "position", "prediction"):
            numbers[feature] = logs.grid_counts(feature, logs.grid(feature)).tolist()
        numbers["device"] = logs.categories("device", reference=False)
        found = logs.calibration(events, "prediction", 120.0)
        numbers["calibration"] = (found.rows, found.clicks, found.mean_score)
    return numbers


def every_engine(directory: Path, lines: list[dict[str, Any]], events: list[dict[str, Any]],
                 dsn: str) -> dict[str, tuple[Location, str, str]]:
    """The logs as JSON lines (DuckDB), PostgreSQL tables and Parquet (Spark): per
    engine, its location and the current log and events it reads."""
    files = (write_jsonl(directory / "p.jsonl", lines),
             write_jsonl(directory / "e.jsonl", events))
    parquet = (write_parquet(directory / "p.parquet", lines),
               write_parquet(directory / "e.parquet", events))
    load_log_table(dsn, "predictions", files[0])
    load_log_table(dsn, "events", files[1])
    return {"duckdb": (Location(), str(files[0]), str(files[1])),
            "postgres": (Location("postgres", dsn=dsn), "predictions", "events"),
            "spark": (ON_SPARK, str(parquet[0]), str(parquet[1]))}


@pytest.mark.parametrize("production", [True, False], ids=["log", "no-production-rows"])
def test_monitor_counts_and_calibration_are_the_same_on_three_engines(
        tmp_path: Path, postgres: str, spark_session: SparkSession, production: bool) -> None:
    reference = monitor_reference(tmp_path / "reference.csv", 7)
    engines = every_engine(tmp_path, *monitor_logs(3, production=production), postgres)

    found = {name: monitor_numbers(location, reference, current, events)
             for name, (location, current, events) in engines.items()}

    embedded = found["duckdb"]
    if production:
        assert embedded["rows"] > 400
        assert embedded["price"][0] > 0  # below the grid
        assert embedded["price"][-1] > 0  # above it
        assert "tv" in embedded["device"]  # a category the reference lacks
        assert 0 < embedded["calibration"][1] < embedded["calibration"][0]
    else:
        assert embedded["rows"] == 0
        assert embedded["calibration"] == (0, 0, 0.0)
    for name in ("postgres", "spark"):
        other = found[name]
        assert {k: v for k, v in other.items() if k != "calibration"} == \
            {k: v for k, v in embedded.items() if k != "calibration"}, name
        assert other["calibration"][:2] == embedded["calibration"][:2], name
        assert other["calibration"][2] == pytest.approx(embedded["calibration"][2],
                                                        rel=1e-9, abs=1e-12), name


def test_monitor_checks_are_the_same_on_three_engines(
        tmp_path: Path, postgres: str, spark_session: SparkSession) -> None:
    reference = monitor_reference(tmp_path / "reference.csv", 8)
    engines = every_engine(tmp_path, *monitor_logs(4), postgres)
    config = parse_config(yaml.safe_load(MONITOR_POLICY), tmp_path / "m.yaml").monitor
    assert config is not None

    found = {name: check_logs(reference, current, events, config, location)
             for name, (location, current, events) in engines.items()}

    rows, checks = found["duckdb"]
    assert [check.name for check in checks] == ["price", "device", "position", "prediction",
                                                "calibration"]
    for name in ("postgres", "spark"):
        assert found[name][0] == rows
        for mine, theirs in zip(found[name][1], checks, strict=True):
            expected = theirs.to_json()
            for key, value in mine.to_json().items():  # approx compares one level
                assert value == (expected[key] if isinstance(value, str) or value is None
                                 else pytest.approx(expected[key], rel=1e-9)), (name, key)


@pytest.mark.parametrize("version", [None, 3, 7])
def test_shadow_statistics_are_the_same_on_three_engines(
        tmp_path: Path, postgres: str, spark_session: SparkSession,
        version: int | None) -> None:
    engines = every_engine(tmp_path, *monitor_logs(5), postgres)

    found = {name: agreement(current, 0.5, version, location)
             for name, (location, current, _events) in engines.items()}

    embedded = found["duckdb"]
    if version == 7:
        assert (embedded.pairs, embedded.other_versions) == (0, ("2", "3"))
    else:
        assert embedded.pairs > 100
        assert 0 < embedded.ks < 1
        assert 0 < embedded.agreement < 1
    for name in ("postgres", "spark"):
        other = found[name]
        assert (other.pairs, other.shadow_rows, other.other_versions) == \
            (embedded.pairs, embedded.shadow_rows, embedded.other_versions), name
        assert (other.agreement, other.ks) == pytest.approx(
            (embedded.agreement, embedded.ks), rel=1e-9, abs=1e-12), name
        assert (other.correlation is None) == (embedded.correlation is None)
        if embedded.correlation is not None:
            assert other.correlation == pytest.approx(embedded.correlation, rel=1e-9), name


def test_monitor_and_shadow_cli_give_the_same_verdicts_on_three_engines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres: str,
        spark_session: SparkSession) -> None:
    workdir = analysis_dir(tmp_path, monkeypatch, BOTH_POLICY.replace(
        "min_pairs: 100", "min_pairs: 10"))
    monitor_reference(workdir / "reference.csv", 9)
    every_engine(workdir, *monitor_logs(6), postgres)
    monkeypatch.setenv("WAREHOUSE_DSN", postgres)
    sources = {"duckdb": (["--current", "p.jsonl", "--events", "e.jsonl"],
                          ["--predictions", "p.jsonl"]),
               "postgres": (["--postgres-dsn-env", "WAREHOUSE_DSN", "--events-table", "events"],
                            ["--postgres-dsn-env", "WAREHOUSE_DSN"]),
               "spark": (["--engine", "spark", "--spark-master", "local[2]", "--current",
                          "p.parquet", "--events", "e.parquet"],
                         ["--engine", "spark", "--spark-master", "local[2]", "--predictions",
                          "p.parquet"])}
    codes, reports = {}, {}
    for name, (monitor, shadow) in sources.items():
        codes[name] = (
            main(["monitor", "--reference", "reference.csv", *monitor, "--json",
                  f"monitor-{name}.json", "--no-summary"]),
            main(["shadow", "analyze", *shadow, "--json", f"shadow-{name}.json"]))
        reports[name] = [json.loads((workdir / f"{kind}-{name}.json").read_text())
                         for kind in ("monitor", "shadow")]

    assert codes["postgres"] == codes["spark"] == codes["duckdb"]
    embedded = reports["duckdb"]
    assert embedded[1]["pairs"] > 100
    for name in ("postgres", "spark"):
        assert reports[name][0]["current_rows"] == embedded[0]["current_rows"]
        assert [c["severity"] for c in reports[name][0]["checks"]] == \
            [c["severity"] for c in embedded[0]["checks"]]
        assert [c["statistic"] for c in reports[name][0]["checks"]] == pytest.approx(
            [c["statistic"] for c in embedded[0]["checks"]], rel=1e-9)
        assert [c["value"] for c in reports[name][1]["checks"]] == pytest.approx(
            [c["value"] for c in embedded[1]["checks"]], rel=1e-9)
    assert reports["postgres"][0]["current"] == "table predictions"
    assert SparkSession.getActiveSession() is spark_session  # the CLI left it running


@pytest.mark.parametrize(("args", "message"), [
    (["monitor", "--reference", "reference.csv", "--current-table", "nowhere",
      "--events-table", "events"], "table nowhere: does not exist"),
    (["monitor", "--reference", "reference.csv", "--current-table", "bare",
      "--events-table", "events"], "table bare: no column or feature 'price'"),
    (["monitor", "--reference", "reference.csv", "--events-table", "bare"],
     "table bare: the events log has no 'type' column"),
    (["shadow", "analyze", "--predictions-table", "bare"],
     "table bare: no 'prediction' column: no shadow lines"),
])
def test_a_missing_table_or_column_exits_2_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres: str,
        capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    workdir = analysis_dir(tmp_path, monkeypatch, BOTH_POLICY)
    monitor_reference(workdir / "reference.csv", 9)
    lines, events = monitor_logs(6, requests=20)
    load_log_table(postgres, "predictions", write_jsonl(workdir / "p.jsonl", lines))
    load_log_table(postgres, "events", write_jsonl(workdir / "e.jsonl", events))
    with psycopg.connect(postgres) as connection:
        connection.execute("DROP TABLE IF EXISTS bare")
        connection.execute('CREATE TABLE bare (ts timestamptz, request_id text, "row" int)')
        connection.execute("INSERT INTO bare VALUES (now(), 'r1', 0)")
    monkeypatch.setenv("WAREHOUSE_DSN", postgres)

    assert main([*args, "--postgres-dsn-env", "WAREHOUSE_DSN"]) == 2
    assert message in capsys.readouterr().err
