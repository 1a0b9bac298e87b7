"""Group-sequential looks through `modelrail ab analyze --looks`: the file a daily
workflow keeps, what each look spends, and the end of the plan."""

import json
from pathlib import Path
from typing import Any

import pytest
from modelrail.ab.config import SequentialConfig
from modelrail.ab.group_sequential import Design, bounds
from modelrail.ab.looks import Look, plan_look
from modelrail.ab.stats import Effect
from modelrail.cli.main import main
from scipy.stats import norm

from tests.support.builders.ab_documents import POLICY, duration, write_stats

GROUP_SEQUENTIAL = POLICY + "  sequential: {enabled: true, method: group-sequential, " \
                            "planned_units: 40000}\n"


def day_stats(units: int, control_rate: float = 0.10, treatment_rate: float = 0.10,
              ) -> dict[str, Any]:
    """Both arms with `units` each: ctr at the given rates, durations equal."""
    return {
        "variants": ["control", "treatment"],
        "units": {"control": units, "treatment": units},
        "metrics": {
            "ctr": {"type": "proportion",
                    "control": {"n": units, "sum": round(units * control_rate)},
                    "treatment": {"n": units, "sum": round(units * treatment_rate)}},
            "session_duration": {"type": "mean", "control": duration(units, 300, 60),
                                 "treatment": duration(units, 301, 60)},
        },
    }


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelrail.yaml").write_text(GROUP_SEQUENTIAL, encoding="utf-8")
    return tmp_path


def analyze(workdir: Path, day: str, document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    path = write_stats(workdir / f"stats-{day}.json", document)
    code = main(["ab", "analyze", "--stats", path, "--looks", "looks.json",
                 "--look-day", day, "--json", "result.json"])
    result = json.loads((workdir / "result.json").read_text(encoding="utf-8")) \
        if code in (0, 1, 4) else {}
    return code, result


def looks_file(workdir: Path) -> list[dict[str, Any]]:
    looks: list[dict[str, Any]] = json.loads(
        (workdir / "looks.json").read_text(encoding="utf-8"))["looks"]
    return looks


def test_each_day_adds_a_look_and_a_rerun_replaces_it(workdir: Path) -> None:
    for day, units in (("2026-12-01", 4000), ("2026-12-02", 8000)):
        assert analyze(workdir, day, day_stats(units))[0] == 4
    code, result = analyze(workdir, "2026-12-02", day_stats(9000))  # the same day, re-run
    assert code == 4
    looks = looks_file(workdir)
    assert [look["key"] for look in looks] == ["2026-12-01", "2026-12-02"]
    assert [look["fraction"] for look in looks] == [0.2, 0.45]
    state = result["group_sequential"]
    assert state["look"] == 2
    assert state["fractions"] == [0.2, 0.45]
    expected = bounds(Design(alpha=0.025, two_sided=True), [0.2, 0.45])
    assert state["bounds"] == pytest.approx(expected)
    assert not state["past_maximum"]


def test_a_lift_the_fixed_test_would_ship_at_a_fifth_waits_for_its_bound(
        workdir: Path) -> None:
    """z about 2.4 at 20% of the plan: past 1.96, far from O'Brien-Fleming's 4.88."""
    code, result = analyze(workdir, "2026-12-01", day_stats(4000, 0.10, 0.1155))
    assert code == 4
    assert result["metrics"]["ctr"]["p_value"] > 0.05
    code, result = analyze(workdir, "2026-12-09", day_stats(40000, 0.10, 0.1155))
    assert code == 0, result["reason"]


def test_the_repeated_p_value_never_rises(workdir: Path) -> None:
    """A strong early signal that fades still counts: the p-value is the best so far."""
    _, first = analyze(workdir, "2026-12-01", day_stats(8000, 0.10, 0.125))
    _, second = analyze(workdir, "2026-12-02", day_stats(16000, 0.10, 0.101))
    assert second["metrics"]["ctr"]["p_value"] == pytest.approx(first["metrics"]["ctr"]["p_value"])


def test_the_planned_maximum_ends_the_test(workdir: Path) -> None:
    assert analyze(workdir, "2026-12-01", day_stats(10000))[0] == 4
    code, result = analyze(workdir, "2026-12-05", day_stats(20000))
    assert code == 1
    assert "reached the planned maximum of 40000 units" in result["reason"]
    code, result = analyze(workdir, "2026-12-06", day_stats(22000))
    assert result["group_sequential"]["past_maximum"]
    assert result["group_sequential"]["bounds"][-1] == result["group_sequential"]["bounds"][-2]


@pytest.mark.parametrize(("setup", "message"), [
    ("no-looks", "needs --looks FILE"),
    ("fewer-units", "fewer than look 2026-12-01 saw"),
    ("plan-changed", "planned_units: look 2026-12-01 was taken with 40000 planned units"),
    ("bad-day", "--look-day: expected YYYY-MM-DD"),
    ("bad-file", "looks[0].units"),
])
def test_bad_looks_are_usage_errors(workdir: Path, capsys: pytest.CaptureFixture[str],
                                    setup: str, message: str) -> None:
    analyze(workdir, "2026-12-01", day_stats(8000))
    capsys.readouterr()
    path = write_stats(workdir / "stats.json", day_stats(9000))
    argv = ["ab", "analyze", "--stats", path, "--looks", "looks.json",
            "--look-day", "2026-12-02"]
    if setup == "no-looks":
        argv = argv[:4]
    elif setup == "fewer-units":
        path = write_stats(workdir / "stats.json", day_stats(7000))
    elif setup == "plan-changed":
        (workdir / "modelrail.yaml").write_text(
            GROUP_SEQUENTIAL.replace("40000", "50000"), encoding="utf-8")
    elif setup == "bad-day":
        argv[-1] = "12/02/2026"
    else:
        (workdir / "looks.json").write_text(
            '{"schema_version": 1, "looks": [{"key": "x", "units": -1, "fraction": 1}]}',
            encoding="utf-8")
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_group_sequential_needs_its_planned_maximum(workdir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "modelrail.yaml").write_text(
        GROUP_SEQUENTIAL.replace(", planned_units: 40000", ""), encoding="utf-8")
    path = write_stats(workdir / "stats.json", day_stats(9000))
    assert main(["ab", "analyze", "--stats", path, "--looks", "looks.json"]) == 2
    assert "experiment.sequential.planned_units" in capsys.readouterr().err


def test_the_summary_and_report_show_the_bounds_against_z(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = workdir / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    analyze(workdir, "2026-12-01", day_stats(8000, 0.10, 0.104))
    path = write_stats(workdir / "stats.json", day_stats(16000, 0.10, 0.104))
    assert main(["ab", "analyze", "--stats", path, "--looks", "looks.json", "--look-day",
                 "2026-12-02", "--summary", "--report", "report.html"]) == 4
    text = summary.read_text(encoding="utf-8")
    assert "Group-sequential look 2 (2026-12-02): 32,000 of 40,000 planned units (80%)" in text
    chart = text[text.index("z against the group-sequential bound"):]
    bound = bounds(Design(alpha=0.025, two_sided=True), [0.4, 0.8])
    assert f"line [{bound[0]:.6g}, {bound[1]:.6g}]" in chart
    html = (workdir / "report.html").read_text(encoding="utf-8")
    assert "Looks (group-sequential)" in html
    assert "ctr z" in html


def test_power_at_the_planned_maximum() -> None:
    """At the maximum with no earlier look, the power is the fixed test's; earlier looks
    under O'Brien-Fleming spending cost only a little of it."""
    sequential = SequentialConfig(enabled=True, method="group-sequential",
                                  planned_units=10_000)
    effect = Effect(estimate=0.0, variance=0.02**2, df=1e6, n=10_000)
    single = plan_look(sequential, [], "2026-12-09", 10_000)
    fixed = norm.sf(norm.isf(0.025) - 0.05 / 0.02)
    assert single.power_at_maximum(0.05, "two-sided", effect, 0.05) == \
        pytest.approx(fixed, abs=1e-6)
    earlier = [Look(f"2026-12-0{day}", 2000 * day, day / 5) for day in range(1, 5)]
    grouped = plan_look(sequential, earlier, "2026-12-09", 10_000)
    power = grouped.power_at_maximum(0.05, "two-sided", effect, 0.05)
    assert fixed - 0.03 < power < fixed
