"""Decisions from fixed inputs: ship, no-ship, keep-running, invalid, and their exit codes."""

import json
import math
from dataclasses import replace
from typing import Any

import pytest
from modelrail.ab.config import (
    CupedConfig,
    ExperimentConfig,
    Guardrail,
    MetricSpec,
    SequentialConfig,
)
from modelrail.ab.decision import Decision, decide
from modelrail.ab.stats import (
    MeanStats,
    MetricStats,
    ProportionStats,
    SufficientStats,
    arm,
    fixed_test,
    relative_effect,
)
from modelrail.errors import ExitCode, UsageError

N = 10_000


def mean(mu: float, sd: float = 100.0, n: int = N) -> MeanStats:
    """Statistics of n units with exactly this mean and sample standard deviation."""
    return MeanStats(n=n, sum=n * mu, sum_squares=(n - 1) * sd**2 + n * mu**2)


def data(metrics: dict[str, tuple[MetricStats, MetricStats]],
         units: tuple[int, int] = (N, N)) -> SufficientStats:
    return SufficientStats(
        source="stats.json", variants=("control", "treatment"),
        units={"control": units[0], "treatment": units[1]},
        metrics={name: {"control": c, "treatment": t} for name, (c, t) in metrics.items()})


EXPERIMENT = ExperimentConfig(key="ranker-v2", primary=("ctr",),
                              guardrails={"session_duration": Guardrail(margin=0.02)})
CLEAR_WIN = (ProportionStats(N, 1000), ProportionStats(N, 1150))   # +15%, p ~ 1e-3
NOISE = (ProportionStats(N, 1000), ProportionStats(N, 1010))       # +1%, p ~ 0.8
CLEAR_LOSS = (ProportionStats(N, 1000), ProportionStats(N, 850))
SAFE = (mean(300, 60), mean(300.3, 60))                            # +0.1% +- 0.55%
HARMED = (mean(300, 60), mean(285, 60))                            # -5% +- 0.55%
UNSURE = (mean(300, 600), mean(297, 600))                          # -1% +- 5.5%


def verdict(experiment: ExperimentConfig, **metrics: tuple[MetricStats, MetricStats]) -> Decision:
    return decide(experiment, data(metrics))


def test_ship_when_every_primary_improves_and_every_guardrail_holds() -> None:
    decision = verdict(EXPERIMENT, ctr=CLEAR_WIN, session_duration=SAFE)
    assert decision.verdict == "ship"
    assert decision.exit_code == ExitCode.OK
    ctr, duration = decision.metrics
    assert (ctr.outcome, ctr.passed) == ("improved", True)
    assert ctr.test.estimate == pytest.approx(0.15)
    assert (duration.outcome, duration.passed) == ("non-inferior", True)


@pytest.mark.parametrize(("ctr", "duration", "reason"), [
    (CLEAR_LOSS, SAFE, "primary metric ctr got significantly worse"),
    (CLEAR_WIN, HARMED, "guardrail session_duration got worse by more than its 2.0% margin"),
    (NOISE, HARMED, "guardrail session_duration"),
])
def test_no_ship_when_a_primary_is_worse_or_a_guardrail_fails(
        ctr: tuple[MetricStats, MetricStats], duration: tuple[MetricStats, MetricStats],
        reason: str) -> None:
    decision = verdict(EXPERIMENT, ctr=ctr, session_duration=duration)
    assert decision.verdict == "no-ship"
    assert decision.exit_code == ExitCode.REJECTED
    assert reason in decision.reason


@pytest.mark.parametrize(("ctr", "duration", "pending"), [
    (NOISE, SAFE, "primary metric ctr has no significant improvement yet"),
    (CLEAR_WIN, UNSURE, "guardrail session_duration is not yet shown within its 2.0% margin"),
])
def test_keep_running_when_nothing_is_decided_yet(
        ctr: tuple[MetricStats, MetricStats], duration: tuple[MetricStats, MetricStats],
        pending: str) -> None:
    decision = verdict(EXPERIMENT, ctr=ctr, session_duration=duration)
    assert decision.verdict == "keep-running"
    assert decision.exit_code == ExitCode.INCONCLUSIVE
    assert pending in decision.reason


def test_a_guardrail_worse_than_control_but_within_its_margin_passes() -> None:
    slightly_worse = (mean(300, 60, 40_000), mean(298.5, 60, 40_000))  # -0.5% +- 0.3%
    decision = verdict(EXPERIMENT, ctr=CLEAR_WIN, session_duration=slightly_worse)
    duration = decision.metrics[1]
    assert duration.test.estimate < 0
    assert duration.test.low > -0.02
    assert decision.verdict == "ship"


def test_invalid_on_sample_ratio_mismatch_and_no_metric_is_read() -> None:
    unreadable = (MeanStats(n=1, sum=1, sum_squares=1), MeanStats(n=1, sum=1, sum_squares=1))
    stats = data({"ctr": unreadable, "session_duration": unreadable}, units=(10_000, 10_600))
    decision = decide(EXPERIMENT, stats)
    assert decision.verdict == "invalid"
    assert decision.exit_code == ExitCode.REJECTED
    assert decision.metrics == ()
    assert not decision.srm.passed
    assert decision.srm.p_value < 0.001
    assert "sample ratio mismatch: control 10000 / treatment 10600" in decision.reason


def test_srm_uses_the_configured_weights() -> None:
    uneven = replace(EXPERIMENT, weights=(0.2, 0.8))
    stats = replace(data({"ctr": CLEAR_WIN, "session_duration": SAFE}),
                    units={"control": 2000, "treatment": 8050})
    assert decide(uneven, stats).verdict == "ship"
    assert decide(EXPERIMENT, stats).verdict == "invalid"


def pair_with_p(p_value: float) -> tuple[MeanStats, MeanStats]:
    """A mean metric whose two-sided relative-lift p-value is about `p_value`."""
    control = mean(100.0)
    low, high = 0.0, 0.2
    for _ in range(60):
        lift = (low + high) / 2
        result = relative_effect(arm(control), arm(mean(100.0 * (1 + lift))))
        if fixed_test(result, 0.05, "two-sided").p_value > p_value:
            low = lift
        else:
            high = lift
    return control, mean(100.0 * (1 + low))


def test_holm_across_primaries_protects_the_ship_claim() -> None:
    two = replace(EXPERIMENT, primary=("ctr", "conversions"))
    decision = verdict(two, ctr=pair_with_p(0.03), conversions=pair_with_p(0.04),
                       session_duration=SAFE)
    ctr, conversions = decision.metrics[:2]
    assert ctr.test.p_value == pytest.approx(0.03, rel=1e-3)
    assert ctr.adjusted_p_value == pytest.approx(0.06, rel=1e-3)
    assert conversions.adjusted_p_value == pytest.approx(0.06, rel=1e-3)
    assert decision.verdict == "keep-running"
    one = verdict(EXPERIMENT, ctr=pair_with_p(0.03), session_duration=SAFE)
    assert one.verdict == "ship"


def test_one_sided_tests_ship_what_two_sided_ones_keep_running() -> None:
    borderline = pair_with_p(0.08)  # one-sided p ~ 0.04
    assert verdict(EXPERIMENT, ctr=borderline, session_duration=SAFE).verdict \
        == "keep-running"
    one_sided = replace(EXPERIMENT, sided="one")
    decision = verdict(one_sided, ctr=borderline, session_duration=SAFE)
    assert decision.verdict == "ship"
    assert decision.metrics[0].test.high == math.inf
    assert verdict(one_sided, ctr=CLEAR_LOSS, session_duration=SAFE).verdict == "no-ship"


def test_a_primary_that_should_fall_improves_when_it_falls() -> None:
    lower_is_better = replace(EXPERIMENT, metrics={"ctr": MetricSpec("proportion", False)})
    assert verdict(lower_is_better, ctr=CLEAR_LOSS, session_duration=SAFE).verdict == "ship"
    assert verdict(lower_is_better, ctr=CLEAR_WIN, session_duration=SAFE).verdict == "no-ship"


def test_a_guardrail_where_an_increase_is_the_harm() -> None:
    latency = replace(EXPERIMENT, guardrails={"latency_ms": Guardrail(0.02, "increase")})
    slower = (mean(100, 20), mean(105, 20))
    assert verdict(latency, ctr=CLEAR_WIN, latency_ms=slower).verdict == "no-ship"
    faster = (mean(100, 20), mean(95, 20))
    assert verdict(latency, ctr=CLEAR_WIN, latency_ms=faster).verdict == "ship"


def test_secondary_metrics_are_reported_but_never_decide() -> None:
    with_secondary = replace(EXPERIMENT, metrics={"revenue": MetricSpec("mean")})
    decision = verdict(with_secondary, ctr=CLEAR_WIN, session_duration=SAFE,
                       revenue=(mean(50, 10), mean(45, 10)))
    revenue = decision.metrics[-1]
    assert (revenue.role, revenue.outcome, revenue.passed) == ("secondary", "worse", None)
    assert decision.verdict == "ship"


def test_sequential_mode_needs_more_evidence_than_a_fixed_horizon() -> None:
    modest = pair_with_p(0.01)
    fixed = verdict(EXPERIMENT, ctr=modest, session_duration=SAFE)
    sequential = verdict(replace(EXPERIMENT, sequential=SequentialConfig(True, 20_000)),
                         ctr=modest, session_duration=SAFE)
    assert fixed.verdict == "ship"
    assert sequential.verdict == "keep-running"
    assert sequential.metrics[0].test.low < fixed.metrics[0].test.low
    assert sequential.sequential
    assert not fixed.sequential


def test_absolute_differences_on_request() -> None:
    absolute = replace(EXPERIMENT, difference="absolute")
    decision = verdict(absolute, ctr=CLEAR_WIN, session_duration=SAFE)
    ctr, duration = decision.metrics
    assert ctr.test.estimate == pytest.approx(0.015)
    assert not ctr.relative
    assert duration.relative  # guardrail margins are relative, so is their test


def test_cuped_narrows_the_interval() -> None:
    def with_covariate(stats: MeanStats, slope: float) -> MeanStats:
        # x = pre-period value; y = x * slope + noise: make sums consistent with that.
        x_sum, x_squares = stats.sum / slope, stats.sum_squares / slope**2 * 0.99
        return replace(stats, covariate_sum=x_sum, covariate_sum_squares=x_squares,
                       covariate_sum_products=stats.sum_squares / slope * 0.98)
    base = pair_with_p(0.2)
    adjusted = (with_covariate(base[0], 1.0), with_covariate(base[1], 1.0))
    cuped = replace(EXPERIMENT, cuped=CupedConfig(enabled=True, covariate="pre"),
                    guardrails={})
    plain = verdict(replace(EXPERIMENT, guardrails={}), ctr=base)
    narrowed = verdict(cuped, ctr=adjusted)
    width = [d.metrics[0].test.high - d.metrics[0].test.low for d in (plain, narrowed)]
    assert width[1] < width[0] / 2


def test_the_json_result() -> None:
    decision = verdict(replace(EXPERIMENT, metrics={"revenue": MetricSpec("mean")}),
                       ctr=CLEAR_WIN, session_duration=SAFE, revenue=(mean(5), mean(5.1)))
    report: dict[str, Any] = json.loads(json.dumps(decision.to_json(), allow_nan=False))
    assert report["decision"] == "ship"
    assert report["srm"]["passed"] is True
    assert set(report["srm"]) >= {"p_value", "passed"}
    ctr = report["metrics"]["ctr"]
    assert ctr["role"] == "primary"
    assert ctr["passed"] is True
    assert ctr["lift"] == pytest.approx(0.15)
    assert ctr["ci"][0] < 0.15 < ctr["ci"][1]
    assert set(ctr) >= {"role", "lift", "ci", "p_value", "passed", "adjusted_p_value"}
    duration = report["metrics"]["session_duration"]
    assert duration["ci"][1] is None
    assert duration["margin"] == 0.02
    assert report["metrics"]["revenue"]["passed"] is None
    assert report["metrics"]["ctr"]["means"] == {"control": 0.1, "treatment": 0.115}


@pytest.mark.parametrize(("experiment", "metrics", "message"), [
    (EXPERIMENT, {"ctr": CLEAR_WIN}, "stats.json: metrics.session_duration: missing"),
    (replace(EXPERIMENT, metrics={"ctr": MetricSpec("ratio")}),
     {"ctr": CLEAR_WIN, "session_duration": SAFE},
     "stats.json: metrics.ctr.type: not ratio, which experiment.metrics.ctr.type declares"),
    (EXPERIMENT, {"ctr": (ProportionStats(N, 0), ProportionStats(N, 10)),
                  "session_duration": SAFE},
     "stats.json: metrics.ctr: the control mean is 0"),
    (replace(EXPERIMENT, cuped=CupedConfig(enabled=True)),
     {"ctr": CLEAR_WIN, "session_duration": SAFE},
     "stats.json: metrics.session_duration.control.covariate_sum: CUPED is enabled"),
    (EXPERIMENT, {"ctr": (ProportionStats(1, 1), ProportionStats(N, 10)),
                  "session_duration": SAFE}, "stats.json: metrics.ctr.control.n: one unit"),
])
def test_statistics_that_admit_no_test_name_the_path(
        experiment: ExperimentConfig, metrics: dict[str, tuple[MetricStats, MetricStats]],
        message: str) -> None:
    with pytest.raises(UsageError) as caught:
        decide(experiment, data(metrics))
    assert str(caught.value).startswith(message)
    assert caught.value.exit_code == ExitCode.USAGE


def test_variants_must_be_the_experiments() -> None:
    other = replace(EXPERIMENT, variants=("control", "v2"))
    with pytest.raises(UsageError, match=r"variants: \['control', 'treatment'\] are not"):
        decide(other, data({"ctr": CLEAR_WIN, "session_duration": SAFE}))
    three = replace(EXPERIMENT, variants=("a", "b", "c"), weights=(0.3, 0.3, 0.4))
    stats = replace(data({}), variants=("a", "b", "c"), units={"a": 3, "b": 3, "c": 4})
    with pytest.raises(UsageError, match="one treatment, got 3 variants"):
        decide(three, stats)
