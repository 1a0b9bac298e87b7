"""`ab analyze --report`: the HTML report, the statistics over time behind its plot, and
the Mermaid chart in the job summary."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from modelrail.ab.aggregate import aggregate_logs
from modelrail.ab.report import NO_TIMESTAMPS
from modelrail.ab.stats import SufficientStats
from modelrail.ab.timeline import MAX_CHECKPOINTS, checkpoints
from modelrail.cli.main import main
from modelrail.errors import UsageError

from tests.support.builders.ab_documents import POLICY, stats, write_stats
from tests.support.builders.ab_hand_logs import EVENTS, PREDICTIONS
from tests.support.builders.ab_logs import analysis_dir, simulated_logs, write_jsonl, write_logs
from tests.support.builders.ab_sufficient import assert_same

VARIANTS = ("control", "treatment")
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Forty hours of a test whose treatment has a large CTR lift."""
    return simulated_logs(tmp_path_factory.mktemp("logs"), users=3000, hours=40,
                          ctr=(0.10, 0.14), seed=5)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    analysis_dir(tmp_path, monkeypatch)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    return tmp_path


@pytest.mark.parametrize(("span", "unit", "count"), [
    (timedelta(0), "minute", 1),
    (timedelta(minutes=30), "minute", 30),
    (timedelta(minutes=90), "hour", 2),
    (timedelta(hours=30, minutes=5), "hour", 31),
    (timedelta(days=10), "day", 10),
    (timedelta(days=100, hours=1), "day", MAX_CHECKPOINTS),
])
def test_checkpoints_are_the_finest_unit_with_few_enough(span: timedelta, unit: str,
                                                         count: int) -> None:
    found, times = checkpoints(START, START + span)
    assert (found, len(times)) == (unit, count)
    assert times[-1] == START + span
    assert times == sorted(set(times))


def prefix_stats(logs: tuple[Path, Path], until: datetime,
                 directory: Path) -> SufficientStats | None:
    """The statistics of the rows logged up to `until`, aggregated on their own (None
    when they cannot be read)."""
    directory.mkdir()
    prefix = (directory / "predictions.jsonl", directory / "events.jsonl")
    for source, target in zip(logs, prefix, strict=True):
        rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
        write_jsonl(target, [row for row in rows
                             if datetime.fromisoformat(row["timestamp"]) <= until])
    try:
        return aggregate_logs(*prefix, VARIANTS, experiment="ranker-v2").stats
    except UsageError:
        return None


def test_each_checkpoint_is_the_analysis_of_the_logs_up_to_it(
        logs: tuple[Path, Path], tmp_path: Path) -> None:
    full = aggregate_logs(*logs, VARIANTS, experiment="ranker-v2", over_time=True)
    timeline = full.timeline
    assert timeline is not None
    assert timeline.unit == "hour"
    assert 40 <= len(timeline.checkpoints) <= 41  # hourly, then the last row logged
    assert_same(timeline.checkpoints[-1].stats, full.stats)
    units = [sum(c.stats.units.values()) for c in timeline.checkpoints if c.stats]
    assert units == sorted(units)
    assert units[0] < units[-1]
    for index in (0, 1, 7, 20, 33):
        checkpoint = timeline.checkpoints[index]
        expected = prefix_stats(logs, checkpoint.at, tmp_path / str(index))
        if expected is None:  # not readable yet (few users): then not in the timeline
            assert checkpoint.stats is None
        else:
            assert_same(checkpoint.stats, expected)


def test_checkpoints_keep_the_attribution_rules_of_the_hand_made_logs(tmp_path: Path) -> None:
    """Clicks before an impression, naming another user's request, at the window's end,
    sessions before the exposure: each checkpoint as if the logs stopped there."""
    logs = write_logs(tmp_path, PREDICTIONS, EVENTS)
    timeline = aggregate_logs(*logs, VARIANTS, experiment="ranker-v2", over_time=True,
                              window_seconds=1800.0).timeline
    assert timeline is not None
    assert [c.stats is None for c in timeline.checkpoints] == [False, False]
    for index, checkpoint in enumerate(timeline.checkpoints):
        expected = prefix_stats(logs, checkpoint.at, tmp_path / str(index))
        assert expected is not None
        assert_same(checkpoint.stats, expected)


def test_report_from_logs_has_every_plot_and_the_summary_a_mermaid_chart(
        workdir: Path, logs: tuple[Path, Path]) -> None:
    code = main(["ab", "analyze", "--predictions", str(logs[0]), "--events", str(logs[1]),
                 "--report", "report.html"])

    assert code == 0  # ship: a 40% lift, and session durations unchanged
    html = (workdir / "report.html").read_text(encoding="utf-8")
    for heading in ("Metrics per variant", "Lift with its interval", "Interval over time",
                    "Sample ratio", "Data"):
        assert f"<h2>{heading}</h2>" in html
    assert html.count("<svg") == 3  # forest plot, lift over time, units per variant
    assert "ctr: cumulative lift (%)" in html
    assert "Not drawn" not in html
    assert "<script" not in html
    assert "http" not in html.replace(
        "http://www.w3.org/2000/svg", "")
    summary = (workdir / "summary.md").read_text(encoding="utf-8")
    assert "```mermaid" in summary
    assert "xychart-beta" in summary
    assert "ctr: cumulative lift (%), by hour" in summary


def test_from_stats_the_plot_over_time_is_left_out_and_the_report_says_why(
        workdir: Path) -> None:
    (workdir / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    path = write_stats(workdir / "stats.json", stats())
    assert main(["ab", "analyze", "--stats", path, "--report", "report.html"]) == 0

    html = (workdir / "report.html").read_text(encoding="utf-8")
    assert NO_TIMESTAMPS.replace("'", "&#x27;") in html
    assert html.count("<svg") == 2
    assert "mermaid" not in (workdir / "summary.md").read_text(encoding="utf-8")


def test_a_sample_ratio_mismatch_reports_the_split_and_reads_no_metric(workdir: Path) -> None:
    (workdir / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    path = write_stats(workdir / "stats.json", stats(treatment_units=10_600))
    assert main(["ab", "analyze", "--stats", path, "--report", "report.html"]) == 1

    html = (workdir / "report.html").read_text(encoding="utf-8")
    assert "FAILED: sample ratio mismatch" in html
    assert "No metric was read" in html
    assert html.count("<svg") == 1


def test_an_unwritable_report_path_exits_2(workdir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    path = write_stats(workdir / "stats.json", stats())
    assert main(["ab", "analyze", "--stats", path, "--report", "missing/report.html"]) == 2
    assert "--report missing/report.html: cannot write" in capsys.readouterr().err


def test_decision_markdown_with_hostile_names_opens_nothing() -> None:
    from modelrail.ab.decision import Decision
    from modelrail.ab.engine import MetricResult, Srm
    from modelrail.ab.report import decision_markdown
    from modelrail.ab.stats import TestResult

    from tests.support.markdown_check import HOSTILE, assert_inert

    def markdown(name: str) -> str:
        metric = MetricResult(name=name, role="primary", relative=True,
                              test=TestResult(0.1, 0.05, 0.15, 0.001), outcome="improved",
                              means={name: 0.1, "treatment": 0.11})
        srm = Srm(p_value=0.5, units={name: 100, "treatment": 101},
                  weights={name: 0.5, "treatment": 0.5})
        return decision_markdown(Decision(experiment=name, verdict="ship",
                                          reason=f"{name} improved", srm=srm,
                                          metrics=(metric,), alpha=0.05, sequential=False))

    assert_inert(markdown("ctr"), markdown(HOSTILE))
