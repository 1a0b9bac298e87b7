"""Kubernetes' own kinds (apps/v1 Deployment, v1 Service, rbac Role, ...) checked against
the API's published OpenAPI schema, as the PyPI package kubernetes-validate ships it
converted to JSON Schema: its "strict" variant, where an unknown field is an error (as
`kubectl apply --validate=strict`, kubectl's default, makes the API server answer). The
schema files are read from the installed package (a dev dependency); nothing is fetched.

The version is the oldest Kubernetes that Istio 1.30 (the Istio schemas vendored here)
supports, `MinK8SVersion` in istio/istio istioctl/pkg/install/k8sversion/version.go: a
manifest valid there uses no field a newer API added.
"""

import json
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

KUBERNETES_VERSION = "1.32"
_SCHEMAS = files("kubernetes_validate") / "kubernetes-json-schema" / \
    f"v{KUBERNETES_VERSION}.0-local-strict"
DEFINITIONS = "https://kubernetes.io/api/_definitions.json"  # the `$id` of its $defs file
OBJECT_META: dict[str, Any] = {
    "$ref": f"{DEFINITIONS}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


@cache
def registry() -> Registry:
    """Where `$ref`s into the API's definitions (ObjectMeta, PodSpec, ...) resolve."""
    definitions = json.loads((_SCHEMAS / "_definitions.json").read_text(encoding="utf-8"))
    found: Registry = Registry().with_resource(DEFINITIONS, Resource.from_contents(definitions))
    return found


def schema_file(api_version: str, kind: str) -> str:
    """kubernetes-validate's file name: `deployment-apps-v1.json` for apps/v1, the group's
    first label (`rbac` of rbac.authorization.k8s.io/v1), `service-v1.json` for core v1."""
    group, _, version = api_version.rpartition("/")
    prefix = f"{group.split('.')[0]}-" if group else ""
    return f"{kind.lower()}-{prefix}{version}.json"


@cache
def builtin_validator(api_version: str, kind: str) -> Draft202012Validator | None:
    """The validator of a built-in kind; None when the API has no such kind."""
    path = _SCHEMAS / schema_file(api_version, kind)
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, registry=registry())
