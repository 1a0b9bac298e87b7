"""Whether a Kubernetes manifest would be admitted: its kind's published schema (a
vendored CRD schema, crd.py, or the API's own, kubernetes.py), then the rules the
projects' validating webhooks add that a schema cannot say:

- Istio (`validation.istio.io`, pkg/config/validation/validation.go
  validateHTTPRouteDestinations): a route's weights sum to 100 (the stand-in's
  `weight_problem`);
- KServe (pkg/apis/serving/v1beta1/inference_service_validation.go, through
  validateExactlyOneImplementation in component.go and PredictorSpec.GetImplementations
  in predictor.go, at v0.20.0): a predictor names exactly one implementation, a
  framework (`sklearn`, ..., `model`) or its own containers.

And where the project's manifests are: example-model/k8s, and the YAML blocks of the
README and docs/ (objects of a given kind; policies).
"""

from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from markdown_it import MarkdownIt

from tests.support.json_schemas import problems as schema_problems
from tests.support.paths import EXAMPLE_MODEL, REPO_ROOT
from tests.support.schemas.crd import crd_validator
from tests.support.schemas.kubernetes import builtin_validator
from tests.support.standins.istio import weight_problem

PREDICTOR_FRAMEWORKS = ("xgboost", "pytorch", "triton", "sklearn", "tensorflow", "onnx",
                        "pmml", "lightgbm", "paddle", "huggingface", "model")
PREDICTOR_CONTAINER = "kserve-container"  # constants.InferenceServiceContainerName


def predictor_implementations(predictor: Mapping[str, Any]) -> int:
    """How many implementations KServe counts (GetImplementations): each framework set,
    plus one per container named kserve-container, or one for the first container when
    none is."""
    count = sum(1 for name in PREDICTOR_FRAMEWORKS if predictor.get(name) is not None)
    containers = predictor.get("containers") or []
    named = sum(1 for c in containers if c.get("name") == PREDICTOR_CONTAINER)
    return count + named + (1 if containers and not count and not named else 0)


def webhook_problems(document: Mapping[str, Any]) -> list[str]:
    """What the project's admission webhook refuses of a schema-valid object."""
    if document["kind"] == "VirtualService":
        problem = weight_problem(document)
        return [f"validation.istio.io: {problem}"] if problem else []
    if document["kind"] == "InferenceService" and \
            predictor_implementations(document["spec"]["predictor"]) != 1:
        return ["inferenceservice.kserve-webhook-server.validator: exactly one of ["
                f"{', '.join(PREDICTOR_FRAMEWORKS)}] or containers must be specified "
                "in PredictorSpec"]
    return []


def problems(document: Mapping[str, Any]) -> list[str]:
    """Every reason the API server would refuse `document`; [] when it would admit it.
    LookupError for a kind no schema here covers."""
    api_version, kind = str(document.get("apiVersion")), str(document.get("kind"))
    validator = crd_validator(api_version, kind) or builtin_validator(api_version, kind)
    if validator is None:
        raise LookupError(f"no schema for {kind} ({api_version})")
    found = sorted(schema_problems(validator, document))
    return found or webhook_problems(document)


def shipped(kinds: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """(file, object) of each object of `kinds` in example-model/k8s."""
    wanted = set(kinds)
    return [(path.name, document)
            for path in sorted((EXAMPLE_MODEL / "k8s").glob("*.yaml"))
            for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
            if isinstance(document, dict) and document.get("kind") in wanted]


def yaml_blocks() -> list[tuple[str, dict[str, Any]]]:
    """(file:line, document) of each YAML document (a mapping) in a YAML block of
    README.md or docs/*.md."""
    found = []
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        for token in MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8")):
            if token.type != "fence" or token.info.strip() != "yaml" or not token.map:
                continue
            where = f"{path.relative_to(REPO_ROOT)}:{token.map[0] + 1}"
            found += [(where, document) for document in yaml.safe_load_all(token.content)
                      if isinstance(document, dict)]
    return found


def documented(kinds: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """(file:line, object) of each object of `kinds` in the README's and docs' blocks."""
    wanted = set(kinds)
    return [(where, document) for where, document in yaml_blocks()
            if document.get("kind") in wanted]


def documented_policies(backend: str) -> list[tuple[str, dict[str, Any]]]:
    """(file:line, policy) of each whole modelrail.yaml `rollout:` with `backend` shown."""
    return [(where, document) for where, document in yaml_blocks()
            if isinstance(document.get("rollout"), dict)
            and document["rollout"].get("backend") == backend
            and "name" in document["rollout"]]
