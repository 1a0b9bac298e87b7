"""The structural schema of the Argo Rollouts objects modelrail writes or ships, written
from Argo's API types (pkg/apis/rollouts/v1alpha1/types.go and analysis_types.go at the
commit docs/argo-rollouts.md pins): the JSON field names and their types, for the parts
modelrail touches. A subtree modelrail does not write (the pod template, a router's own
settings, ...) is `OPEN` and not checked.

The API server prunes a field its CRD schema does not know, silently, and refuses a value
of the wrong type, so `problems` reports both.
"""

from dataclasses import dataclass, field
from typing import Any

INT, STRING, BOOL, INT_OR_STRING, OPEN = "integer", "string", "boolean", "int-or-string", "open"


@dataclass(frozen=True)
class Obj:
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Array:
    item: Any


@dataclass(frozen=True)
class Map:
    value: Any


STRING_MATCH = Obj({"exact": STRING, "prefix": STRING, "regex": STRING})
ROUTE_MATCH = Obj({"method": STRING_MATCH, "path": STRING_MATCH, "headers": Map(STRING_MATCH)})
CANARY_STEP = Obj({
    "setWeight": INT,
    "pause": Obj({"duration": INT_OR_STRING}),
    "experiment": OPEN, "analysis": OPEN, "setHeaderRoute": OPEN, "plugin": OPEN,
    "setCanaryScale": Obj({"weight": INT, "replicas": INT, "matchTrafficWeight": BOOL}),
    "setMirrorRoute": Obj({"name": STRING, "match": Array(ROUTE_MATCH), "service": STRING,
                           "percentage": INT}),
})
TRAFFIC_ROUTING = Obj({
    **dict.fromkeys(("istio", "nginx", "alb", "smi", "ambassador", "appMesh", "traefik",
                     "apisix"), OPEN),
    "managedRoutes": Array(Obj({"name": STRING})), "plugins": Map(OPEN),
    "maxTrafficWeight": INT,
})
CANARY = Obj({
    "canaryService": STRING, "stableService": STRING, "steps": Array(CANARY_STEP),
    "trafficRouting": TRAFFIC_ROUTING, "maxUnavailable": INT_OR_STRING,
    "maxSurge": INT_OR_STRING, "analysis": OPEN, "antiAffinity": OPEN,
    "canaryMetadata": OPEN, "stableMetadata": OPEN, "scaleDownDelaySeconds": INT,
    "scaleDownDelayRevisionLimit": INT, "abortScaleDownDelaySeconds": INT,
    "dynamicStableScale": BOOL, "pingPong": OPEN, "minPodsPerReplicaSet": INT,
    "replicaProgressThreshold": OPEN,
})
METADATA = Obj({"name": STRING, "namespace": STRING, "labels": Map(STRING),
                "annotations": Map(STRING), **dict.fromkeys(
                    ("uid", "generation", "resourceVersion", "creationTimestamp"), OPEN)})
ROLLOUT = Obj({
    "apiVersion": STRING, "kind": STRING, "metadata": METADATA, "status": OPEN,
    "spec": Obj({
        "replicas": INT, "selector": OPEN, "template": OPEN,
        "workloadRef": Obj({"apiVersion": STRING, "kind": STRING, "name": STRING,
                            "scaleDown": STRING}),
        "minReadySeconds": INT, "rollbackWindow": OPEN,
        "strategy": Obj({"canary": CANARY, "blueGreen": OPEN}),
        "revisionHistoryLimit": INT, "paused": BOOL, "progressDeadlineSeconds": INT,
        "progressDeadlineAbort": BOOL, "restartAt": STRING, "analysis": OPEN}),
})
PROMETHEUS = Obj({"address": STRING, "query": STRING, "authentication": OPEN,
                  "timeout": INT, "insecure": BOOL, "headers": OPEN, "rangeQuery": OPEN})
METRIC = Obj({
    "name": STRING, "interval": STRING, "initialDelay": STRING, "count": INT_OR_STRING,
    "successCondition": STRING, "failureCondition": STRING, "failureLimit": INT_OR_STRING,
    "inconclusiveLimit": INT_OR_STRING, "consecutiveErrorLimit": INT_OR_STRING,
    "consecutiveSuccessLimit": INT_OR_STRING,
    "provider": Obj({"prometheus": PROMETHEUS, **dict.fromkeys(
        ("kayenta", "web", "datadog", "wavefront", "newRelic", "job", "cloudWatch",
         "graphite", "influxdb", "skywalking", "plugin"), OPEN)}),
})
ANALYSIS_TEMPLATE = Obj({
    "apiVersion": STRING, "kind": STRING, "metadata": METADATA,
    "spec": Obj({"metrics": Array(METRIC),
                 "args": Array(Obj({"name": STRING, "value": STRING, "valueFrom": OPEN})),
                 "dryRun": OPEN, "measurementRetention": OPEN, "templates": OPEN}),
})


def problems(value: Any, schema: Any, path: str = "") -> list[str]:
    """Every field the API server would prune or refuse, by its path."""
    if schema == OPEN:
        return []
    if isinstance(schema, Obj):
        if not isinstance(value, dict):
            return [f"{path or '.'}: expected an object, got {value!r}"]
        found: list[str] = []
        for key, item in value.items():
            if key not in schema.fields:
                found.append(f"{path}.{key}: unknown field (pruned)")
            else:
                found += problems(item, schema.fields[key], f"{path}.{key}")
        return found
    if isinstance(schema, Array | Map):
        items = list(enumerate(value)) if isinstance(value, list) and isinstance(schema, Array) \
            else list(value.items()) if isinstance(value, dict) and isinstance(schema, Map) \
            else None
        if items is None:
            return [f"{path}: expected {'a list' if isinstance(schema, Array) else 'a map'}"]
        inner = schema.item if isinstance(schema, Array) else schema.value
        return [p for key, item in items for p in problems(item, inner, f"{path}[{key}]")]
    return [] if _is(value, schema) else [f"{path}: expected {schema}, got {value!r}"]


def _is(value: Any, kind: str) -> bool:
    integer = isinstance(value, int) and not isinstance(value, bool)
    return {INT: integer, STRING: isinstance(value, str), BOOL: isinstance(value, bool),
            INT_OR_STRING: integer or isinstance(value, str)}[kind]
