"""The CRD schemas vendored here (`*.json`, whole, by vendor_crd.py) as JSON Schema
validators that refuse what the API server refuses.

A CRD's `openAPIV3Schema` is a Kubernetes "structural schema": OpenAPI v3.0 plus
`x-kubernetes-*` extensions, which a JSON Schema validator would read too kindly. The
adapter (`adapt`) rewrites each node, following the API server's rules
(k8s.io/apiextensions-apiserver pkg/apiserver/schema: pruning, structural validation,
the `cel` package):

- an object schema closes (`additionalProperties: false`) unless it has its own
  `additionalProperties` or `x-kubernetes-preserve-unknown-fields: true`: the API server
  prunes a field its schema does not know, silently, or with `kubectl apply
  --validate=strict` (kubectl's default) refuses it; either way the field does nothing.
  Nodes under `anyOf`/`oneOf`/`allOf`/`not` only constrain: they stay open;
- `nullable: true` (OpenAPI 3.0) admits null;
- `x-kubernetes-int-or-string: true` is an integer or a string;
- `x-kubernetes-list-type: set` has unique items, `map` unique
  `x-kubernetes-list-map-keys` (checked by the keyword `_unique_map_keys`);
- `x-kubernetes-validations` (CEL rules): each rule the vendored schemas use is in
  `CEL_RULES`, written in Python; a rule not there stops the schema from loading, so a
  newer schema cannot pass a manifest by skipping a rule;
- `x-kubernetes-map-type` says how a list or map merges: nothing to check;
- any other `x-kubernetes-*` key stops the schema from loading.

The root also gets what the API server adds to every custom resource: `apiVersion` and
`kind` (which must name this CRD's version and kind) and `metadata`, validated as the
API's ObjectMeta (kubernetes.py). `format` is not checked (the schemas' formats are int32,
int64, double, byte and date-time: the last two only under `status`).
"""

import json
import re
from collections.abc import Callable, Iterator
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

from tests.support.schemas.kubernetes import OBJECT_META, registry

SCHEMAS = Path(__file__).parent
JSON = dict[str, Any]

CRDS = {  # (apiVersion, kind) -> the vendored openAPIV3Schema
    ("networking.istio.io/v1", "VirtualService"): "istio_virtualservice_v1.json",
    ("networking.istio.io/v1", "DestinationRule"): "istio_destinationrule_v1.json",
    ("serving.kserve.io/v1beta1", "InferenceService"): "kserve_inferenceservice_v1beta1.json",
}

_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_NANOSECONDS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9,
                "m": 60 * 10**9, "h": 3600 * 10**9}


def go_duration(text: str) -> int | None:
    """Nanoseconds in a Go duration (`1.5s`, `2h45m`, `300ms`: time.ParseDuration, which
    CEL's `duration()` uses, exact as Go's integer nanoseconds); None when it is not one."""
    sign, body = (-1, text[1:]) if text[:1] == "-" else (1, text.removeprefix("+"))
    if body == "0":
        return 0
    parts = list(_GO_DURATION_PART.finditer(body))
    if not parts or "".join(part.group(0) for part in parts) != body:
        return None
    return sign * int(sum(Fraction(part.group(1)) * _NANOSECONDS[part.group(2)]
                          for part in parts))


def _at_least_1ms(value: Any) -> bool:
    nanoseconds = go_duration(value) if isinstance(value, str) else None
    return nanoseconds is not None and nanoseconds >= _NANOSECONDS["ms"]


CEL_RULES: dict[str, Callable[[Any], bool]] = {
    "duration(self) >= duration('1ms')": _at_least_1ms,
    'self.all(key, !key.contains("*"))': lambda labels: all("*" not in k for k in labels),
    "self.all(key, key.size() != 0)": lambda labels: all(k != "" for k in labels),
    '!self.contains("*")': lambda value: "*" not in value,
}

_EXTENSIONS = {"x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields",
               "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
               "x-kubernetes-map-type", "x-kubernetes-validations"}
_JUNCTORS = ("anyOf", "oneOf", "allOf")


def adapt(node: JSON, *, structural: bool = True) -> JSON:
    """`node` as plain JSON Schema plus the two keywords below (module docstring)."""
    unknown = sorted(key for key in node if key.startswith("x-kubernetes-")
                     and key not in _EXTENSIONS)
    rules = [rule["rule"] for rule in node.get("x-kubernetes-validations", [])
             if rule["rule"] not in CEL_RULES]
    if unknown or rules:
        raise ValueError(f"no adapter for {unknown or rules}: add it to crd.py")
    adapted = dict(node)
    if "properties" in node:
        adapted["properties"] = {name: adapt(child, structural=structural)
                                 for name, child in node["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            adapted[key] = adapt(node[key], structural=structural)
    for key in _JUNCTORS:
        if key in node:
            adapted[key] = [adapt(child, structural=False) for child in node[key]]
    if "not" in node:
        adapted["not"] = adapt(node["not"], structural=False)
    _kubernetes_semantics(node, adapted, structural)
    return adapted


def _kubernetes_semantics(node: JSON, adapted: JSON, structural: bool) -> None:
    if node.get("nullable") is True and "type" in node:
        adapted["type"] = [node["type"], "null"]
    if node.get("x-kubernetes-int-or-string") is True and "anyOf" not in node:
        adapted["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("x-kubernetes-list-type") == "set":
        adapted["uniqueItems"] = True
    preserved = node.get("x-kubernetes-preserve-unknown-fields") is True
    if structural and node.get("type") == "object" and not preserved \
            and "additionalProperties" not in node:
        adapted["additionalProperties"] = False


def _unique_map_keys(validator: Draft202012Validator, keys: list[str], instance: Any,
                     schema: JSON) -> Iterator[ValidationError]:
    """`x-kubernetes-list-type: map`: no two items with the same values of `keys`."""
    if not validator.is_type(instance, "array"):
        return
    seen: set[str] = set()
    for item in instance:
        key = json.dumps({k: item.get(k) for k in keys} if isinstance(item, dict) else item,
                         sort_keys=True)
        if key in seen:
            yield ValidationError(f"Duplicate value: {key}")
        seen.add(key)


def _cel_rules(validator: Draft202012Validator, rules: list[JSON], instance: Any,
               schema: JSON) -> Iterator[ValidationError]:
    for rule in rules:
        if not CEL_RULES[rule["rule"]](instance):
            yield ValidationError(rule.get("message") or f"failed rule: {rule['rule']}")


CrdValidator = validators.extend(Draft202012Validator, {
    "x-kubernetes-list-map-keys": _unique_map_keys,
    "x-kubernetes-validations": _cel_rules,
})


@cache
def crd_validator(api_version: str, kind: str) -> Draft202012Validator | None:
    """The validator of a vendored custom resource kind; None for any other kind."""
    name = CRDS.get((api_version, kind))
    if name is None:
        return None
    published = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    published.pop("$comment")
    root = adapt(published)
    root["properties"] = {**root["properties"], "apiVersion": {"const": api_version},
                          "kind": {"const": kind}, "metadata": OBJECT_META}
    root["required"] = sorted({*root.get("required", []), "apiVersion", "kind", "metadata"})
    validator: Draft202012Validator = CrdValidator(root, registry=registry())
    return validator
