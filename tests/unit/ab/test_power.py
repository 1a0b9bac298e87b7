"""How much longer? The predicted sample size reaches the stated power in simulation, for
a proportion and a ratio metric, fixed-horizon and always valid; and where the outlook
shows (keep-running only, JSON, summary)."""

from dataclasses import replace

import numpy as np
import pytest
from modelrail.ab.config import ExperimentConfig, SequentialConfig
from modelrail.ab.decision import decide, primary_outlooks
from modelrail.ab.engine import evaluate
from modelrail.ab.power import POWER, Design, outlook, units_for
from modelrail.ab.report import decision_markdown, html_report
from modelrail.ab.stats import (
    MetricStats,
    ProportionStats,
    RatioStats,
    SufficientStats,
    arm,
    relative_effect,
)

SIMULATIONS = 600
TOLERANCE = 0.05  # +-5 points; one standard error of 600 runs at 80% is 1.6 points
FIXED = ExperimentConfig(key="k", primary=("ctr",), target_effect=0.10)
SEQUENTIAL = replace(FIXED, sequential=SequentialConfig(enabled=True, tuning=20_000))


def stats(control: MetricStats, treatment: MetricStats) -> SufficientStats:
    return SufficientStats(source="sim", variants=("control", "treatment"),
                           units={"control": control.n, "treatment": treatment.n},
                           metrics={"ctr": {"control": control, "treatment": treatment}})


def predicted_units(experiment: ExperimentConfig, pilot: SufficientStats) -> int:
    needed = primary_outlooks(experiment, tuple(evaluate(experiment, pilot)))["ctr"]
    assert needed.units_needed is not None
    return needed.units_needed


def achieved_power(experiment: ExperimentConfig, runs: list[SufficientStats]) -> float:
    improved = [evaluate(experiment, run)[0].outcome == "improved" for run in runs]
    return float(np.mean(improved))


def proportion_runs(units: int, rng: np.random.Generator) -> list[SufficientStats]:
    per_arm = units // 2
    control = rng.binomial(per_arm, 0.10, SIMULATIONS)
    treatment = rng.binomial(per_arm, 0.11, SIMULATIONS)
    return [stats(ProportionStats(per_arm, int(c)), ProportionStats(per_arm, int(t)))
            for c, t in zip(control, treatment, strict=True)]


def ratio_sample(units: int, click_rate: float, rng: np.random.Generator,
                 runs: int) -> list[RatioStats]:
    """Clicks / impressions per user: impressions 1 + Poisson(4), clicks binomial."""
    impressions = 1 + rng.poisson(4.0, (runs, units))
    clicks = rng.binomial(impressions, click_rate)
    sums = [a.sum(axis=1) for a in (clicks, clicks**2, impressions, impressions**2,
                                    clicks * impressions)]
    return [RatioStats(units, *(float(s[i]) for s in sums)) for i in range(runs)]


def ratio_runs(units: int, rng: np.random.Generator) -> list[SufficientStats]:
    per_arm = units // 2
    return [stats(c, t) for c, t in zip(ratio_sample(per_arm, 0.10, rng, SIMULATIONS),
                                        ratio_sample(per_arm, 0.11, rng, SIMULATIONS),
                                        strict=True)]


@pytest.mark.parametrize("experiment", [FIXED, SEQUENTIAL], ids=["fixed", "sequential"])
def test_a_proportion_at_the_predicted_units_reaches_the_stated_power(
        experiment: ExperimentConfig) -> None:
    pilot = stats(ProportionStats(2000, 200), ProportionStats(2000, 220))  # +10%, expected
    units = predicted_units(experiment, pilot)
    power = achieved_power(experiment, proportion_runs(units, np.random.default_rng(17)))
    assert abs(power - POWER) <= TOLERANCE, (units, power)


@pytest.mark.parametrize("experiment", [FIXED, SEQUENTIAL], ids=["fixed", "sequential"])
def test_a_ratio_metric_at_the_predicted_units_reaches_the_stated_power(
        experiment: ExperimentConfig) -> None:
    rng = np.random.default_rng(71)
    control, treatment = ratio_sample(40_000, 0.10, rng, 1)[0], \
        ratio_sample(40_000, 0.11, rng, 1)[0]
    units = predicted_units(experiment, stats(control, treatment))
    power = achieved_power(experiment, ratio_runs(units, rng))
    assert abs(power - POWER) <= TOLERANCE, (units, power)


def test_the_always_valid_test_needs_more_units_than_the_fixed_one() -> None:
    pilot = stats(ProportionStats(2000, 200), ProportionStats(2000, 220))
    assert predicted_units(SEQUENTIAL, pilot) > 1.2 * predicted_units(FIXED, pilot)


def test_the_units_for_the_mde_now_are_the_units_now() -> None:
    effect = relative_effect(arm(ProportionStats(5000, 500)), arm(ProportionStats(5000, 520)))
    for design in (Design(0.05, "two-sided"), Design(0.05, "greater", tuning=8000.0)):
        now = outlook(effect, design, None)
        assert units_for(design, effect.variance * effect.n, now.mde) in (10_000, 10_001)


def test_an_unreachable_target_has_no_unit_count() -> None:
    assert units_for(Design(0.05, "two-sided"), 1.0, 1e-9) is None


def test_more_primaries_split_alpha_so_the_mde_grows() -> None:
    pilot = stats(ProportionStats(2000, 200), ProportionStats(2000, 220))
    one = primary_outlooks(FIXED, tuple(evaluate(FIXED, pilot)))["ctr"]
    two = replace(FIXED, primary=("ctr", "ctr2"))
    both = SufficientStats(source="sim", variants=pilot.variants, units=pilot.units,
                           metrics={"ctr": pilot.metrics["ctr"], "ctr2": pilot.metrics["ctr"]})
    assert primary_outlooks(two, tuple(evaluate(two, both)))["ctr"].mde > one.mde


def test_an_absolute_difference_reads_the_target_relative_to_the_control_mean() -> None:
    pilot = stats(ProportionStats(2000, 200), ProportionStats(2000, 220))
    absolute = replace(FIXED, difference="absolute")
    outlooks = primary_outlooks(absolute, tuple(evaluate(absolute, pilot)))
    assert outlooks["ctr"].target == pytest.approx(0.10 * 0.10)
    relative_units = predicted_units(FIXED, pilot)
    assert outlooks["ctr"].units_needed == pytest.approx(relative_units, rel=0.15)


def test_keep_running_reports_the_outlook_in_json_and_summary() -> None:
    decision = decide(FIXED, stats(ProportionStats(2000, 200), ProportionStats(2000, 220)),
                      units_per_day=1000.0)
    assert decision.verdict == "keep-running"
    report = decision.to_json()["outlook"]
    assert isinstance(report, dict)
    ctr = report["ctr"]
    assert ctr["units_now"] == 4000
    assert ctr["units_more"] == ctr["units_needed"] - 4000 > 0
    assert ctr["days_more"] == pytest.approx(ctr["units_more"] / 1000.0)
    assert ctr["target"] == 0.10
    markdown = decision_markdown(decision)
    assert "How much longer (80% power)" in markdown
    assert f"{ctr['units_needed']:,}" in markdown
    page = html_report(decision, FIXED, None, None)
    assert "How much longer?" in page
    assert f"{ctr['units_more']:,}" in page


def test_without_a_target_only_the_mde_and_no_days_without_timestamps() -> None:
    decision = decide(replace(FIXED, target_effect=None),
                      stats(ProportionStats(2000, 200), ProportionStats(2000, 220)))
    ctr = decision.to_json()["outlook"]["ctr"]  # type: ignore[index]
    assert ctr["mde"] > 0.10
    assert ctr["units_needed"] is None
    assert ctr["days_more"] is None


def test_a_decided_experiment_has_no_outlook() -> None:
    decision = decide(FIXED, stats(ProportionStats(20_000, 2000), ProportionStats(20_000, 2300)))
    assert decision.verdict == "ship"
    assert decision.to_json()["outlook"] == {}
    assert "How much longer" not in decision_markdown(decision)
