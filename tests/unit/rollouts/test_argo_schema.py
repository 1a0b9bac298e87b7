"""Every Rollout and AnalysisTemplate the project writes or ships, checked against the
structural schema of Argo's CRDs (tests/support/schemas/argo.py): no field the API server
would prune, no value of the wrong type."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from modelrail.canary.argo_template import analysis_template
from modelrail.canary.config import parse_analysis
from modelrail.canary.schedule import StepSchedule
from modelrail.plumbing.policy_section import Section
from modelrail.rollouts.policy import MirrorConfig
from modelrail.rollouts.steps import expected_steps

from tests.support.schemas.argo import ANALYSIS_TEMPLATE, ROLLOUT, problems
from tests.support.standins.rollouts import Mirror, RolloutsStandIn


def test_the_example_rollout(repo_root: Path) -> None:
    rollout = yaml.safe_load((repo_root / "example-model" / "k8s" / "rollout.yaml")
                             .read_text(encoding="utf-8"))
    assert problems(rollout, ROLLOUT) == []


@pytest.mark.parametrize("shape", [{}, {"mirror": Mirror()}, {"workload_ref": "app"},
                                   {"traffic_routing": False}])
def test_the_stand_ins_rollouts(shape: dict[str, Any]) -> None:
    with RolloutsStandIn() as standin:
        assert problems(standin.add_rollout("ranker", **shape), ROLLOUT) == []


@pytest.mark.parametrize("mirror", [None, MirrorConfig(route="mirror", percentage=35,
                                                       scale=25)])
def test_the_steps_the_step_check_asks_for(mirror: MirrorConfig | None) -> None:
    canary = {"steps": expected_steps((10, 25, 50, 100), mirror)}
    assert problems({"spec": {"strategy": {"canary": canary}}}, ROLLOUT) == []


@pytest.mark.parametrize("step_seconds", [0.5, 60.0, 300.0])
def test_the_exported_analysis_template(repo_root: Path, step_seconds: float) -> None:
    policy = yaml.safe_load((repo_root / "example-model" / "modelrail.yaml")
                            .read_text(encoding="utf-8"))
    analysis = parse_analysis(Section(policy["analysis"], "analysis", Path("modelrail.yaml")))
    template = analysis_template(analysis, "ctr-ranker-canary", "5m",
                                 "http://prometheus:9090", StepSchedule(step_seconds))
    assert template["spec"]["metrics"]  # type: ignore[index]
    assert problems(template, ANALYSIS_TEMPLATE) == []


def test_a_misspelled_or_mistyped_field_is_reported() -> None:
    template = {"spec": {"metrics": [{"name": "x", "consecutiveSucessLimit": 1,
                                      "count": 1.5, "provider": {"prometheus": {}}}]}}
    assert problems(template, ANALYSIS_TEMPLATE) == [
        ".spec.metrics[0].consecutiveSucessLimit: unknown field (pruned)",
        ".spec.metrics[0].count: expected int-or-string, got 1.5"]
