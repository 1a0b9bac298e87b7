"""The `experiment:` section: defaults, every field, and errors naming file + dotted key."""

from pathlib import Path

import pytest
import yaml
from modelrail.ab.config import (
    CupedConfig,
    ExperimentConfig,
    Guardrail,
    MetricSpec,
    SequentialConfig,
    parse_experiment,
)
from modelrail.errors import UsageError
from modelrail.plumbing.policy_section import Section

SOURCE = Path("modelrail.yaml")


def parse(text: str) -> ExperimentConfig:
    return parse_experiment(Section(yaml.safe_load(text), "experiment", SOURCE))


def test_the_design_sketch_parses_with_defaults() -> None:
    config = parse("{key: ranker-v2, primary: ctr, "
                   "guardrails: {session_duration: {margin: 0.02}}}")
    assert config == ExperimentConfig(
        key="ranker-v2", primary=("ctr",), guardrails={"session_duration": Guardrail(0.02)})
    assert config.variants == ("control", "treatment")
    assert config.weights == (0.5, 0.5)
    assert (config.alpha, config.difference, config.sided) == (0.05, "relative", "two")
    assert config.sequential == SequentialConfig(enabled=False, tuning=5000.0)
    assert config.cuped == CupedConfig(enabled=False, covariate=None)
    assert config.control == "control"


FULL = """\
key: ranker-v2
variants: [v1, v2, v3]
weights: [0.2, 0.3, 0.5]
coverage: 0.8
primary: [ctr, conversions]
guardrails:
  session_duration: {margin: 0.02}
  latency_ms: {margin: 0.05, direction: increase}
metrics:
  ctr: {type: ratio}
  conversions: {type: proportion}
  revenue: {type: mean}
  bounce_rate: {type: proportion, greater_is_better: false}
  latency_ms: {type: mean}
alpha: 0.01
difference: absolute
sided: one
sequential: {enabled: true, tuning: 20000}
cuped: {enabled: true, covariate: pre_session_duration}
"""


def test_every_field() -> None:
    config = parse(FULL)
    assert config.variants == ("v1", "v2", "v3")
    assert config.weights == (0.2, 0.3, 0.5)
    assert config.coverage == 0.8
    assert config.primary == ("ctr", "conversions")
    assert config.guardrails == {"session_duration": Guardrail(0.02, "decrease"),
                                 "latency_ms": Guardrail(0.05, "increase")}
    assert config.metrics["bounce_rate"] == MetricSpec("proportion", greater_is_better=False)
    assert (config.alpha, config.difference, config.sided) == (0.01, "absolute", "one")
    assert config.sequential == SequentialConfig(enabled=True, tuning=20000.0)
    assert config.cuped == CupedConfig(enabled=True, covariate="pre_session_duration")
    assert config.metric_names() == ["ctr", "conversions", "session_duration", "latency_ms",
                                     "revenue", "bounce_rate"]


def test_which_way_is_good_is_said_once_per_metric() -> None:
    config = parse(FULL)
    assert config.greater_is_better("ctr")
    assert config.greater_is_better("revenue")
    assert not config.greater_is_better("bounce_rate")
    assert config.greater_is_better("session_duration")  # a decrease is the harm
    assert not config.greater_is_better("latency_ms")  # an increase is the harm


@pytest.mark.parametrize(("text", "key", "message"), [
    ("{primary: ctr}", "experiment.key", "is required"),
    ("{key: k}", "experiment.primary", "is required"),
    ("{key: k, primary: []}", "experiment.primary", "is required"),
    ("{key: k, primary: [a, a]}", "experiment.primary", "twice"),
    ("{key: k, primary: 3}", "experiment.primary", "list of non-empty strings"),
    ("{key: k, primary: a, variants: [only]}", "experiment.variants", "at least two"),
    ("{key: k, primary: a, weights: [0.5, 0.6]}", "experiment.weights", "sum to 1"),
    ("{key: k, primary: a, weights: [0.5]}", "experiment.weights", "1 entries for 2"),
    ("{key: k, primary: a, weights: [1.0, 0]}", "experiment.weights", "greater than 0"),
    ("{key: k, primary: a, weights: [a, b]}", "experiment.weights", "list of finite numbers"),
    ("{key: k, primary: a, coverage: 0}", "experiment.coverage", "(0, 1]"),
    ("{key: k, primary: a, coverage: 1.5}", "experiment.coverage", "(0, 1]"),
    ("{key: k, primary: a, alpha: 0.5}", "experiment.alpha", "(0, 0.5)"),
    ("{key: k, primary: a, difference: ratio}", "experiment.difference", "relative, absolute"),
    ("{key: k, primary: a, sided: both}", "experiment.sided", "two, one"),
    ("{key: k, primary: a, guardrails: {g: {}}}", "experiment.guardrails.g.margin",
     "is required"),
    ("{key: k, primary: a, guardrails: {g: {margin: -0.1}}}",
     "experiment.guardrails.g.margin", "greater than 0"),
    ("{key: k, primary: a, guardrails: {g: {margin: 0.1, direction: up}}}",
     "experiment.guardrails.g.direction", "increase, decrease"),
    ("{key: k, primary: a, guardrails: {a: {margin: 0.1}}}", "experiment.guardrails.a",
     "also a primary"),
    ("{key: k, primary: a, guardrails: {g: {margin: 0.1}}, "
     "metrics: {g: {type: mean, greater_is_better: true}}}",
     "experiment.metrics.g.greater_is_better", "guardrails.g.direction"),
    ("{key: k, primary: a, metrics: {m: {type: median}}}", "experiment.metrics.m.type",
     "mean, proportion, ratio"),
    ("{key: k, primary: a, metrics: {m: {type: mean, greater_is_better: maybe}}}",
     "experiment.metrics.m.greater_is_better", "true or false"),
    ("{key: k, primary: a, sequential: {enabled: true, tuning: 0}}",
     "experiment.sequential.tuning", "greater than 0"),
    ("{key: k, primary: a, sequential: {enabled: 1}}", "experiment.sequential.enabled",
     "true or false"),
    ("{key: k, primary: a, cuped: {covariate: ''}}", "experiment.cuped.covariate",
     "non-empty string"),
    ("{key: k, primary: a, target_effect: 0}", "experiment.target_effect",
     "a relative lift greater than 0"),
    ("{key: k, primary: a, target_effect: -0.02}", "experiment.target_effect",
     "a relative lift greater than 0"),
    ("{key: k, primary: a, target_effect: 2%}", "experiment.target_effect",
     "expected a number"),
])
def test_errors_name_the_file_and_the_dotted_key(text: str, key: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert str(caught.value).startswith(f"modelrail.yaml: {key}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(("text", "key"), [
    ("{key: k, primary: a, typo: 1}", "experiment.typo"),
    ("{key: k, primary: a, guardrails: {g: {margin: 0.1, direciton: up}}}",
     "experiment.guardrails.g.direciton"),
    ("{key: k, primary: a, metrics: {m: {type: mean, kind: x}}}", "experiment.metrics.m.kind"),
    ("{key: k, primary: a, sequential: {enabled: true, tunning: 9}}",
     "experiment.sequential.tunning"),
    ("{key: k, primary: a, cuped: {enable: true}}", "experiment.cuped.enable"),
])
def test_unknown_keys_are_errors(text: str, key: str) -> None:
    with pytest.raises(UsageError, match=f"unknown key '{key}'"):
        parse(text)


def test_target_effect_is_optional_and_a_misspelling_gets_a_suggestion() -> None:
    assert parse("{key: k, primary: a}").target_effect is None
    assert parse("{key: k, primary: a, target_effect: 0.02}").target_effect == 0.02
    with pytest.raises(UsageError, match="did you mean target_effect"):
        parse("{key: k, primary: a, target_efect: 0.02}")


def test_the_allowed_keys_listed_include_the_sub_sections() -> None:
    with pytest.raises(UsageError) as caught:
        parse("{key: k, primary: a, guardrails: {g: {margin: 0.1}}, gaurdrails: {}}")
    assert "guardrails" in str(caught.value).split("allowed here:")[1]
