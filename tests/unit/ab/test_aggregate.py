"""The SQL aggregation on a dozen hand-made users: every statistic checked by hand."""

from pathlib import Path
from typing import Any

import pytest
from modelrail.ab.aggregate import aggregate_logs, parse_window, sufficient_stats_sql
from modelrail.ab.stats import MeanStats, ProportionStats, RatioStats
from modelrail.errors import UsageError
from modelrail.plumbing.sql_engine import STANDARD_TYPES, SqlEngine, quote_standard

from tests.support.builders.ab_hand_logs import EVENTS, EXPECTED, PREDICTIONS, click, impression
from tests.support.builders.ab_logs import write_csv, write_jsonl, write_logs

VARIANTS = ("control", "treatment")
WINDOW = 1800.0  # 30 minutes


def expected_ratio(users: list[tuple[int, int, int]]) -> RatioStats:
    return RatioStats(n=len(users), numerator_sum=sum(c for c, _, _ in users),
                      numerator_sum_squares=sum(c * c for c, _, _ in users),
                      denominator_sum=sum(i for _, i, _ in users),
                      denominator_sum_squares=sum(i * i for _, i, _ in users),
                      numerator_denominator_sum_products=sum(c * i for c, i, _ in users))


@pytest.fixture(params=["jsonl", "csv", "parquet"])
def logs(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    return write_logs(tmp_path, PREDICTIONS, EVENTS, request.param)


def test_hand_computed_statistics_in_every_format(logs: tuple[Path, Path]) -> None:
    result = aggregate_logs(*logs, VARIANTS, experiment="ranker-v2",
                            window_seconds=WINDOW)

    stats = result.stats
    assert stats.units == {"control": 6, "treatment": 6}
    for variant, users in EXPECTED.items():
        assert stats.metrics["ctr"][variant] == expected_ratio(users)
        durations = [d for _, _, d in users]
        assert stats.metrics["session_duration"][variant] == MeanStats(
            n=6, sum=sum(durations), sum_squares=sum(d * d for d in durations))
        assert stats.metrics["conversion"][variant] == ProportionStats(
            n=6, sum=sum(1 for c, _, _ in users if c > 0))
    assert result.data["multi_variant_users"] == 2
    assert result.data["multi_variant_users_by_variant"] == {"control": 1, "treatment": 1}
    assert result.data["prediction_rows"] == len(PREDICTIONS)
    assert result.data["event_rows"] == len(EVENTS)


def test_without_an_experiment_key_every_experiment_counts(tmp_path: Path) -> None:
    result = aggregate_logs(*write_logs(tmp_path, PREDICTIONS, EVENTS), VARIANTS,
                            window_seconds=WINDOW)

    assert result.stats.units == {"control": 7, "treatment": 6}


def test_a_longer_window_attributes_the_late_clicks(tmp_path: Path) -> None:
    result = aggregate_logs(*write_logs(tmp_path, PREDICTIONS, EVENTS), VARIANTS,
                            experiment="ranker-v2", window_seconds=3600.0)

    # u1's click at 3000 s (its last impression at 100 s), u3's at 1801 s, u9's at 1900 s
    control = result.stats.metrics["ctr"]["control"]
    treatment = result.stats.metrics["ctr"]["treatment"]
    assert isinstance(control, RatioStats)
    assert isinstance(treatment, RatioStats)
    assert (control.numerator_sum, treatment.numerator_sum) == (7, 8)


def test_csv_ids_stay_text(tmp_path: Path) -> None:
    predictions = [*impression(0, "1", "007", "control"), *impression(0, "2", "008", "control"),
                   *impression(0, "3", "009", "treatment"),
                   *impression(0, "4", "010", "treatment")]
    events = [click(1, "007", "1"), click(1, "009")]

    result = aggregate_logs(write_csv(tmp_path / "p.csv", predictions),
                            write_jsonl(tmp_path / "e.jsonl", events), VARIANTS,
                            metrics=["conversion"])

    assert result.stats.metrics["conversion"] == {
        "control": ProportionStats(n=2, sum=1), "treatment": ProportionStats(n=2, sum=1)}


def test_the_first_exposure_wins(tmp_path: Path) -> None:
    predictions = [*impression(10, "r2", "u1", "control"),
                   *impression(5, "r1", "u1", "treatment"),
                   *impression(0, "r3", "u2", "control"), *impression(0, "r4", "u3", "control"),
                   *impression(0, "r5", "u4", "treatment")]
    events = [click(11, "u1"), click(1, "u2"), click(1, "u4")]

    result = aggregate_logs(*write_logs(tmp_path, predictions, events), VARIANTS,
                            metrics=["ctr"])

    assert result.stats.units == {"control": 2, "treatment": 2}
    assert result.data["multi_variant_users_by_variant"] == {"control": 0, "treatment": 1}
    assert result.stats.metrics["ctr"]["treatment"] == RatioStats(
        n=2, numerator_sum=2, numerator_sum_squares=2, denominator_sum=3,
        denominator_sum_squares=5, numerator_denominator_sum_products=3)


def test_only_the_metrics_asked_for(tmp_path: Path) -> None:
    result = aggregate_logs(*write_logs(tmp_path, PREDICTIONS, EVENTS), VARIANTS,
                            metrics=["ctr", "revenue"])

    assert list(result.stats.metrics) == ["ctr"]


def test_a_metric_without_variance_is_refused_when_read(tmp_path: Path) -> None:
    events = [e for e in EVENTS if e["type"] != "session_end"]

    with pytest.raises(UsageError, match=r"metrics\.session_duration: every variant"):
        aggregate_logs(*write_logs(tmp_path, PREDICTIONS, events), VARIANTS)


ENGINE = SqlEngine(placeholder="%s", types=STANDARD_TYPES, quote=quote_standard,
                   query=lambda text, params: [])


@pytest.mark.parametrize(("checkpoints", "binds"), [(None, 2), (3, 2 + 3 * 3)])
def test_the_sql_has_only_bound_values_and_given_identifiers(checkpoints: int | None,
                                                             binds: int) -> None:
    sql = sufficient_stats_sql(ENGINE, ('"p"', '"e"'), checkpoints)

    assert sql.count("%s") == binds
    assert 'FROM "p" AS p' in sql
    assert 'FROM "e" AS e' in sql
    assert "{" not in sql


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800.0), ("90s", 90.0), ("1h", 3600.0), ("1.5d", 129600.0), (" 2m ", 120.0)])
def test_parse_window(text: str, seconds: float) -> None:
    assert parse_window(text) == seconds


@pytest.mark.parametrize("text", ["30", "0m", "-1h", "1w", "m"])
def test_parse_window_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="--attribution-window"):
        parse_window(text)


def drop(rows: list[dict[str, Any]], column: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != column} for row in rows]


@pytest.mark.parametrize("column", ["timestamp", "request_id", "user_id", "variant"])
def test_a_missing_prediction_column_is_named(tmp_path: Path, column: str) -> None:
    predictions, events = write_logs(tmp_path, drop(PREDICTIONS, column), EVENTS)

    with pytest.raises(UsageError, match=rf"predictions\.jsonl: .* no '{column}' column"):
        aggregate_logs(predictions, events, VARIANTS)


@pytest.mark.parametrize("column", ["timestamp", "user_id", "type", "value"])
def test_a_missing_event_column_is_named(tmp_path: Path, column: str) -> None:
    predictions, events = write_logs(tmp_path, PREDICTIONS, drop(EVENTS, column), "csv")

    with pytest.raises(UsageError, match=rf"events\.csv: .* no '{column}' column"):
        aggregate_logs(predictions, events, VARIANTS)


def test_request_id_is_optional_in_events(tmp_path: Path) -> None:
    events = drop([e for e in EVENTS if e["request_id"] is None], "request_id")

    result = aggregate_logs(*write_logs(tmp_path, PREDICTIONS, events), VARIANTS,
                            experiment="ranker-v2", window_seconds=WINDOW)

    assert result.stats.units == {"control": 6, "treatment": 6}


@pytest.mark.parametrize("which", ["predictions", "events"])
@pytest.mark.parametrize("writer", [write_jsonl, write_csv])
def test_an_empty_log_is_refused(tmp_path: Path, which: str, writer: Any) -> None:
    predictions, events = write_logs(tmp_path, PREDICTIONS, EVENTS)
    path = predictions if which == "predictions" else events
    empty = tmp_path / f"empty{path.suffix if writer is write_jsonl else '.csv'}"
    empty.write_text("" if writer is write_jsonl else "timestamp,user_id\n",
                     encoding="utf-8")
    paths = {"predictions": predictions, "events": events, which: empty}

    with pytest.raises(UsageError, match=rf"empty\.\w+: the {which} log is empty"):
        aggregate_logs(paths["predictions"], paths["events"], VARIANTS)


def test_a_variant_without_users_is_named(tmp_path: Path) -> None:
    predictions = [row for row in PREDICTIONS if row["variant"] == "control"]

    with pytest.raises(UsageError, match=r"predictions\.jsonl: variant 'treatment' has no users"):
        aggregate_logs(*write_logs(tmp_path, predictions, EVENTS), VARIANTS)


def test_a_variant_outside_the_experiment_is_named(tmp_path: Path) -> None:
    predictions = [*PREDICTIONS, *impression(0, "x", "u50", "holdout")]

    with pytest.raises(UsageError, match="variant 'holdout' is not one of"):
        aggregate_logs(*write_logs(tmp_path, predictions, EVENTS), VARIANTS)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.jsonl", None, "no such file"),
    ("log.txt", "x", "unknown format '.txt'"),
    ("broken.jsonl", "{not json\n", "cannot read the predictions log"),
])
def test_unreadable_predictions_are_named(tmp_path: Path, name: str, content: str | None,
                                          message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    _, events = write_logs(tmp_path, PREDICTIONS, EVENTS)

    with pytest.raises(UsageError, match=f"{name}: {message}"):
        aggregate_logs(path, events, VARIANTS)


def test_the_numbers_go_through_the_stats_file_checks(tmp_path: Path) -> None:
    predictions = [*impression(0, "r1", "u1", "control"), *impression(0, "r2", "u2", "control"),
                   *impression(0, "r3", "u3", "treatment")]

    with pytest.raises(UsageError, match=r"metrics\.ctr\.treatment\.n: one unit"):
        aggregate_logs(*write_logs(tmp_path, predictions, EVENTS), VARIANTS,
                       metrics=["ctr"])
