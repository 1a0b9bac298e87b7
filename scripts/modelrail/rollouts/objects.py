"""The loosely typed fields of a Kubernetes object as served (parsed JSON): a missing or
mistyped field reads as empty, never raises, as Argo's own tools tolerate them."""

from collections.abc import Mapping
from typing import Any

JSON = dict[str, Any]


def as_mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def mappings(value: object) -> list[Mapping[str, Any]]:
    """The mapping items of a list field; [] when it is not a list."""
    return [as_mapping(item) for item in value] if isinstance(value, list) else []


def nested(obj: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    """The mapping at `obj[keys[0]][keys[1]]...`, empty where any step is not a mapping."""
    for key in keys:
        obj = as_mapping(obj.get(key))
    return obj


def integer(value: object) -> int | None:
    """An integer field; Argo writes observedGeneration as a string ("7")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None
