"""The vendored CRD schemas and the adapter that makes them refuse what the API server
refuses (tests/support/schemas/crd.py, vendor_crd.py)."""

import json
import re
from typing import Any

import pytest
import yaml

from tests.support.json_schemas import problems
from tests.support.schemas.crd import (
    CRDS,
    SCHEMAS,
    CrdValidator,
    adapt,
    crd_validator,
    go_duration,
)
from tests.support.schemas.vendor_crd import crd_schema, vendored

SOURCE = re.compile(r"from github\.com/(istio/istio|kserve/kserve) \S+\.yaml at tag \S+ "
                    r"\(commit [0-9a-f]{40}\)$")


def errors(schema: dict[str, Any], value: Any) -> list[str]:
    return sorted(problems(CrdValidator(adapt(schema)), value))


@pytest.mark.parametrize("name", sorted(path.name for path in SCHEMAS.glob("*.json")))
def test_each_vendored_schema_names_its_source_and_is_used(name: str) -> None:
    published = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    assert SOURCE.search(published["$comment"])
    assert name in CRDS.values()


@pytest.mark.parametrize(("api_version", "kind"), sorted(CRDS))
def test_each_adapted_schema_is_valid_json_schema(api_version: str, kind: str) -> None:
    validator = crd_validator(api_version, kind)
    assert validator is not None
    CrdValidator.check_schema(validator.schema)
    other = "networking.istio.io/v1beta1" if "istio" in api_version else "serving.kserve.io/v1"
    assert problems(validator, {"apiVersion": other, "kind": kind, "metadata": {}}) == [
        f"$.apiVersion: '{api_version}' was expected"]
    assert problems(validator, {"apiVersion": api_version, "kind": kind}) == [
        "$: 'metadata' is a required property"]


def test_vendoring_takes_one_kind_and_version_whole() -> None:
    schema = {"type": "object", "properties": {"spec": {"type": "object"}}}
    crds = yaml.safe_dump_all([
        {"kind": "CustomResourceDefinition", "spec": {"names": {"kind": "Other"},
                                                       "versions": []}},
        {"kind": "CustomResourceDefinition", "spec": {"names": {"kind": "Thing"}, "versions": [
            {"name": "v1alpha1", "schema": {"openAPIV3Schema": {}}},
            {"name": "v1", "schema": {"openAPIV3Schema": schema}}]}}])
    assert crd_schema(crds, "Thing", "v1") == schema
    assert json.loads(vendored(schema, "from here")) == {"$comment": "from here", **schema}
    with pytest.raises(LookupError):
        crd_schema(crds, "Thing", "v2")


def test_objects_close_but_maps_preserved_fields_and_junctors_stay_open() -> None:
    schema = {"type": "object", "properties": {
        "closed": {"type": "object", "properties": {"a": {"type": "string"}},
                   "oneOf": [{"required": ["a"]}]},
        "map": {"type": "object", "additionalProperties": {"type": "integer"}},
        "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    assert errors(schema, {"closed": {"a": "x"}, "map": {"k": 1}, "open": {"any": []}}) == []
    assert errors(schema, {"closed": {"a": "x", "b": 1}, "map": {"k": "1"}, "x": 0}) == [
        "$.closed: Additional properties are not allowed ('b' was unexpected)",
        "$.map.k: '1' is not of type 'integer'",
        "$: Additional properties are not allowed ('x' was unexpected)"]


def test_nullable_and_int_or_string() -> None:
    schema = {"type": "object", "properties": {
        "n": {"type": "boolean", "nullable": True},
        "b": {"type": "boolean"},
        "port": {"x-kubernetes-int-or-string": True}}}
    assert errors(schema, {"n": None, "port": 80}) == []
    assert errors(schema, {"port": "http"}) == []
    assert errors(schema, {"b": None, "port": 1.5}) == [
        "$.b: None is not of type 'boolean'",
        "$.port: 1.5 is not valid under any of the given schemas"]


def test_list_types_set_and_map_refuse_duplicates() -> None:
    schema = {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string"},
                 "x-kubernetes-list-type": "set"},
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["port", "protocol"],
                  "items": {"type": "object", "properties": {
                      "port": {"type": "integer"}, "protocol": {"type": "string"}}}}}}
    fine = {"tags": ["a", "b"], "ports": [{"port": 80, "protocol": "TCP"},
                                          {"port": 80, "protocol": "UDP"}]}
    assert errors(schema, fine) == []
    assert errors(schema, {"tags": ["a", "a"], "ports": [{"port": 80, "protocol": "TCP"}] * 2}) \
        == ['$.ports: Duplicate value: {"port": 80, "protocol": "TCP"}',
            "$.tags: ['a', 'a'] has non-unique elements"]


@pytest.mark.parametrize(("text", "nanoseconds"), [
    ("1ms", 10**6), ("1000us", 10**6), ("999us", 999_000), ("1.5s", 1_500_000_000),
    ("2h45m", 9900 * 10**9), (".5ms", 500_000), ("0", 0), ("-1s", -(10**9)), ("1", None),
    ("1d", None), ("s", None), ("1s ", None), ("", None)])
def test_go_durations(text: str, nanoseconds: int | None) -> None:
    assert go_duration(text) == nanoseconds


def test_cel_rules_are_evaluated_and_an_unknown_one_stops_the_load() -> None:
    rule = {"rule": "duration(self) >= duration('1ms')", "message": "too short"}
    schema = {"type": "object", "properties": {
        "timeout": {"type": "string", "x-kubernetes-validations": [rule]}}}
    assert errors(schema, {"timeout": "1000us"}) == []
    assert errors(schema, {"timeout": "10"}) == ["$.timeout: too short"]
    assert errors(schema, {"timeout": "999us"}) == ["$.timeout: too short"]
    unknown = {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 3"}]}
    with pytest.raises(ValueError, match=r"no adapter for \['self.size\(\) < 3'\]"):
        adapt({"type": "object", "properties": {"x": unknown}})


def test_an_unknown_extension_stops_the_load() -> None:
    with pytest.raises(ValueError, match="x-kubernetes-embedded-resource"):
        adapt({"type": "object", "x-kubernetes-embedded-resource": True})
