"""Every InferenceService the project ships, and the stand-in's, valid against KServe's
published CRD schema (the subset in tests/support/schemas/kserve_inferenceservice.yaml),
with the fields the KServe backend relies on."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from tests.support.paths import EXAMPLE_MODEL, REPO_ROOT
from tests.support.standins.kserve import KServeStandIn

SCHEMA = yaml.safe_load((REPO_ROOT / "tests" / "support" / "schemas" /
                         "kserve_inferenceservice.yaml").read_text(encoding="utf-8"))
VALIDATOR = Draft7Validator(SCHEMA)


def shipped() -> list[tuple[Path, dict[str, Any]]]:
    """(file, document) of each InferenceService in example-model's YAML files."""
    found = []
    for path in sorted(EXAMPLE_MODEL.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(document, dict) and document.get("kind") == "InferenceService":
                found.append((path, document))
    return found


def errors(document: dict[str, Any]) -> list[str]:
    return sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in VALIDATOR.iter_errors(document))


def test_the_example_model_ships_one() -> None:
    assert [path.name for path, _ in shipped()] == ["inferenceservice.yaml"]


@pytest.mark.parametrize(("path", "document"), shipped(),
                         ids=lambda value: value.name if isinstance(value, Path) else "")
def test_each_shipped_inference_service_is_valid(path: Path, document: dict[str, Any]) -> None:
    assert errors(document) == []
    assert document["apiVersion"] == "serving.kserve.io/v1beta1"
    # canaryTrafficPercent works only in the serverless (Knative) mode
    mode = document["metadata"]["annotations"]["serving.kserve.io/deploymentMode"]
    assert mode in ("Serverless", "Knative")
    assert len(document["spec"]["predictor"]["containers"]) == 1  # start_canary's default
    assert "canaryTrafficPercent" not in document["spec"]["predictor"]  # modelrail sets it


def test_it_serves_the_rollouts_image_the_same_way() -> None:
    """The same image, port, probes and resources as the Argo Rollout next to it."""
    (_, isvc), = shipped()
    (container,) = isvc["spec"]["predictor"]["containers"]
    rollout = yaml.safe_load((EXAMPLE_MODEL / "k8s" / "rollout.yaml").read_text(encoding="utf-8"))
    (served,) = rollout["spec"]["template"]["spec"]["containers"]
    assert container["image"] == served["image"]
    assert container["ports"][0]["containerPort"] == served["ports"][0]["containerPort"]
    for key in ("env", "resources"):
        assert container[key] == served[key], key
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == served[probe]["httpGet"]["path"]


def test_the_stand_ins_inference_service_is_valid() -> None:
    with KServeStandIn() as standin:
        assert errors(standin.add_inference_service("ranker")) == []


def test_a_misspelled_or_mistyped_field_is_reported() -> None:
    (_, isvc), = shipped()
    predictor = isvc["spec"]["predictor"]
    broken = {**isvc, "spec": {"predictor": {**predictor, "canaryTraficPercent": 10,
                                             "minReplicas": "1"}}}
    assert errors(broken) == [
        "spec.predictor.minReplicas: '1' is not of type 'integer'",
        "spec.predictor: Additional properties are not allowed ('canaryTraficPercent' was "
        "unexpected)"]
