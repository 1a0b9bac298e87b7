"""Simulated traffic -> JSON-lines logs -> DuckDB join -> the engine's decision.

20,000 users split by `modelrail.ab.assign`; each sees a Poisson number of impressions and
clicks each with the variant's CTR (control 10%, treatment 10.5%: +5% relative), within
ten minutes and naming the request; session durations are the same in both variants.
The same SQL on a PostgreSQL server (Debian's package) returns the same statistics.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from modelrail.ab import assign
from modelrail.ab.aggregate import Aggregation, aggregate_logs, aggregate_on
from modelrail.ab.config import ExperimentConfig, Guardrail, MetricSpec
from modelrail.ab.decision import decide
from modelrail.cli.main import main
from modelrail.errors import UsageError
from modelrail.local.processes import free_port
from modelrail.plumbing.engines import Location

from tests.support.builders.ab_hand_logs import EVENTS, PREDICTIONS
from tests.support.builders.ab_logs import LOGS_POLICY as POLICY
from tests.support.builders.ab_logs import analysis_dir, write_logs
from tests.support.builders.ab_sufficient import assert_same
from tests.support.builders.ab_tables import create_tables, load_postgres, same_analysis
from tests.support.services.postgres import postgres_bin, postgres_server

pytestmark = pytest.mark.integration

USERS = 20_000
VARIANTS = ("control", "treatment")


def simulate(directory: Path, ctr: tuple[float, float], seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    users = [f"user-{i}" for i in range(USERS)]
    arm = np.array([assign("ranker-v2", user, [0.5, 0.5]) for user in users])
    impressions = 1 + rng.poisson(7, USERS)
    start = np.datetime64("2026-01-01T00:00:00", "ms")
    predictions: list[str] = []
    events: list[str] = []
    for index, user in enumerate(users):
        variant = VARIANTS[arm[index]]
        times = start + np.sort(rng.integers(0, 86_400_000, impressions[index])) \
            .astype("timedelta64[ms]")
        clicked = rng.random(impressions[index]) < ctr[arm[index]]
        delays = rng.integers(0, 600_000, impressions[index]).astype("timedelta64[ms]")
        stamps = np.datetime_as_string(times, timezone="UTC")
        click_stamps = np.datetime_as_string(times + delays, timezone="UTC")
        for row, stamp in enumerate(stamps):
            request = f"{user}-{row}"
            predictions.append(line({"timestamp": stamp, "request_id": request, "row": 0,
                                     "user_id": user, "experiment": "ranker-v2",
                                     "variant": variant, "model": "ctr-ranker",
                                     "version": str(arm[index] + 1), "prediction": 0.1}))
            if clicked[row]:
                events.append(line({"timestamp": click_stamps[row], "user_id": user,
                                    "type": "click", "request_id": request}))
        events.append(line({"timestamp": str(stamps[-1]), "user_id": user,
                            "type": "session_end", "value": float(rng.gamma(4, 75))}))
    prediction_path, event_path = directory / "predictions.jsonl", directory / "events.jsonl"
    prediction_path.write_text("".join(predictions), encoding="utf-8")
    event_path.write_text("".join(events), encoding="utf-8")
    return prediction_path, event_path


def line(record: dict[str, Any]) -> str:
    return json.dumps(record) + "\n"


def test_a_real_lift_ships(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    predictions, events = simulate(tmp_path, (0.10, 0.105), seed=1)

    code = main(["ab", "analyze", "--predictions", str(predictions), "--events",
                 str(events), "--json", "result.json", "--no-summary"])

    report = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert (code, report["decision"]) == (0, "ship")
    ctr = report["metrics"]["ctr"]
    assert ctr["lift"] > 0
    assert ctr["ci"][0] < 0.05 < ctr["ci"][1]
    assert report["data"]["multi_variant_users"] == 0
    assert sum(report["srm"]["units"].values()) == USERS


def test_an_a_a_run_does_not_ship(tmp_path: Path) -> None:
    predictions, events = simulate(tmp_path, (0.10, 0.10), seed=2)
    experiment = ExperimentConfig(
        key="ranker-v2", primary=("ctr",),
        guardrails={"session_duration": Guardrail(margin=0.02)},
        metrics={"ctr": MetricSpec(type="ratio")})

    logs = aggregate_logs(predictions, events, VARIANTS, experiment="ranker-v2",
                          metrics=experiment.metric_names())
    decision = decide(experiment, logs.stats)

    assert decision.srm.passed
    assert decision.verdict != "ship"


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres_server() as dsn:
        yield dsn


@pytest.mark.parametrize("dataset", ["hand", "simulated"])
def test_postgres_returns_the_statistics_duckdb_does(tmp_path: Path, postgres: str,
                                                     dataset: str) -> None:
    if dataset == "hand":
        predictions, events = write_logs(tmp_path, PREDICTIONS, EVENTS)
    else:
        predictions, events = simulate(tmp_path, (0.10, 0.105), seed=3)
    create_tables(postgres)
    load_postgres(postgres, predictions, events)

    embedded = aggregate_logs(predictions, events, VARIANTS, experiment="ranker-v2",
                              over_time=True)
    pushed = aggregate_on(Location("postgres", dsn=postgres), "predictions", "events", VARIANTS,
                             Aggregation(experiment="ranker-v2", over_time=True))

    assert_same(pushed.stats, embedded.stats)
    for key in ("prediction_rows", "event_rows", "multi_variant_users"):
        assert pushed.data[key] == embedded.data[key]
    assert pushed.timeline is not None
    assert embedded.timeline is not None
    assert [c.at for c in pushed.timeline.checkpoints] == \
        [c.at for c in embedded.timeline.checkpoints]
    for on_server, in_duckdb in zip(pushed.timeline.checkpoints,
                                    embedded.timeline.checkpoints, strict=True):
        if in_duckdb.stats is None:
            assert on_server.stats is None
        else:
            assert_same(on_server.stats, in_duckdb.stats)


def test_postgres_names_a_missing_column_and_an_empty_table(postgres: str) -> None:
    with psycopg.connect(postgres) as connection:
        connection.execute("DROP TABLE IF EXISTS bare, empty_events")
        connection.execute("CREATE TABLE bare (ts timestamptz, user_id text)")
        connection.execute("CREATE TABLE empty_events (ts timestamptz, user_id text, "
                           "type text, request_id text, value double precision)")
        connection.execute("INSERT INTO bare VALUES (now(), 'u1')")

    with pytest.raises(UsageError,
                       match="table bare: the predictions log has no 'request_id' column"):
        aggregate_on(Location("postgres", dsn=postgres), "bare", "empty_events", VARIANTS)
    create_tables(postgres)
    with psycopg.connect(postgres) as connection:
        connection.execute("INSERT INTO predictions VALUES (now(), 'r', 'u', 'control', NULL)")
    with pytest.raises(UsageError, match="table empty_events: the events log is empty"):
        aggregate_on(Location("postgres", dsn=postgres), "predictions", "empty_events", VARIANTS)


@pytest.fixture
def cli_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return analysis_dir(tmp_path, monkeypatch)


PUSH_DOWN = ["ab", "analyze", "--postgres-dsn-env", "AB_WAREHOUSE_DSN"]


def test_the_cli_pushes_the_analysis_down_without_showing_the_dsn(
        cli_workdir: Path, postgres: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    predictions, events = simulate(cli_workdir, (0.10, 0.105), seed=4)
    create_tables(postgres)
    load_postgres(postgres, predictions, events)
    monkeypatch.setenv("AB_WAREHOUSE_DSN", postgres)

    pushed = main([*PUSH_DOWN, "--predictions-table", "predictions", "--events-table",
                   "events", "--json", "pushed.json", "--report", "report.html"])
    embedded = main(["ab", "analyze", "--predictions", str(predictions), "--events",
                     str(events), "--json", "embedded.json"])

    assert pushed == embedded
    on_postgres, _ = same_analysis(cli_workdir, "pushed.json", "embedded.json")
    assert on_postgres["data"]["predictions"] == "predictions"
    html = (cli_workdir / "report.html").read_text(encoding="utf-8")
    assert "ctr: cumulative lift (%)" in html  # the checkpoints ran on PostgreSQL too
    output = capsys.readouterr()
    assert postgres not in output.out + output.err


@pytest.mark.parametrize(("tables", "message"), [
    (["--predictions-table", "nowhere"], "table nowhere: does not exist"),
    (["--events-table", "bare"], "table bare: the events log has no 'type' column"),
])
def test_the_cli_names_a_missing_table_or_column(
        cli_workdir: Path, postgres: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tables: list[str], message: str) -> None:
    predictions, events = write_logs(cli_workdir, PREDICTIONS, EVENTS)
    create_tables(postgres)
    load_postgres(postgres, predictions, events)
    with psycopg.connect(postgres) as connection:
        connection.execute("DROP TABLE IF EXISTS bare")
        connection.execute("CREATE TABLE bare (ts timestamptz, user_id text, value float)")
        connection.execute("INSERT INTO bare VALUES (now(), 'u1', 1)")
    monkeypatch.setenv("AB_WAREHOUSE_DSN", postgres)

    assert main([*PUSH_DOWN, *tables]) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_server_exits_3_after_bounded_retries(
        cli_workdir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    dsn = f"host=127.0.0.1 port={free_port()} user=postgres password=s3cret dbname=x"
    monkeypatch.setenv("AB_WAREHOUSE_DSN", dsn)
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0")

    assert main(PUSH_DOWN) == 3
    err = capsys.readouterr().err
    assert "PostgreSQL kept failing after 2 attempts (connecting)" in err
    assert "s3cret" not in err


def test_an_unset_dsn_variable_exits_2(cli_workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AB_WAREHOUSE_DSN", raising=False)
    assert main(PUSH_DOWN) == 2
    assert "--postgres-dsn-env: the environment variable AB_WAREHOUSE_DSN is not set" \
        in capsys.readouterr().err
