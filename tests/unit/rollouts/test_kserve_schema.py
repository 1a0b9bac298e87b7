"""Every InferenceService the project ships (example-model/k8s, the README's excerpt) and
the stand-in's, valid against KServe's published CRD schema (vendored whole:
tests/support/schemas/kserve_inferenceservice_v1beta1.json) and its webhook's one-of
rule; so is every object modelrail's patches make of the shipped one."""

import copy
from typing import Any

import pytest
import yaml
from modelrail.rollouts.kserve import (
    PROMOTE,
    abort_operations,
    percent_patch,
    read_state,
    start_operations,
)

from tests.support.paths import EXAMPLE_MODEL
from tests.support.schemas.manifests import documented, problems, shipped
from tests.support.standins.kserve import KServeStandIn
from tests.support.standins.kube_api import json_patch, merge_patch

KINDS = ("InferenceService",)
NEW_IMAGE = "ghcr.io/acme/ctr-ranker@sha256:" + "1" * 64


def the_shipped() -> dict[str, Any]:
    (_, isvc), = shipped(KINDS)
    return isvc


def as_served(isvc: dict[str, Any]) -> dict[str, Any]:
    """The object as the API server returns it: what the patches' tests read."""
    served = copy.deepcopy(isvc)
    served["metadata"].update(generation=3, resourceVersion="41")
    return served


def test_the_example_model_ships_one() -> None:
    assert [name for name, _ in shipped(KINDS)] == ["inferenceservice.yaml"]


@pytest.mark.parametrize(("where", "isvc"), shipped(KINDS) + documented(KINDS),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_each_shipped_or_documented_inference_service_is_valid(where: str,
                                                               isvc: dict[str, Any]) -> None:
    assert problems(isvc) == []
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    # canaryTrafficPercent works only in the serverless (Knative) mode
    mode = isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"]
    assert mode in ("Serverless", "Knative")
    assert len(isvc["spec"]["predictor"]["containers"]) == 1  # start_canary's default
    assert "canaryTrafficPercent" not in isvc["spec"]["predictor"]  # modelrail sets it


def test_the_readme_shows_an_excerpt_of_the_shipped_one() -> None:
    """Every field of the README's InferenceService has the shipped file's value."""
    def excerpt_of(part: Any, whole: Any) -> bool:
        if isinstance(part, dict):
            return isinstance(whole, dict) and all(
                key in whole and excerpt_of(value, whole[key]) for key, value in part.items())
        if isinstance(part, list):
            return isinstance(whole, list) and len(part) == len(whole) and all(
                map(excerpt_of, part, whole))
        return bool(part == whole)

    (where, readme), = documented(KINDS)
    assert where.startswith("README.md")
    assert excerpt_of(readme, the_shipped())
    assert not excerpt_of({**readme, "spec": {"predictor": {"minReplicas": 2}}}, the_shipped())


def test_it_serves_the_rollouts_image_the_same_way() -> None:
    """The same image, port, probes and resources as the Argo Rollout next to it."""
    (container,) = the_shipped()["spec"]["predictor"]["containers"]
    rollout = yaml.safe_load((EXAMPLE_MODEL / "k8s" / "rollout.yaml").read_text(encoding="utf-8"))
    (served,) = rollout["spec"]["template"]["spec"]["containers"]
    assert container["image"] == served["image"]
    assert container["ports"][0]["containerPort"] == served["ports"][0]["containerPort"]
    for key in ("env", "resources"):
        assert container[key] == served[key], key
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == served[probe]["httpGet"]["path"]


def test_the_stand_ins_inference_service_is_valid_status_included() -> None:
    with KServeStandIn() as standin:
        isvc = standin.add_inference_service("ranker")
    assert isvc["status"]["components"]["predictor"]["traffic"]  # the status is checked too
    assert problems(isvc) == []


def test_every_object_modelrails_patches_make_is_valid() -> None:
    """Start (image + percent, one JSON patch), each step and promotion (merge patches),
    abort (the predictor read before the start, pinned at 0 %)."""
    before = as_served(the_shipped())
    state = read_state(before)
    started = json_patch(before, start_operations(state, NEW_IMAGE, 10))
    assert started["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert started["spec"]["predictor"]["containers"][0]["image"] == NEW_IMAGE
    stepped = [merge_patch(started, percent_patch(weight)) for weight in (25, 50, 100)]
    promoted = merge_patch(stepped[-1], PROMOTE)
    assert "canaryTrafficPercent" not in promoted["spec"]["predictor"]
    aborted = json_patch(started, abort_operations(read_state(started),
                                                   before["spec"]["predictor"]))
    assert aborted["spec"]["predictor"]["containers"] == before["spec"]["predictor"][
        "containers"]
    for isvc in (started, *stepped, promoted, aborted):
        assert problems(isvc) == []


def test_a_misspelled_or_mistyped_field_is_reported() -> None:
    isvc = the_shipped()
    predictor = isvc["spec"]["predictor"]
    broken = {**isvc, "spec": {"predictor": {**predictor, "canaryTraficPercent": 10,
                                             "minReplicas": "1"}}}
    assert problems(broken) == [
        "$.spec.predictor.minReplicas: '1' is not of type 'integer'",
        "$.spec.predictor: Additional properties are not allowed ('canaryTraficPercent' "
        "was unexpected)"]


def test_a_mistyped_container_field_is_reported() -> None:
    isvc = copy.deepcopy(the_shipped())
    isvc["spec"]["predictor"]["containers"][0]["ports"][0]["containerPort"] = "8080"
    assert problems(isvc) == [
        "$.spec.predictor.containers[0].ports[0].containerPort: '8080' is not of type "
        "'integer'"]


@pytest.mark.parametrize("change", ["no containers", "a model too", "two predictors"])
def test_a_predictor_without_exactly_one_implementation_is_refused(change: str) -> None:
    """KServe's webhook: one of the frameworks, `model`, or the predictor's containers."""
    isvc = copy.deepcopy(the_shipped())
    predictor = isvc["spec"]["predictor"]
    if change == "no containers":
        del predictor["containers"]
    elif change == "a model too":
        predictor["model"] = {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://m/1"}
    else:
        predictor["containers"].append({**predictor["containers"][0]})
    assert problems(isvc) == [
        "inferenceservice.kserve-webhook-server.validator: exactly one of [xgboost, pytorch, "
        "triton, sklearn, tensorflow, onnx, pmml, lightgbm, paddle, huggingface, model] or "
        "containers must be specified in PredictorSpec"]


def test_a_predictor_with_a_model_and_no_containers_is_admitted() -> None:
    isvc = copy.deepcopy(the_shipped())
    isvc["spec"]["predictor"] = {"model": {"modelFormat": {"name": "sklearn"},
                                           "storageUri": "s3://models/ctr-ranker/1"}}
    assert problems(isvc) == []
