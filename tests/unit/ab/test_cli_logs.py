"""`modelrail ab analyze --predictions --events`: the SQL path through the CLI."""

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from modelrail.cli.main import main

from tests.support.builders.ab_hand_logs import EVENTS, PREDICTIONS
from tests.support.builders.ab_logs import LOGS_POLICY as POLICY
from tests.support.builders.ab_logs import write_jsonl, write_logs


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    write_logs(tmp_path, PREDICTIONS, EVENTS)
    return tmp_path


def test_logs_feed_the_engine_and_the_json_has_a_data_block(workdir: Path) -> None:
    code = main(["ab", "analyze", "--predictions", "predictions.jsonl", "--events",
                 "events.jsonl", "--attribution-window", "1h", "--json", "result.json",
                 "--no-summary"])

    report = json.loads((workdir / "result.json").read_text(encoding="utf-8"))
    assert code == 4
    assert report["decision"] == "keep-running"
    assert report["srm"]["units"] == {"control": 6, "treatment": 6}
    assert set(report["metrics"]) == {"ctr", "session_duration"}
    data = report["data"]
    assert data["multi_variant_users"] == 2
    assert data["prediction_rows"] == len(PREDICTIONS)
    assert data["event_rows"] == len(EVENTS)
    assert data["attribution_window_seconds"] == 3600.0
    def stamps(rows: list[dict[str, object]]) -> list[datetime]:
        return [datetime.fromisoformat(str(row["timestamp"])) for row in rows]
    # from the first exposure (an earlier click is not one) to the last row logged
    span = max(stamps([*PREDICTIONS, *EVENTS])) - min(stamps(PREDICTIONS))
    span_days = span / timedelta(days=1)
    assert report["units_per_day"] == pytest.approx(12 / span_days)
    assert report["outlook"]["ctr"]["units_now"] == 12


@pytest.mark.parametrize(("args", "message"), [
    (["--predictions", "predictions.jsonl"], "--predictions needs --events"),
    (["--stats", "stats.json", "--events", "events.jsonl"], "--events goes with --predictions"),
    (["--predictions", "predictions.jsonl", "--events", "events.jsonl",
      "--attribution-window", "soon"], "--attribution-window"),
    (["--predictions", "predictions.jsonl", "--events", "nowhere.jsonl"],
     "nowhere.jsonl: no such file"),
])
def test_bad_log_arguments_exit_2(capsys: pytest.CaptureFixture[str], args: list[str],
                                  message: str) -> None:
    assert main(["ab", "analyze", *args]) == 2
    assert message in capsys.readouterr().err


def test_stats_and_predictions_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ab", "analyze", "--stats", "s.json", "--predictions", "predictions.jsonl",
              "--events", "events.jsonl"])

    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def without(rows: list[dict[str, object]], column: str) -> list[dict[str, object]]:
    return [{key: value for key, value in row.items() if key != column} for row in rows]


ZERO_VARIANCE_STATS = {
    "variants": ["control", "treatment"], "units": {"control": 100, "treatment": 100},
    "metrics": {"session_duration": {
        "type": "mean", "control": {"n": 100, "sum": 300.0, "sum_squares": 900.0},
        "treatment": {"n": 100, "sum": 300.0, "sum_squares": 900.0}}}}


@pytest.mark.parametrize(("case", "message"), [
    ("missing column", "bad.jsonl: the predictions log has no 'user_id' column"),
    ("empty log", "bad.jsonl: the events log is empty"),
    ("variant without users", "bad.jsonl: variant 'treatment' has no users"),
    ("bad timestamp", "a value the aggregation cannot use"),
    ("zero variance", "stats.json: metrics.session_duration: "),
    ("malformed stats", "stats.json: not valid JSON"),
])
def test_bad_inputs_exit_2_naming_the_problem(workdir: Path, capsys: pytest.CaptureFixture[str],
                                              case: str, message: str) -> None:
    """The issue's list of bad inputs, through the command a user runs."""
    bad, stats = workdir / "bad.jsonl", workdir / "stats.json"
    args = ["--predictions", str(bad), "--events", "events.jsonl"]
    if case == "missing column":
        write_jsonl(bad, without(PREDICTIONS, "user_id"))
    elif case == "empty log":
        bad.write_text("", encoding="utf-8")
        args = ["--predictions", "predictions.jsonl", "--events", str(bad)]
    elif case == "variant without users":
        write_jsonl(bad, [row for row in PREDICTIONS if row["variant"] == "control"])
    elif case == "bad timestamp":
        write_jsonl(bad, [*PREDICTIONS[:-1], {**PREDICTIONS[-1], "timestamp": "yesterday"}])
    else:
        stats.write_text("{not json" if case == "malformed stats"
                         else json.dumps(ZERO_VARIANCE_STATS), encoding="utf-8")
        args = ["--stats", str(stats)]

    assert main(["ab", "analyze", *args, "--no-summary"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    if case == "zero variance":
        assert "zero variance" in err
