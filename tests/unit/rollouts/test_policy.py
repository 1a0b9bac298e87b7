"""The rollout: section of modelrail.yaml: checked strictly, every error names the key."""

from pathlib import Path

import pytest
from modelrail.errors import UsageError
from modelrail.plumbing.policy_section import Section
from modelrail.rollouts.policy import (
    IstioConfig,
    MirrorConfig,
    RolloutConfig,
    load_rollout_policy,
    parse_rollout,
    parse_weights_flag,
)

SOURCE = Path("modelrail.yaml")


def parse(data: object) -> RolloutConfig:
    return parse_rollout(Section(data, "rollout", SOURCE))


def test_full_section() -> None:
    assert parse({"name": "ranker", "namespace": "ml", "container": "server",
                  "steps": [10, 25, 50, 100], "step_seconds": 300}) == RolloutConfig(
        name="ranker", namespace="ml", container="server", steps=(10, 25, 50, 100),
        step_seconds=300.0)


def test_only_the_name_is_required() -> None:
    assert parse({"name": "ranker"}) == RolloutConfig(name="ranker")


@pytest.mark.parametrize(("data", "message"), [
    ({}, "modelrail.yaml: rollout.name: is required"),
    ({"name": "Ranker"}, "rollout.name: 'Ranker' is not a valid Kubernetes object name"),
    ({"name": "r", "namespace": "ml_prod"}, "rollout.namespace: 'ml_prod' is not a valid"),
    ({"name": "r", "steps": "10,25"}, "rollout.steps: expected a list of weights"),
    ({"name": "r", "steps": []}, "rollout.steps: expected at least one weight"),
    ({"name": "r", "steps": [10, 0]}, "rollout.steps: 0 is not a whole percentage"),
    ({"name": "r", "steps": [10, 12.5]}, "rollout.steps: 12.5 is not a whole percentage"),
    ({"name": "r", "steps": [50, 25]}, "rollout.steps: weights must increase (50 then 25)"),
    ({"name": "r", "step_seconds": 0}, "rollout.step_seconds: expected a number of seconds"),
    ({"name": "r", "stepz": [10]}, "unknown key 'rollout.stepz'"),
])
def test_errors_name_the_key(data: object, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(data)
    assert message in str(caught.value)


def test_steps_flag() -> None:
    assert parse_weights_flag("10,25,50,100") == (10, 25, 50, 100)
    with pytest.raises(UsageError, match="--steps 'ten'"):
        parse_weights_flag("ten")


def test_only_the_rollout_section_is_read(tmp_path: Path) -> None:
    policy = tmp_path / "modelrail.yaml"
    policy.write_text("model: ranker\nsomething_else: {anything: 1}\n"
                      "rollout: {name: ranker, steps: [10, 100]}\n", encoding="utf-8")
    assert load_rollout_policy(policy) == RolloutConfig(name="ranker", steps=(10, 100))
    policy.write_text("model: ranker\n", encoding="utf-8")
    assert load_rollout_policy(policy) is None
    with pytest.raises(UsageError, match="policy file not found"):
        load_rollout_policy(tmp_path / "missing.yaml")


class TestMirror:
    def test_scale_defaults_to_the_mirrored_percentage(self) -> None:
        config = parse({"name": "r", "steps": [10, 100],
                        "mirror": {"route": "mirror", "percentage": 35}})
        assert config.mirror == MirrorConfig(route="mirror", percentage=35, scale=35)
        assert parse({"name": "r", "mirror": {"route": "m", "percentage": 35, "scale": 10}}
                     ).mirror == MirrorConfig(route="m", percentage=35, scale=10)

    def test_no_mirror_by_default(self) -> None:
        assert parse({"name": "r"}).mirror is None

    @pytest.mark.parametrize(("mirror", "message"), [
        ({"percentage": 35}, "modelrail.yaml: rollout.mirror.route: is required"),
        ({"route": "m"}, "rollout.mirror.percentage: is required"),
        ({"route": "m", "percentage": 0}, "rollout.mirror.percentage: expected a whole "
                                          "percentage from 1 to 100, got 0"),
        ({"route": "m", "percentage": 101}, "rollout.mirror.percentage: expected a whole"),
        ({"route": "m", "percentage": 12.5}, "rollout.mirror.percentage: expected a whole"),
        ({"route": "m", "percentage": "half"}, "rollout.mirror.percentage: expected a number"),
        ({"route": "m", "percentage": 10, "scale": 0}, "rollout.mirror.scale: expected a "
                                                       "whole percentage"),
        ({"route": "", "percentage": 10}, "rollout.mirror.route: expected a non-empty string"),
        ({"route": "m", "percentage": 10, "match": []}, "unknown key 'rollout.mirror.match'"),
        ("mirror", "rollout.mirror: expected a mapping"),
    ])
    def test_errors_name_the_dotted_key(self, mirror: object, message: str) -> None:
        with pytest.raises(UsageError) as caught:
            parse({"name": "r", "mirror": mirror})
        assert message in str(caught.value)


# -- rollout.backend and rollout.istio -------------------------------------------------------


def test_the_istio_backend_reads_its_section_with_defaults_from_the_name() -> None:
    config = parse({"name": "ranker", "backend": "istio", "istio": {"route": "primary"},
                    "mirror": {"percentage": 35}})
    assert config.istio == IstioConfig(virtual_service="ranker", route="primary",
                                       stable_deployment="ranker",
                                       canary_deployment="ranker-canary")
    assert config.mirror == MirrorConfig(route="primary", percentage=35, scale=35)
    assert parse({"name": "ranker"}).backend == "argo"


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "r", "backend": "istoi"},
     "rollout.backend: expected one of argo, istio, kserve, got 'istoi'"),
    ({"name": "r", "backend": "istio"}, "rollout.istio: is required with backend: istio"),
    ({"name": "r", "istio": {"route": "primary"}},
     "rollout.istio: is read only with backend: istio"),
    ({"name": "r", "backend": "istio", "istio": {"route": "p", "virtual_servce": "v"}},
     "unknown key 'rollout.istio.virtual_servce': did you mean virtual_service?"),
    ({"name": "r", "backend": "istio", "istio": {"virtual_service": "v"}},
     "rollout.istio.route: is required"),
    ({"name": "r", "backend": "istio", "istio": {"route": "p", "canary_subset": "stable"}},
     "rollout.istio.canary_subset: must differ from stable_subset"),
    ({"name": "r", "backend": "istio", "istio": {"route": "p", "canary_deployment": "r"}},
     "rollout.istio.canary_deployment: must differ from stable_deployment"),
    ({"name": "r", "backend": "istio", "istio": {"route": "p", "stable_deployment": "R"}},
     "rollout.istio.stable_deployment: 'R' is not a valid Kubernetes object name"),
    ({"name": "r", "backend": "istio", "istio": {"route": "p"},
      "mirror": {"route": "mirror", "percentage": 35}},
     "rollout.mirror.route: with backend: istio the mirror is on the route modelrail owns"),
    ({"name": "r", "mirror": {"percentage": 35}}, "rollout.mirror.route: is required"),
])
def test_backend_errors_name_the_key(data: object, message: str) -> None:
    with pytest.raises(UsageError, match=f"^modelrail.yaml: .*{message}"):
        parse(data)
