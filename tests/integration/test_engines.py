"""The A/B aggregation on DuckDB, PostgreSQL and Spark (local mode): one SQL text, the
same sufficient statistics (to 1e-9) from the same logs, at the end and at every
checkpoint over time.

The logs are generated to hit what engines disagree on by default: ties (a ten-second
grid of timestamps, two variants at one instant), NULLs (request ids, experiment keys,
user ids, session values), zeros (sessions of 0 s, users without clicks), clicks on both
edges of the window, and a variant whose users have no events at all. Spark starts once
for the module (local[2], about 10-30 s).
"""

import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from modelrail.ab.aggregate import Aggregation, LogStats, aggregate_logs, aggregate_on
from modelrail.ab.stats import SufficientStats
from modelrail.cli.main import main
from modelrail.errors import UsageError
from modelrail.plumbing import spark
from modelrail.plumbing.log_source import Location
from pyspark.sql import SparkSession

from tests.support.builders.ab_hand_logs import EVENTS, PREDICTIONS
from tests.support.builders.ab_logs import analysis_dir, at, write_jsonl, write_logs, write_parquet
from tests.support.builders.ab_sufficient import numbers
from tests.support.builders.ab_tables import create_tables, load_postgres, same_analysis
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
