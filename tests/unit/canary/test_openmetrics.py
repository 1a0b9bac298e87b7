"""`canary run --openmetrics`: every look x metric as gauges, read back by Prometheus's own
parsers (`promtool check metrics`, and `promtool tsdb create-blocks-from openmetrics`
then `promtool tsdb dump`), hostile label values included."""

from pathlib import Path

from modelrail.canary.analyze import AnalysisRequest, AnalysisResult
from modelrail.canary.config import AnalysisConfig, CounterMetric, ThresholdMetric
from modelrail.canary.judge import Decision, Verdict
from modelrail.canary.loop import CanaryPlan, CanaryResult, StepRecord
from modelrail.canary.openmetrics import Where, canary_gauges
from modelrail.errors import ExitCode
from modelrail.plumbing.openmetrics import render

from tests.support.markdown_check import HOSTILE
from tests.support.promtool import check_metrics, load_and_dump, needs_promtool

LOOK_TIME = 1_796_518_800.7  # 2026-12-06T01:00:00Z: the first step starts


def look(number: int, outcome: str, version: str, start: float) -> AnalysisResult:
    errors = Verdict(name="error_rate", test="conditional rate", outcome=outcome,  # type: ignore[arg-type]
                     reason="r", canary={"rate": 0.02, "events": 4, "total": 200},
                     baseline={"rate": 0.01, "events": None, "total": 400},
                     p_value=0.004, alpha=0.0025, effect=2.0)
    slo = Verdict(name="latency_p99_slo", test="threshold", outcome="pass", reason="ok",
                  canary={"value": 0.12, "series": 1})
    request = AnalysisRequest(canary=version, baseline="1", time=start + 300 * number,
                              window="5m", look=number, looks=2)
    return AnalysisResult(request=request, decision=Decision(outcome, "why", 0.0),  # type: ignore[arg-type]
                          verdicts=(errors, slo), alpha=0.0025, false_rollback_rate=0.01,
                          prometheus="http://prometheus")


def canary(version: str = "7", start: float = LOOK_TIME) -> CanaryResult:
    """Steps at 10 % (pass), 25 % (fail), 50 % (error, no look); looks every 300 s from
    `start`."""
    plan = CanaryPlan(image="img", version=version, baseline="1", baseline_source="flag",
                      weights=(10, 25, 50), step_seconds=300.0, looks=2, extra_seconds=0.0)
    steps = (StepRecord(10, "pass", "2026-12-06T01:00:00Z", "2026-12-06T01:05:00Z", "ok",
                        look(1, "pass", version, start)),
             StepRecord(25, "fail", "2026-12-06T01:05:00Z", "2026-12-06T01:10:00Z", "bad",
                        look(2, "fail", version, start)),
             StepRecord(50, "error", "2026-12-06T01:10:00Z", "2026-12-06T01:11:40Z",
                        "Prometheus down"))
    return CanaryResult(plan, "aborted", ExitCode.REJECTED, "aborted", 0, 25, steps)


ANALYSIS = AnalysisConfig(metrics=(
    CounterMetric(name="error_rate", query="e", total="t", allowed_ratio=1.5),
    ThresholdMetric(name="latency_p99_slo", query="q", maximum=0.25)))
WHERE = Where(rollout="ctr-ranker", namespace="ml", model="ctr-ranker")


def exposition(version: str = "7") -> str:
    return render(canary_gauges(canary(version), ANALYSIS, WHERE))


def test_each_look_and_metric_has_its_verdict_values_bound_and_p_value() -> None:
    text = exposition()
    labels = ('rollout="ctr-ranker",namespace="ml",model="ctr-ranker",version="7",'
              'baseline="1",step="2",weight="25"')
    stamp = int(LOOK_TIME) + 600

    assert f'modelrail_canary_verdict{{{labels},metric="error_rate",verdict="fail"}} ' \
        f"-1.0 {stamp}" in text.splitlines()
    assert f'modelrail_canary_value{{{labels},metric="error_rate",side="baseline",' \
        f'stat="rate"}} 0.01 {stamp}' in text
    assert 'side="baseline",stat="events"' not in text  # no value, no sample
    assert f'modelrail_canary_bound{{{labels},metric="error_rate",bound="allowed_ratio"}} ' \
        f"1.5 {stamp}" in text
    assert f'modelrail_canary_bound{{{labels},metric="latency_p99_slo",bound="max"}} ' \
        f"0.25 {stamp}" in text
    assert f'modelrail_canary_p_value{{{labels},metric="error_rate"}} 0.004 {stamp}' in text
    # the step that ended in an error has a step verdict, stamped with its end
    assert 'step="3",weight="50",verdict="error"} -2.0 1796519500' in text
    assert text.endswith("\n# EOF\n")
    assert text.count("# TYPE ") == text.count("# HELP ") == 7


@needs_promtool
def test_promtool_checks_the_file() -> None:
    check_metrics(exposition(HOSTILE))


@needs_promtool
def test_prometheus_loads_the_file_with_every_sample_and_label_intact(tmp_path: Path) -> None:
    dump = load_and_dump(exposition(HOSTILE), tmp_path)

    # split at newlines only: the hostile value holds a raw carriage return
    samples = [line for line in exposition(HOSTILE).split("\n") if line[:1] not in "#"]
    assert len(dump) == len(samples)
    step_verdicts = [line for line in dump if "modelrail_canary_step_verdict" in line]
    assert len(step_verdicts) == 3
    # dump quotes as Go does (strconv.Quote): the newline escaped, printable text as is
    assert all(r'version="x|y`\n## Quality gate passed ✅\n@acme/admins' in line
               for line in step_verdicts), step_verdicts[0]
