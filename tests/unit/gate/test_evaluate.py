"""The quality gate: MLflow MetricThreshold semantics, reasons and the JSON report."""

import json
import math

import pytest
from modelrail.gate.config import MetricThreshold
from modelrail.gate.evaluate import (
    Check,
    GateResult,
    MetricVerdict,
    evaluate_gate,
    result_from_json,
)

GREATER = True
LOWER = False
MODEL = "ranker"


def gate(policy: dict[str, MetricThreshold], candidate: dict[str, float],
         champion: dict[str, float] | None, champion_ref: str | None = None) -> GateResult:
    return evaluate_gate(model=MODEL, policy=policy, candidate=candidate, champion=champion,
                         champion_ref=champion_ref)


def rule(greater: bool, threshold: float | None = None, absolute: float | None = None,
         relative: float | None = None) -> MetricThreshold:
    return MetricThreshold(greater_is_better=greater, threshold=threshold,
                           min_absolute_change=absolute, min_relative_change=relative)


def judge(r: MetricThreshold, candidate: float, champion: float | None = None) -> MetricVerdict:
    """The verdict for one metric `m` (champion given → champion has `m`)."""
    result = gate({"m": r}, {"m": candidate},
                           None if champion is None else {"m": champion})
    [verdict] = result.metrics
    assert result.passed is verdict.passed
    return verdict


# -- threshold --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("greater", "value", "passed"),
    [
        (GREATER, 0.81, True), (GREATER, 0.80, True), (GREATER, 0.79, False),
        (LOWER, 49.0, True), (LOWER, 50.0, True), (LOWER, 51.0, False),
    ],
)
def test_threshold_both_directions_and_exactly_at_bound(
    greater: bool, value: float, passed: bool
) -> None:
    bound = 0.80 if greater else 50.0
    verdict = judge(rule(greater, threshold=bound), value)

    assert verdict.passed is passed
    [check] = verdict.checks
    assert check == Check("threshold", bound, passed, check.detail)


def test_threshold_failure_reason_names_metric_value_bound_and_shortfall() -> None:
    result = gate({"roc_auc": rule(GREATER, threshold=0.8)}, {"roc_auc": 0.75}, None)

    [verdict] = result.failures()
    assert verdict.reason == "roc_auc 0.75 is below threshold 0.8, off by 0.05"


def test_lower_is_better_failure_reason_says_above() -> None:
    result = gate({"latency_ms": rule(LOWER, threshold=50)}, {"latency_ms": 62.5}, None)

    assert result.metrics[0].reason == "latency_ms 62.5 is above threshold 50, off by 12.5"


def test_passing_reason_shows_the_comparison() -> None:
    assert judge(rule(GREATER, threshold=0.5), 0.75).reason == "m 0.75 >= threshold 0.5"
    assert judge(rule(LOWER, threshold=0.5), 0.25).reason == "m 0.25 <= threshold 0.5"


# -- champion-relative ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("greater", "champion", "change", "required"),
    [
        (GREATER, 0.5, 0.25, 0.75),   # candidate >= champion + abs
        (LOWER, 10.0, 2.0, 8.0),      # candidate <= champion - abs
        (GREATER, -2.0, 0.5, -1.5),
        (GREATER, 4.0, -1.0, 3.0),    # a negative change tolerates a bounded regression
        (LOWER, 4.0, -1.0, 5.0),
    ],
)
def test_min_absolute_change(
    greater: bool, champion: float, change: float, required: float
) -> None:
    r = rule(greater, absolute=change)
    worse = required - 0.01 if greater else required + 0.01

    at_bound = judge(r, required, champion)
    beyond = judge(r, worse, champion)

    assert at_bound.passed
    assert not beyond.passed
    assert [c.kind for c in at_bound.checks] == ["min_absolute_change"]
    assert at_bound.checks[0].required == required


@pytest.mark.parametrize(
    ("greater", "champion", "relative", "required"),
    [
        # greater: candidate >= champion + rel * |champion|
        (GREATER, 2.0, 0.25, 2.5),
        (GREATER, -2.0, 0.25, -1.5),   # |champion|: not champion * (1 + rel) = -2.5
        (GREATER, 4.0, -0.25, 3.0),    # negative: tolerate a 25 % regression
        (GREATER, -4.0, -0.25, -5.0),
        (GREATER, 0.0, 0.25, 0.0),     # zero champion: must simply not regress
        # lower is better: candidate <= champion - rel * |champion|
        (LOWER, 2.0, 0.25, 1.5),
        (LOWER, -2.0, 0.25, -2.5),     # not champion * (1 - rel) = -1.5
        (LOWER, 4.0, -0.25, 5.0),
        (LOWER, -4.0, -0.25, -3.0),
    ],
)
def test_min_relative_change_formula(
    greater: bool, champion: float, relative: float, required: float
) -> None:
    r = rule(greater, relative=relative)
    worse = required - 0.01 if greater else required + 0.01
    better = required + 0.01 if greater else required - 0.01

    at_bound = judge(r, required, champion)

    assert at_bound.passed
    assert at_bound.checks[0].kind == "min_relative_change"
    assert at_bound.checks[0].required == required
    assert judge(r, better, champion).passed
    assert not judge(r, worse, champion).passed


def test_decimal_values_exactly_at_the_bound_pass() -> None:
    assert judge(rule(GREATER, absolute=0.2), 0.3, 0.1).passed
    assert judge(rule(GREATER, relative=0.1), 0.88, 0.8).passed


def test_relative_failure_reason_names_champion_setting_and_shortfall() -> None:
    result = gate({"roc_auc": rule(GREATER, relative=0.25)}, {"roc_auc": 2.25},
                           {"roc_auc": 2.0}, "models:/ranker@champion")

    reason = result.metrics[0].reason
    assert reason == ("roc_auc 2.25 is below 2.5 = champion 2 with min_relative_change 0.25; "
                      "change +0.25 (+12.50%), off by 0.25")
    assert result.champion == "models:/ranker@champion"


def test_all_checks_apply_together_and_every_failure_is_reported() -> None:
    r = rule(GREATER, threshold=0.9, absolute=0.5, relative=0.5)

    verdict = judge(r, 0.8, 0.6)

    assert [c.kind for c in verdict.checks] == [
        "threshold", "min_absolute_change", "min_relative_change"]
    assert [c.passed for c in verdict.checks] == [False, False, False]
    assert verdict.reason == "; ".join(c.detail for c in verdict.checks)
    assert "below threshold 0.9, off by 0.1" in verdict.reason
    assert "below 1.1 = champion 0.6 with min_absolute_change 0.5" in verdict.reason
    assert "below 0.9 = champion 0.6 with min_relative_change 0.5" in verdict.reason


def test_reason_lists_only_the_failed_checks() -> None:
    verdict = judge(rule(GREATER, threshold=0.5, absolute=0.5), 0.8, 0.6)

    assert [c.passed for c in verdict.checks] == [True, False]
    assert verdict.reason == verdict.checks[1].detail


def test_gate_passes_only_when_every_metric_passes() -> None:
    policy = {"auc": rule(GREATER, threshold=0.8), "latency": rule(LOWER, threshold=50)}

    ok = gate(policy, {"auc": 0.9, "latency": 40}, None)
    bad = gate(policy, {"auc": 0.9, "latency": 60}, None)

    assert ok.passed
    assert ok.failures() == []
    assert not bad.passed
    assert [m.name for m in bad.failures()] == ["latency"]
    assert [m.name for m in bad.metrics] == ["auc", "latency"]


# -- no champion, champion without the metric ---------------------------------------------


def test_no_champion_skips_relative_checks_with_a_note() -> None:
    policy = {"auc": rule(GREATER, threshold=0.8, relative=0.5)}

    passed = gate(policy, {"auc": 0.85}, None, "models:/ranker@champion")
    failed = gate(policy, {"auc": 0.75}, None)

    assert passed.passed
    assert passed.champion is None
    assert len(passed.notes) == 1
    assert passed.notes[0] == ("no champion compared: no champion metrics were given; "
                               "champion-relative checks were skipped")
    assert [c.kind for c in passed.metrics[0].checks] == ["threshold"]
    assert not failed.passed  # still judged on the threshold


def test_champion_lacking_the_metric_is_noted_and_skipped() -> None:
    policy = {"auc": rule(GREATER, threshold=0.8, absolute=0.1),
              "f1": rule(GREATER, absolute=0.1)}

    result = gate(policy, {"auc": 0.85, "f1": 0.5}, {"f1": 0.45, "other": 1.0})

    auc, f1 = result.metrics
    assert auc.passed
    assert auc.champion is None
    assert [c.kind for c in auc.checks] == ["threshold"]
    assert not f1.passed  # f1 still compared: 0.5 < 0.45 + 0.1
    assert len(result.notes) == 1
    assert result.notes[0].startswith("auc:")
    assert "skipped" in result.notes[0]


def test_champion_with_nan_value_is_noted_and_skipped() -> None:
    result = gate({"auc": rule(GREATER, absolute=0.1)}, {"auc": 0.5},
                           {"auc": math.nan})

    assert result.passed
    assert result.metrics[0].checks == []
    assert "auc" in result.notes[0]


def test_metric_without_any_bound_passes_when_present() -> None:
    verdict = judge(rule(GREATER), 0.5)

    assert verdict.passed
    assert "no bound applies" in verdict.reason


# -- bad candidate values -------------------------------------------------------------


def test_missing_candidate_metric_fails_listing_available_names() -> None:
    result = gate({"roc_auc": rule(GREATER, threshold=0.8)},
                           {"auc": 0.9, "accuracy": 0.95}, {"roc_auc": 0.85})

    assert not result.passed
    [verdict] = result.metrics
    assert verdict.candidate is None
    assert "roc_auc" in verdict.reason
    assert "missing" in verdict.reason
    assert "accuracy, auc" in verdict.reason


def test_missing_candidate_metric_with_no_metrics_at_all() -> None:
    result = gate({"auc": rule(GREATER)}, {}, None)

    assert not result.passed
    assert "(have: none)" in result.metrics[0].reason


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("greater", [GREATER, LOWER])
def test_non_finite_candidate_fails(value: float, greater: bool) -> None:
    # Every comparison with NaN is False: the gate must not pass by not failing a check.
    verdict = judge(rule(greater), value, 1.0)

    assert not verdict.passed
    assert "not a finite number" in verdict.reason


def test_nan_candidate_fails_even_with_only_a_threshold() -> None:
    assert not gate({"m": rule(LOWER, threshold=1.0)}, {"m": math.nan}, None).passed


# -- the JSON report ----------------------------------------------------------------------


def sample_result() -> GateResult:
    policy = {
        "auc": rule(GREATER, threshold=0.8, relative=0.01),
        "latency": rule(LOWER, threshold=50, absolute=-5),
        "f1": rule(GREATER, threshold=0.5),
        "recall": rule(GREATER, absolute=0.1),
    }
    return gate(policy, {"auc": 0.79, "latency": 52.0, "f1": 0.6},
                         {"auc": 0.82, "latency": 48.0}, "models:/ranker@champion")


def test_to_json_shape() -> None:
    report = sample_result().to_json()

    assert report["model"] == MODEL
    assert report["passed"] is False
    assert report["champion"] == "models:/ranker@champion"
    assert isinstance(report["notes"], list)
    metrics = report["metrics"]
    assert isinstance(metrics, list)
    assert [m["name"] for m in metrics] == ["auc", "latency", "f1", "recall"]
    for entry in metrics:
        assert {"name", "candidate", "champion", "passed", "reason", "greater_is_better",
                "change", "checks"} <= set(entry)
    auc, latency, f1, recall = metrics
    assert (auc["candidate"], auc["champion"], auc["passed"]) == (0.79, 0.82, False)
    assert auc["change"] == pytest.approx(-0.03)
    assert auc["checks"][0] == {"kind": "threshold", "required": 0.8, "passed": False,
                                "detail": auc["checks"][0]["detail"]}
    assert latency["passed"] is False  # within 48 + 5 of the champion, but above 50
    assert [(c["kind"], c["required"], c["passed"]) for c in latency["checks"]] == [
        ("threshold", 50.0, False), ("min_absolute_change", 53.0, True)]
    assert f1["champion"] is None
    assert f1["change"] is None
    assert recall["candidate"] is None
    assert json.loads(json.dumps(report)) == report


def test_result_from_json_round_trips() -> None:
    result = sample_result()

    assert result_from_json(result.to_json()) == result
    assert result_from_json(json.loads(json.dumps(result.to_json()))) == result


def test_round_trip_without_champion() -> None:
    result = gate({"auc": rule(GREATER, threshold=0.8, relative=0.1)}, {"auc": 0.9},
                           None)

    rebuilt = result_from_json(json.loads(json.dumps(result.to_json())))

    assert rebuilt == result
    assert rebuilt.champion is None
    assert rebuilt.notes == result.notes != []


# -- a report read back is judged again from its metric entries ------------------------


def forged(report: dict[str, object], **top: object) -> dict[str, object]:
    return json.loads(json.dumps({**report, **top}))  # type: ignore[no-any-return]


def test_a_top_level_pass_does_not_hide_a_failed_metric_entry() -> None:
    report = forged(sample_result().to_json(), passed=True)

    rebuilt = result_from_json(report)

    assert rebuilt.passed is False
    assert [m.name for m in rebuilt.failures()] == ["auc", "latency", "recall"]
    assert any("said passed" in note and "auc" in note for note in rebuilt.notes)


def test_a_metric_entry_passed_with_a_failed_check_is_a_failure() -> None:
    report = forged(sample_result().to_json(), passed=True)
    for entry in report["metrics"]:  # type: ignore[attr-defined]
        entry["passed"] = True

    rebuilt = result_from_json(report)

    assert rebuilt.passed is False
    assert {m.name for m in rebuilt.failures()} == {"auc", "latency"}  # a check failed
    assert all(not m.passed for m in rebuilt.failures())


def test_a_top_level_fail_stays_a_fail_when_every_entry_passed() -> None:
    passed = gate({"auc": rule(GREATER, threshold=0.8)}, {"auc": 0.9}, None)

    rebuilt = result_from_json(forged(passed.to_json(), passed=False))

    assert rebuilt.passed is False
    assert any("said failed" in note for note in rebuilt.notes)


@pytest.mark.parametrize(("where", "value"), [
    ("passed", "true"), ("passed", 1), ("metrics.0.passed", "false"),
    ("metrics.0.checks.0.passed", None), ("metrics", {"auc": {}}),
])
def test_a_malformed_report_names_the_field(where: str, value: object) -> None:
    report = sample_result().to_json()
    target: object = report
    *path, last = where.split(".")
    for key in path:
        target = target[int(key) if isinstance(target, list) else key]  # type: ignore[index]
    target[int(last) if isinstance(target, list) else last] = value  # type: ignore[index]

    with pytest.raises((KeyError, TypeError, ValueError)) as caught:
        result_from_json(report)

    assert where.rsplit(".", 1)[-1] in str(caught.value)
