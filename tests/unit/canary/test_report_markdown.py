"""The canary's Markdown (analysis and rollout summaries): metric names, reasons, versions,
the image and the queries open no Markdown."""

import dataclasses
import math

from modelrail.canary.analyze import AnalysisRequest, AnalysisResult
from modelrail.canary.config import AnalysisConfig, CounterMetric
from modelrail.canary.judge import Decision, Verdict
from modelrail.canary.loop import CanaryPlan, CanaryResult, StepRecord
from modelrail.canary.report import analysis_markdown, canary_markdown
from modelrail.errors import ExitCode
from modelrail.rollouts.policy import MirrorConfig

from tests.support.markdown_check import HOSTILE, assert_inert


def analysis(name: str) -> AnalysisResult:
    verdict = Verdict(name=name, test=name, outcome="fail", reason=f"{name} too high",
                      critical=True, canary={name: 0.03}, baseline={name: 0.01},
                      queries={"canary": f"errors{{x='{name}'}}"})
    request = AnalysisRequest(canary=name, baseline=name, time=1000.0, window="5m")
    return AnalysisResult(request=request, decision=Decision("fail", f"{name} failed", 0.0),
                          verdicts=(verdict,), alpha=0.05, false_rollback_rate=0.05,
                          prometheus="http://prometheus")


def rollout(name: str) -> str:
    plan = CanaryPlan(image=name, version=name, baseline=name, baseline_source=name,
                      weights=(10,), step_seconds=10.0, looks=1, extra_seconds=0.0,
                      mirror=MirrorConfig(route=name, percentage=50, scale=10))
    step = StepRecord(weight=10, verdict="fail", started="t0", ended="t1",
                      reason=f"{name} failed", analysis=analysis(name))
    result = CanaryResult(plan=plan, result="aborted", exit_code=ExitCode.REJECTED,
                          message=f"aborted: {name}", weight=0, failed_weight=10,
                          steps=(step,))
    config = AnalysisConfig(metrics=(CounterMetric(name=name, query="errors", total="all"),))
    return canary_markdown(result, config)


def test_analysis_markdown_with_hostile_names_opens_nothing() -> None:
    assert_inert(analysis_markdown(analysis("error_rate")), analysis_markdown(analysis(HOSTILE)))


def test_canary_markdown_with_hostile_names_opens_nothing() -> None:
    assert_inert(rollout("error_rate"), rollout(HOSTILE))


def test_an_infinite_ratio_from_a_zero_baseline_is_said_in_words() -> None:
    """A zero-heavy gauge whose baseline is all 0 has an infinite ratio (it read "infx")."""
    result = analysis("error_rate")
    verdict = dataclasses.replace(result.verdicts[0], effect=math.inf)
    table = analysis_markdown(dataclasses.replace(result, verdicts=(verdict,)))

    assert "| ∞ (baseline 0) |" in table
    assert "infx" not in table
