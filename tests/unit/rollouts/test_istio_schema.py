"""The Istio backend's manifests (example-model/k8s/istio.yaml, the README's and
docs/traffic-backends.md's blocks) valid against Istio's published CRD schemas (vendored
whole: tests/support/schemas/istio_*_v1.json), its validation webhook's weight rule and,
for the Service and Deployments, the Kubernetes API's schema; the same after each patch
modelrail sends; and consistent with the documented policy and rbac-istio.yaml."""

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelrail.rollouts.istio_routes import mirror_patch, owned_route, weights_patch
from modelrail.rollouts.patches import image_patch
from modelrail.rollouts.policy import IstioConfig, load_rollout_policy

from tests.support.paths import EXAMPLE_MODEL
from tests.support.schemas.manifests import documented, documented_policies, problems, shipped
from tests.support.standins.istio import set_mirror_route, virtual_service_spec
from tests.support.standins.kube_api import json_patch

ISTIO_KINDS = ("VirtualService", "DestinationRule")
NEW_IMAGE = "ghcr.io/acme/ctr-ranker@sha256:" + "2" * 64


def the_shipped(kind: str, name: str = "ctr-ranker") -> dict[str, Any]:
    (document,) = [doc for file, doc in shipped([kind])
                   if file == "istio.yaml" and doc["metadata"]["name"] == name]
    return copy.deepcopy(document)


def as_served(document: dict[str, Any]) -> dict[str, Any]:
    """The object as the API server returns it: what the patches' tests read."""
    served = copy.deepcopy(document)
    served["metadata"].update(generation=2, resourceVersion="57")
    return served


def istio_configs(tmp_path: Path) -> list[IstioConfig]:
    """rollout.istio of each `backend: istio` policy the README and docs show for the
    example model (docs/policy.md's reference shows another application)."""
    policies = [(where, policy) for where, policy in documented_policies("istio")
                if policy["rollout"]["name"] == "ctr-ranker"]
    assert sorted(where.split(":")[0] for where, _ in policies) == [
        "README.md", "docs/traffic-backends.md"]
    configs = []
    for index, (_, policy) in enumerate(policies):
        path = tmp_path / f"policy-{index}.yaml"
        path.write_text(yaml.safe_dump(policy), encoding="utf-8")
        rollout = load_rollout_policy(path)
        assert rollout is not None
        assert rollout.istio is not None
        configs.append(rollout.istio)
    return configs


def test_the_example_model_ships_each_istio_object_once() -> None:
    found = shipped([*ISTIO_KINDS, "Deployment", "Service"])
    assert sorted((file, doc["kind"], doc["metadata"]["name"]) for file, doc in found
                  if file == "istio.yaml") == [
        ("istio.yaml", "Deployment", "ctr-ranker"),
        ("istio.yaml", "Deployment", "ctr-ranker-canary"),
        ("istio.yaml", "DestinationRule", "ctr-ranker"),
        ("istio.yaml", "Service", "ctr-ranker"),
        ("istio.yaml", "VirtualService", "ctr-ranker")]
    assert [file for file, _ in found if file != "istio.yaml"] == ["services.yaml"] * 2


@pytest.mark.parametrize(("where", "document"), shipped([*ISTIO_KINDS, "Deployment",
                                                         "Service"]),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_each_shipped_object_is_valid(where: str, document: dict[str, Any]) -> None:
    assert problems(document) == []


@pytest.mark.parametrize(("where", "document"), documented(ISTIO_KINDS),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_each_documented_object_is_valid_and_the_shipped_one(where: str,
                                                             document: dict[str, Any]) -> None:
    assert problems(document) == []
    assert document == the_shipped(document["kind"], document["metadata"]["name"])


def test_the_readme_and_the_backend_doc_show_both_objects() -> None:
    places = sorted((where.split(":")[0], doc["kind"]) for where, doc in documented(ISTIO_KINDS))
    assert places == [("README.md", "DestinationRule"), ("README.md", "VirtualService"),
                      ("docs/traffic-backends.md", "DestinationRule"),
                      ("docs/traffic-backends.md", "VirtualService")]


def test_the_objects_are_the_ones_the_documented_policies_name(tmp_path: Path) -> None:
    """The route, subsets and Deployments of every documented `backend: istio` policy,
    the subsets' labels on the Deployments' pods, and rbac-istio.yaml's resource names."""
    configs = istio_configs(tmp_path)
    vs, rule = the_shipped("VirtualService"), the_shipped("DestinationRule")
    subsets = {s["name"]: s["labels"] for s in rule["spec"]["subsets"]}
    role = yaml.safe_load_all((EXAMPLE_MODEL / "k8s" / "rbac-istio.yaml").read_text())
    granted = {rule["resources"][0]: set(rule["resourceNames"])
               for rule in next(iter(role))["rules"]}
    for config in configs:
        owned = owned_route(vs, config, "ml/ctr-ranker")  # exit 2 unless it fits
        assert owned.host == rule["spec"]["host"]
        assert granted == {"virtualservices": {config.virtual_service},
                           "deployments": {config.stable_deployment,
                                           config.canary_deployment}}
        for subset, name in ((config.stable_subset, config.stable_deployment),
                             (config.canary_subset, config.canary_deployment)):
            labels = the_shipped("Deployment", name)["spec"]["template"]["metadata"]["labels"]
            assert subsets[subset].items() <= labels.items()
            assert the_shipped("Service")["spec"]["selector"].items() <= labels.items()


def test_both_deployments_serve_the_rollouts_pod() -> None:
    """The same pod as rollout.yaml's (image, probes, resources, security), the canary
    scaled like the stable one (the last step sends it every request)."""
    rollout = yaml.safe_load((EXAMPLE_MODEL / "k8s" / "rollout.yaml").read_text(encoding="utf-8"))
    for name in ("ctr-ranker", "ctr-ranker-canary"):
        deployment = the_shipped("Deployment", name)
        assert deployment["spec"]["template"]["spec"] == rollout["spec"]["template"]["spec"]
        assert deployment["spec"]["template"]["metadata"]["annotations"] == \
            rollout["spec"]["template"]["metadata"]["annotations"]
        assert deployment["spec"]["replicas"] == rollout["spec"]["replicas"]


def test_every_object_modelrails_patches_make_is_valid(tmp_path: Path) -> None:
    """The mirror phase, each step, an abort after the mirror, the promotion's return to
    stable; the canary's and the stable Deployment's new image."""
    config = istio_configs(tmp_path)[0]
    served = as_served(the_shipped("VirtualService"))
    mirrored = json_patch(served, mirror_patch(owned_route(served, config, "vs"), config, 35))
    assert mirrored["spec"]["http"][0]["mirrorPercentage"] == {"value": 35}
    stepped = [json_patch(mirrored, weights_patch(owned_route(mirrored, config, "vs"),
                                                  config, weight))
               for weight in (0, 10, 25, 50, 100)]
    assert [route["weight"] for route in stepped[2]["spec"]["http"][0]["route"]] == [75, 25]
    assert "mirror" not in stepped[0]["spec"]["http"][0]
    for vs in (mirrored, *stepped):
        assert problems(vs) == []
    for name in (config.canary_deployment, config.stable_deployment):
        deployment = as_served(the_shipped("Deployment", name))
        patched = json_patch(deployment, image_patch(deployment, "server", NEW_IMAGE))
        assert patched["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
        assert problems(patched) == []


def test_the_stand_ins_virtual_service_is_valid_with_argos_mirror_route() -> None:
    """The stand-in's VirtualService, and Argo's setMirrorRoute edit of it, as Istio's
    schema wants them."""
    vs: dict[str, Any] = {
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "ranker", "namespace": "ml"},
        "spec": virtual_service_spec("ranker")}
    assert problems(vs) == []
    step = {"name": "mirror", "percentage": 35,
            "match": [{"method": {"exact": "POST"}, "path": {"prefix": "/predict"}}]}
    set_mirror_route(vs, step, weighted=["primary"], canary_host="ranker",
                     canary_subset="canary", managed=["mirror"])
    assert [route["name"] for route in vs["spec"]["http"]] == ["mirror", "primary"]
    assert problems(vs) == []


def test_a_weight_as_a_string_or_an_unknown_route_field_is_reported() -> None:
    vs = the_shipped("VirtualService")
    route = vs["spec"]["http"][0]
    route["route"][1]["weight"] = "0"
    route["mirrorPercent"] = 35  # deprecated, still in the schema
    route["mirrorPercentag"] = {"value": 35}
    route["timeout"] = "500us"
    assert problems(vs) == [
        "$.spec.http[0].route[1].weight: '0' is not of type 'integer'",
        "$.spec.http[0].timeout: must be a valid duration greater than 1ms",
        "$.spec.http[0]: Additional properties are not allowed ('mirrorPercentag' was "
        "unexpected)"]


def test_weights_that_do_not_sum_to_100_are_refused_by_the_webhook() -> None:
    vs = the_shipped("VirtualService")
    vs["spec"]["http"][0]["route"][1]["weight"] = 10
    assert problems(vs) == ["validation.istio.io: total destination weight 110 != 100"]


def test_a_broken_destination_rule_or_deployment_is_reported() -> None:
    rule = the_shipped("DestinationRule")
    rule["spec"]["subsets"][1]["label"] = {"track": "canary"}
    rule["metadata"]["labels"] = {"app": 1}
    assert problems(rule) == [
        "$.metadata.labels.app: 1 is not of type 'string', 'null'",
        "$.spec.subsets[1]: Additional properties are not allowed ('label' was unexpected)"]
    deployment = the_shipped("Deployment")
    deployment["spec"]["replicas"] = "4"
    deployment["spec"]["template"]["spec"]["containers"][0]["imag"] = NEW_IMAGE
    assert problems(deployment) == [
        "$.spec.replicas: '4' is not of type 'integer', 'null'",
        "$.spec.template.spec.containers[0]: Additional properties are not allowed ('imag' "
        "was unexpected)"]
