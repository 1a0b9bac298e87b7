"""A local stand-in for the Kubernetes API slice that Argo Rollouts tooling uses, with an
emulation of the Argo Rollouts controller's canary step semantics.

No Kubernetes API server or Argo controller can run here (docs/argo-rollouts.md), so
this serves, on 127.0.0.1 and a free port, what the real `kubernetes` client sends:

- ``GET|PUT|PATCH /apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts/{name}`` and
  ``.../status``; ``GET|PUT /apis/apps/v1/namespaces/{ns}/deployments/{name}`` (for a
  Rollout's ``workloadRef``); ``GET|PUT|PATCH
  /apis/networking.istio.io/v1/namespaces/{ns}/virtualservices/{name}``;
- PATCH accepts ``application/merge-patch+json`` (RFC 7386) and
  ``application/json-patch+json`` (RFC 6902: a failed ``test`` answers 422), as the API
  server does for custom resources (415 otherwise: no strategic merge); with the status
  subresource on (Argo >= v0.10), a patch or update of the object ignores ``status`` and
  a patch of ``/status`` ignores the rest; with it off, ``/status`` answers 404 as on Argo v0.9;
- ``metadata.resourceVersion`` changes on every write and ``metadata.generation`` on every
  spec change; a PUT with a stale resourceVersion answers 409 Conflict, one without any
  answers 422; unknown objects 404; bearer-token auth (401); a configurable set of
  forbidden (verb, resource) pairs answers 403 - all with Kubernetes ``Status`` bodies.

Every request is recorded (method, path, content type, parsed body, answer status) so
tests assert the exact patches. The controller emulation reconciles ``controller_delay``
seconds after each write (default 0.05), never inside it, so a write's answer and the reads
before that reconcile show the status the controller last wrote, as on a cluster. Its
rules follow Argo Rollouts v1.10 (the upstream file is named at each rule): a new pod
template starts a revision at step 0, and that first reconcile counts the canary's pods as
not yet available, completes no step and keeps the old ``status.canary.weights`` (the stable
pod hash; ``rollout/canary.go``, ``rollout/trafficrouting.go``); from the next reconcile on
the pods are ready and ``setWeight`` steps apply at once (weights written only with traffic
routing; ``replicas``/``updatedReplicas``/``availableReplicas`` always); a ``pause: {}``
step adds the ``CanaryPauseStep`` pause condition and waits until it is cleared, a timed
pause (Go duration syntax, ``1h30m``) until it expires; abort sends the weight to 0 and
sets the ``Progressing`` condition to ``RolloutAborted`` (phase Degraded); clearing abort
(retry) is acknowledged with ``RolloutRetry`` on the next reconcile and starts again from
step 0; an abort of a fully promoted rollout is dropped (it stays Healthy); ``promoteFull``
or the end of the steps makes the new revision stable (Healthy). ``setCanaryScale`` and
``setMirrorRoute`` steps pass at once, as the controller completes them, and change no
weight. With Istio traffic routing (a mirror phase seeds it, with its VirtualService) the
reconcile edits the VirtualServices ``trafficRouting.istio`` names as Argo's Istio
reconciler does (``standins/istio.py``): each ``setMirrorRoute`` step that is current
during a reconcile writes (with a ``match``) or removes (with only its ``name``) its route,
and only then, as ``reconcileTrafficRouting`` (``rollout/trafficrouting.go``) calls
``SetMirrorRoute`` only for the current step; an abort, a full promotion and a new
revision whose pods are not available yet remove every managed route
(``RemoveManagedRoutes``), and ``remove_managed_routes`` does what a canary losing its
pods makes the controller do. A route removed after its step is never written again. The
controller writes nothing about mirrors into status, so neither does this; a missing
VirtualService and traffic-router plugins' mirrors are not emulated. As the controller's
validation does, a ``setMirrorRoute`` without Istio or a
traffic-router plugin or whose route is not listed in ``trafficRouting.managedRoutes``, a
``setCanaryScale`` without traffic routing, or an unparseable pause duration adds the
``InvalidSpec`` condition (phase Degraded), and no step runs.
``weight()``/``traffic()`` tell a traffic splitter how to split live requests and, from
the VirtualService's routes, what share of which requests to mirror.
"""

import copy
import functools
import hashlib
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml
from modelrail.local.loopback import LoopbackServer

from tests.support.standins import istio

JSON = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
PAUSE_STEP = "CanaryPauseStep"
REVISION = "rollout.argoproj.io/revision"
CONTROLLER_DELAY = 0.05  # seconds from a write to the controller's reconcile of it
_PATH = re.compile(
    r"^/apis/(?P<group>argoproj\.io|apps|networking\.istio\.io)/(?P<version>v1alpha1|v1)/"
    r"namespaces/(?P<ns>[^/]+)/(?P<plural>rollouts|deployments|virtualservices)/"
    r"(?P<name>[^/]+)(?P<sub>/status)?$")
_KINDS = {"rollouts": ("argoproj.io/v1alpha1", "Rollout"), "deployments": ("apps/v1", "Deployment"),
          istio.PLURAL: istio.KIND}
_Answer = tuple[int, Any]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    content_type: str
    body: Any  # parsed JSON; None when empty
    status: int  # what the stand-in answered


@dataclass(frozen=True)
class Traffic:
    """How a splitter should send live requests: `canary_weight` % to the new revision,
    and a copy of the requests the VirtualService's routes mirror to it too (its answer
    dropped)."""

    stable_image: str
    canary_image: str
    canary_weight: int
    virtual_service: JSON | None = None  # the first one trafficRouting.istio names

    @property
    def mirror(self) -> int:
        """The highest mirrorPercentage of any route (of the requests that route takes)."""
        routes = ((self.virtual_service or {}).get("spec") or {}).get("http") or []
        return max((int((r.get("mirrorPercentage") or {}).get("value", 100))
                    for r in routes if r.get("mirror")), default=0)

    def mirrored(self, method: str, path: str, headers: dict[str, str]) -> float:
        """The % of requests like this one that Istio mirrors to the new revision."""
        return istio.mirrored_share(self.virtual_service, method, path, headers)


@dataclass(frozen=True)
class Mirror:
    """A mirror phase before the weights: the steps the policy's `rollout.mirror` asks for."""

    route: str = "mirror"
    percentage: int = 50
    scale: int = 50
    match: tuple[JSON, ...] = ({"method": {"exact": "POST"}, "path": {"prefix": "/predict"}},)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: null deletes, objects merge, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: JSON, operations: list[JSON]) -> JSON:
    """RFC 6902 test/add/replace/remove on a copy of `target`; ValueError with the message
    of the Go library the API server uses (evanphx/json-patch) when an operation fails."""
    result = copy.deepcopy(target)
    for operation in operations:
        op, path = operation.get("op"), str(operation.get("path", ""))
        parent, last = _pointer(result, path)
        if op == "test":
            if _child(parent, last, path) != operation.get("value"):
                raise ValueError(f"testing value {path} failed: test failed")
        elif op in ("add", "replace"):
            if op == "replace":
                _child(parent, last, path)
            value = copy.deepcopy(operation.get("value"))
            if isinstance(parent, list) and op == "add":
                parent.insert(len(parent) if last == "-" else int(last), value)
            else:
                parent[int(last) if isinstance(parent, list) else last] = value
        elif op == "remove":
            _child(parent, last, path)
            del parent[int(last) if isinstance(parent, list) else last]
        else:
            raise ValueError(f"Unexpected kind: {op}")
    return result


def _pointer(document: Any, path: str) -> tuple[Any, str]:
    """The container holding the last token of JSON pointer `path`, and that token."""
    if not path.startswith("/"):
        raise ValueError(f"replace operation does not apply: doc is missing path: {path}")
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]
    node = document
    for token in tokens[:-1]:
        node = _child(node, token, path)
    return node, tokens[-1]


def _child(node: Any, token: str, path: str) -> Any:
    missing = ValueError(f"replace operation does not apply: doc is missing path: {path}")
    if isinstance(node, dict):
        if token not in node:
            raise missing
        return node[token]
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    raise missing


def pod_hash(template: Any) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def canary_steps(weights: Sequence[int], mirror: Mirror | None = None) -> list[JSON]:
    steps: list[JSON] = []
    if mirror:
        steps += [{"setCanaryScale": {"weight": mirror.scale}},
                  {"setMirrorRoute": {"name": mirror.route, "percentage": mirror.percentage,
                                      "match": list(mirror.match)}},
                  {"pause": {}},
                  {"setMirrorRoute": {"name": mirror.route}},
                  {"setCanaryScale": {"matchTrafficWeight": True}}]
    for weight in weights:
        steps += [{"setWeight": weight}, {"pause": {}}]
    return steps


def _status(code: int, reason: str, message: str, details: JSON | None = None) -> JSON:
    body: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def _details(route: re.Match[str]) -> JSON:
    return {"name": route["name"], "group": route["group"], "kind": route["plural"]}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0,
             "m": 60.0, "h": 3600.0}
_GO_TERM = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def go_duration_seconds(text: str) -> float | None:
    """Go's time.ParseDuration (`1h30m`, `1.5s`, `300ms`, `-2m`, `0`), None when it fails."""
    sign, body = (-1.0, text[1:]) if text[:1] == "-" else (1.0, text.removeprefix("+"))
    if body == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(body):
        term = _GO_TERM.match(body, position)
        if term is None:
            return None
        total += float(term[1]) * _GO_UNITS[term[2]]
        position = term.end()
    return sign * total if body else None


def pause_seconds(value: Any) -> int | None:
    """RolloutPause.DurationSeconds (pkg/apis/rollouts/v1alpha1/types.go): a whole number of
    seconds for an int or a digits-only string, else Go duration syntax truncated to whole
    seconds; -1 when unparseable (the validation refuses it); None without a duration."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    seconds = go_duration_seconds(text)
    return -1 if seconds is None else int(seconds)


@dataclass
class _State:
    objects: dict[tuple[str, str, str], JSON] = field(default_factory=dict)
    images: dict[str, dict[str, str]] = field(default_factory=dict)  # pod hash → images
    requests: list[RecordedRequest] = field(default_factory=list)
    forbidden: set[tuple[str, str]] = field(default_factory=set)
    conflicts: int = 0
    failures: int = 0
    version: int = 1000
    timers: list[threading.Timer] = field(default_factory=list)
    stale_reads: dict[str, int] = field(default_factory=dict)  # namespace → reads owed


class RolloutsStandIn(LoopbackServer):
    """A threaded HTTP server on 127.0.0.1 (free port); use as a context manager."""

    def __init__(self, token: str = "standin-token",  # noqa: S107 - a test token
                 controller_delay: float = CONTROLLER_DELAY, stale_reads: int | None = 1,
                 status_subresource: bool = True,
                 user: str = "system:serviceaccount:ci:modelrail") -> None:
        self.token = token
        self.controller_delay = controller_delay
        self.stale_reads = stale_reads  # reads after a write that still see the old status
        self.status_subresource = status_subresource
        self.user = user
        self._state = _State()
        self._lock = threading.RLock()
        super().__init__(self._handler_class())

    @property
    def url(self) -> str:
        return self.address

    def stop(self) -> None:
        with self._lock:
            for timer in self._state.timers:
                timer.cancel()
        super().stop()

    def kubeconfig(self, namespace: str | None = None, token: str | None = None) -> str:
        """A kubeconfig (YAML text) for this server: plain http, bearer-token auth."""
        context: JSON = {"cluster": "standin", "user": "ci"}
        if namespace:
            context["namespace"] = namespace
        return yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "standin",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "ci", "user": {"token": token or self.token}}],
            "contexts": [{"name": "standin", "context": context}],
        }, sort_keys=False)

    def write_kubeconfig(self, path: Path, namespace: str | None = None,
                         token: str | None = None) -> Path:
        path.write_text(self.kubeconfig(namespace, token), encoding="utf-8")
        path.chmod(0o600)
        return path

    # -- seeding -------------------------------------------------------------------------

    def add_rollout(self, name: str, namespace: str = "default", image: str = "app:v1",
                    weights: Sequence[int] = (10, 25, 50, 100), container: str = "server",
                    steps: list[JSON] | None = None, traffic_routing: bool | JSON = True,
                    workload_ref: str | None = None, mirror: Mirror | None = None,
                    managed_routes: Sequence[str] | None = None) -> JSON:
        """A Rollout as `kubectl apply` would create it, reconciled to Healthy (stable).
        With `mirror`, its steps start with the mirror phase and its route is managed
        (`managed_routes` overrides the names listed). `traffic_routing` is on (a
        traffic-router plugin; with `mirror`, Istio and a VirtualService named after the
        rollout, `add_virtual_service`), off, or the router's settings (`{"nginx": ...}`)."""
        canary: JSON = {"steps": canary_steps(weights, mirror) if steps is None else steps}
        if traffic_routing:
            routes = [mirror.route] if mirror and managed_routes is None \
                else list(managed_routes or ())
            if isinstance(traffic_routing, dict):
                routing = copy.deepcopy(traffic_routing)
            elif mirror:
                routing = {"istio": {
                    "virtualService": {"name": name, "routes": [istio.PRIMARY]},
                    "destinationRule": {"name": name, "canarySubsetName": "canary",
                                        "stableSubsetName": "stable"}}}
                self.add_virtual_service(name, namespace)
            else:
                routing = {"plugins": {"modelrail/standin": {}}}
            canary.update(canaryService=f"{name}-canary", stableService=f"{name}-stable",
                          trafficRouting=routing)
            if routes:
                canary["trafficRouting"]["managedRoutes"] = [{"name": r} for r in routes]
        spec: JSON = {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                      "strategy": {"canary": canary}}
        if workload_ref:
            spec["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "name": workload_ref}
        else:
            spec["template"] = _template(name, container, image)
        return self._create("rollouts", namespace, name, spec)

    def add_virtual_service(self, name: str, namespace: str = "default",
                            host: str | None = None) -> JSON:
        """A VirtualService with one route (`primary`) over the stable and canary subsets
        of `host` (default: `name`), as a user applies it next to the Rollout."""
        return self._create(istio.PLURAL, namespace, name,
                            istio.virtual_service_spec(host or name))

    def add_deployment(self, name: str, namespace: str = "default", image: str = "app:v1",
                       container: str = "server") -> JSON:
        spec = {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                "template": _template(name, container, image)}
        return self._create("deployments", namespace, name, spec)

    def _create(self, plural: str, namespace: str, name: str, spec: JSON) -> JSON:
        api_version, kind = _KINDS[plural]
        with self._lock:
            self._state.version += 1
            obj: JSON = {"apiVersion": api_version, "kind": kind, "metadata": {
                "name": name, "namespace": namespace, "uid": f"uid-{self._state.version}",
                "generation": 1, "resourceVersion": str(self._state.version),
                "creationTimestamp": _now()}, "spec": spec, "status": {}}
            self._state.objects[(plural, namespace, name)] = obj
            self._reconcile(namespace)
            return copy.deepcopy(self._state.objects[(plural, namespace, name)])

    # -- inspection and faults -----------------------------------------------------------

    def get(self, plural: str, namespace: str, name: str) -> JSON:
        with self._lock:
            return copy.deepcopy(self._state.objects[(plural, namespace, name)])

    def rollout(self, name: str, namespace: str = "default") -> JSON:
        return self.get("rollouts", namespace, name)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.requests)

    def writes(self) -> list[RecordedRequest]:
        """The PUT and PATCH requests, in order."""
        return [r for r in self.requests if r.method in ("PUT", "PATCH")]

    def clear_requests(self) -> None:
        with self._lock:
            self._state.requests.clear()

    def forbid(self, verb: str, resource: str) -> None:
        """Answer 403 to `verb` (get|update|patch) on `resource` (rollouts/status, ...)."""
        with self._lock:
            self._state.forbidden.add((verb, resource))

    def conflict_next_writes(self, count: int = 1) -> None:
        """Let another writer change the object just before each of the next PUTs and JSON
        patches (a merge patch has no precondition to fail)."""
        with self._lock:
            self._state.conflicts = count

    def fail_next(self, count: int) -> None:
        """Answer the next `count` requests with 500."""
        with self._lock:
            self._state.failures = count

    def settle(self) -> None:
        """Let the controller catch up now: run every reconcile still owed, and the one
        that finds a new revision's pods ready (`_first_reconcile`)."""
        with self._lock:
            for timer in self._state.timers:
                timer.cancel()
            self._state.timers.clear()
            for namespace in list(self._state.stale_reads):
                self._delayed(namespace)
                self._reconcile(namespace)

    # -- traffic -------------------------------------------------------------------------

    def traffic(self, name: str, namespace: str = "default") -> Traffic:
        """Stable and new revision images and the new revision's share (100 once stable)."""
        with self._lock:
            obj = self._state.objects[("rollouts", namespace, name)]
            status = obj["status"]
            stable, current = status.get("stableRS", ""), status.get("currentPodHash", "")
            services = self._virtual_services(obj)
            return Traffic(stable_image=_first(self._state.images.get(stable, {})),
                           canary_image=_first(self._state.images.get(current, {})),
                           canary_weight=_new_revision_weight(obj),
                           virtual_service=copy.deepcopy(services[0]) if services else None)

    def weight(self, name: str, namespace: str = "default") -> int:
        return self.traffic(name, namespace).canary_weight

    # -- HTTP ----------------------------------------------------------------------------

    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> _Answer:
        content_type = headers.get("content-type", "").split(";")[0].strip()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            route = path.split("?", maxsplit=1)[0]
            code, payload = self._answer(method, route, headers, content_type, body)
            self._state.requests.append(
                RecordedRequest(method, path, content_type, body, code))
            return code, payload

    def _answer(self, method: str, path: str, headers: dict[str, str], content_type: str,
                body: Any) -> _Answer:
        route = _PATH.match(path)
        refused = self._auth_and_faults(headers) or self._route_refusal(method, route)
        if refused is not None or route is None:
            return refused or (404, _status(404, "NotFound", "no route"))
        key = (route["plural"], route["ns"], route["name"])
        current = self._state.objects.get(key)
        if current is None:
            return 404, _status(404, "NotFound", f'{route["plural"]}.{route["group"]} '
                                f'"{route["name"]}" not found', _details(route))
        if method == "GET":
            self._read(route["ns"])
            return 200, copy.deepcopy(self._state.objects[key])
        return self._write(method, key, current, content_type, body, bool(route["sub"]))

    def _auth_and_faults(self, headers: dict[str, str]) -> _Answer | None:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, _status(401, "Unauthorized", "Unauthorized")
        if self._state.failures > 0:
            self._state.failures -= 1
            return 500, _status(500, "InternalError", "Internal error occurred: injected")
        return None

    def _route_refusal(self, method: str, route: re.Match[str] | None) -> _Answer | None:
        """404 for what is not served, 405, and 403 for the forbidden (verb, resource)."""
        unknown = _status(404, "NotFound", "the server could not find the requested resource")
        if route is None:
            return 404, unknown
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch"}.get(method)
        if verb is None:
            return 405, _status(405, "MethodNotAllowed", f"{method} is not supported here")
        plural, group = route["plural"], route["group"]
        resource = plural + ("/status" if route["sub"] else "")
        if (verb, resource) in self._state.forbidden:
            return 403, _status(403, "Forbidden", (
                f'{plural}.{group} "{route["name"]}" is forbidden: User "{self.user}" cannot '
                f'{verb} resource "{resource}" in API group "{group}" in the namespace '
                f'"{route["ns"]}"'), _details(route))
        if route["sub"] and (plural != "rollouts" or not self.status_subresource):
            return 404, unknown
        return None

    def _write(self, method: str, key: tuple[str, str, str], current: JSON, content_type: str,
               body: Any, status_only: bool) -> _Answer:
        if method == "PATCH" and content_type == JSON_PATCH:
            return self._json_patch(key, current, body, status_only)
        if not isinstance(body, dict):
            return 400, _status(400, "BadRequest", "the request body is not a JSON object")
        if method == "PATCH" and content_type != MERGE_PATCH:
            return 415, _status(415, "UnsupportedMediaType", (
                f"the body of the request was in an unknown format - accepted media types "
                f"include: application/json-patch+json, {MERGE_PATCH}, "
                "application/apply-patch+yaml"))
        if method == "PUT" and content_type not in ("", "application/json"):
            return 415, _status(415, "UnsupportedMediaType", f"{content_type} is not "
                                "accepted for an update; send application/json")
        refused = None if method == "PATCH" else self._check_put(key, current, body)
        if refused is not None:
            return refused
        updated = merge_patch(current, body) if method == "PATCH" else copy.deepcopy(body)
        return self._commit(key, current, updated, status_only)

    def _commit(self, key: tuple[str, str, str], current: JSON, updated: JSON,
                status_only: bool) -> _Answer:
        self._store(key, current, updated, status_only=status_only)
        result = copy.deepcopy(self._state.objects[key])
        self._after_write(key[1])
        return 200, result

    def _json_patch(self, key: tuple[str, str, str], current: JSON, body: Any,
                    status_only: bool) -> _Answer:
        """RFC 6902, as the API server applies it (k8s.io/apiserver .../handlers/patch.go):
        a malformed patch is 400, an operation that fails (a `test` included) is 422."""
        if not isinstance(body, list) or not all(isinstance(op, dict) for op in body):
            return 400, _status(400, "BadRequest", "json: cannot unmarshal object into Go "
                                "value of type jsonpatch.Patch")
        self._interfere(current)
        try:
            updated = json_patch(current, body)
        except ValueError as error:
            return 422, _status(422, "Invalid", str(error))
        return self._commit(key, current, updated, status_only)

    def _interfere(self, current: JSON) -> None:
        """Another writer gets there first, when tests asked for it."""
        if self._state.conflicts > 0:
            self._state.conflicts -= 1
            annotations = current["metadata"].setdefault("annotations", {})
            annotations["standin/concurrent-writes"] = str(
                int(annotations.get("standin/concurrent-writes", "0")) + 1)
            self._bump(current)

    def _check_put(self, key: tuple[str, str, str], current: JSON, body: JSON) -> _Answer | None:
        plural, _, name = key
        self._interfere(current)
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if not wanted:
            return 422, _status(422, "Invalid", f'{_KINDS[plural][1]} "{name}" is invalid: '
                                "metadata.resourceVersion: Invalid value: 0x0: must be "
                                "specified for an update")
        if wanted != current["metadata"]["resourceVersion"]:
            group = "argoproj.io" if plural == "rollouts" else "apps"
            return 409, _status(409, "Conflict", (
                f'Operation cannot be fulfilled on {plural}.{group} "{name}": the object has '
                "been modified; please apply your changes to the latest version and try "
                "again"), {"name": name, "group": group, "kind": plural})
        return None

    def _store(self, key: tuple[str, str, str], current: JSON, updated: JSON,
               status_only: bool) -> None:
        """Apply a write the way the API server does with the status subresource on."""
        if status_only:
            new = {**copy.deepcopy(current), "status": updated.get("status") or {}}
        else:
            new = copy.deepcopy(updated)
            if self.status_subresource:
                new["status"] = copy.deepcopy(current.get("status") or {})
            metadata = {**current["metadata"], **(new.get("metadata") or {})}
            for fixed in ("name", "namespace", "uid", "creationTimestamp", "generation"):
                metadata[fixed] = current["metadata"][fixed]
            new["metadata"] = metadata
            if new.get("spec") != current.get("spec"):
                metadata["generation"] = current["metadata"]["generation"] + 1
        if new != current:
            self._bump(new)
        self._state.objects[key] = new

    def _bump(self, obj: JSON) -> None:
        self._state.version += 1
        obj["metadata"]["resourceVersion"] = str(self._state.version)

    # -- controller emulation ------------------------------------------------------------

    def _after_write(self, namespace: str) -> None:
        """The controller reconciles after the write is answered, never inside it (its
        informer sees the change later): the answer, and the next `stale_reads` reads
        (None: every read) until `controller_delay` has passed, show the status as it was."""
        self._state.stale_reads[namespace] = 2**31 if self.stale_reads is None \
            else self.stale_reads
        timer = threading.Timer(self.controller_delay, self._delayed, args=(namespace,))
        timer.daemon = True
        self._state.timers = [t for t in self._state.timers if t.is_alive()] + [timer]
        timer.start()

    def _delayed(self, namespace: str) -> None:
        with self._lock:
            self._state.stale_reads.pop(namespace, None)
            self._reconcile(namespace)

    def _read(self, namespace: str) -> None:
        """A read owed a stale answer gets it; any other sees the controller caught up (as
        its resync would, which is also how timed pauses end)."""
        if self._state.stale_reads.get(namespace, 0) > 0:
            self._state.stale_reads[namespace] -= 1
            return
        self._reconcile(namespace)

    def _reconcile(self, namespace: str) -> None:
        for (plural, ns, name), obj in list(self._state.objects.items()):
            if plural == "rollouts" and ns == namespace:
                reconciled = self._reconcile_rollout(obj)
                if reconciled != obj:
                    self._bump(reconciled)
                    self._state.objects[(plural, ns, name)] = reconciled
                self._reconcile_routes(obj, reconciled)

    # -- Istio: the managed routes (standins/istio.py) ------------------------------------

    def remove_managed_routes(self, name: str, namespace: str = "default") -> None:
        """What the controller does when the canary has no available pods (its pods
        crashed or were evicted): RemoveManagedRoutes (reconcileTrafficRouting,
        rollout/trafficrouting.go). A mirror step already passed does not write its route
        again."""
        with self._lock:
            self._edit_routes(self._state.objects[("rollouts", namespace, name)],
                              _remove_managed)

    def _reconcile_routes(self, before: JSON, after: JSON) -> None:
        """reconcileTrafficRouting's route edits for one reconcile (module docstring)."""
        status, old = after["status"], before.get("status") or {}
        if status.get("stableRS") == status.get("currentPodHash") or status.get("abort") \
                or old.get("currentPodHash") != status.get("currentPodHash"):
            self._edit_routes(after, _remove_managed)
            return
        steps = after["spec"]["strategy"]["canary"].get("steps") or []
        first = int(old.get("currentStepIndex") or 0)
        for step in steps[first: int(status.get("currentStepIndex") or 0) + 1]:
            if isinstance(step.get("setMirrorRoute"), dict):
                self._edit_routes(after, functools.partial(_set_mirror_route,
                                                           route=step["setMirrorRoute"]))

    def _edit_routes(self, rollout: JSON, edit: Callable[[JSON, JSON], Any]) -> None:
        """Apply `edit(vs, canary)` to each VirtualService the rollout routes through, and
        store those it changed as the controller's client.Update would."""
        canary = rollout["spec"].get("strategy", {}).get("canary") or {}
        for key, vs in self._virtual_service_items(rollout):
            edited = copy.deepcopy(vs)
            edit(edited, canary)
            if edited != vs:
                self._bump(edited)
                self._state.objects[key] = edited

    def _virtual_service_items(self, rollout: JSON) -> list[tuple[tuple[str, str, str], JSON]]:
        settings = ((rollout["spec"].get("strategy", {}).get("canary") or {})
                    .get("trafficRouting") or {}).get("istio") or {}
        keys = [(istio.PLURAL, ns, name) for ns, name in istio.virtual_service_names(
            settings, rollout["metadata"]["namespace"])]
        return [(key, self._state.objects[key]) for key in keys if key in self._state.objects]

    def _virtual_services(self, rollout: JSON) -> list[JSON]:
        return [vs for _, vs in self._virtual_service_items(rollout)]

    def _reconcile_rollout(self, obj: JSON) -> JSON:
        new = copy.deepcopy(obj)
        spec, status = new["spec"], new.setdefault("status", {})
        invalid = _invalid_spec(spec.get("strategy", {}).get("canary") or {})
        _set_invalid_spec(new, invalid)
        if invalid:  # the controller refuses the spec: no step runs
            status["phase"], status["message"] = _phase(new)
            status["observedGeneration"] = str(new["metadata"]["generation"])
            return new
        template = self._template_of(new)
        steps: list[JSON] = spec.get("strategy", {}).get("canary", {}).get("steps") or []
        current, steps_hash = pod_hash(template), pod_hash(steps)
        if status.get("currentPodHash") != current or status.get("currentStepHash") != steps_hash:
            if status.get("currentPodHash") != current:
                annotations = new["metadata"].setdefault("annotations", {})
                annotations[REVISION] = str(int(annotations.get(REVISION, "0")) + 1)
                self._state.images[current] = _images(template)
            for key in ("pauseConditions", "controllerPause", "abort", "promoteFull"):
                status.pop(key, None)
            new_pods = status.get("currentPodHash") != current and "stableRS" in status
            status.update(currentPodHash=current, currentStepHash=steps_hash)
            status.setdefault("stableRS", current)  # an initial deployment is stable at once
            status["currentStepIndex"] = len(steps) if status["stableRS"] == current else 0
            if new_pods:
                return self._first_reconcile(new)
        if status.get("abort") and status["stableRS"] == current:
            status.pop("abort", None)  # rollout/controller.go: a fully promoted one stays so
        _advance(spec, status, steps)
        _set_weights(spec, status)
        _set_replicas(spec, status, canary_ready=True)
        _set_progressing(new)
        status["phase"], status["message"] = _phase(new)
        status["observedGeneration"] = str(new["metadata"]["generation"])
        return new

    def _first_reconcile(self, new: JSON) -> JSON:
        """The reconcile that sees a new pod template creates the canary's pods, which are
        not available yet: no step completes (AtDesiredReplicaCountsForCanary,
        utils/replicaset/canary.go; completedCurrentCanaryStep, rollout/canary.go) and
        status.canary.weights stays as it was, on the stable pod hash (reconcileTrafficRouting,
        rollout/trafficrouting.go). A later reconcile finds the pods ready and moves the
        traffic."""
        spec, status = new["spec"], new["status"]
        _set_replicas(spec, status, canary_ready=False)
        _set_progressing(new)
        status["phase"], status["message"] = _phase(new)
        status["observedGeneration"] = str(new["metadata"]["generation"])
        return new

    def _template_of(self, rollout: JSON) -> Any:
        ref = rollout["spec"].get("workloadRef")
        if not ref:
            return rollout["spec"].get("template")
        key = ("deployments", rollout["metadata"]["namespace"], ref.get("name"))
        workload = self._state.objects.get(key)
        return workload["spec"].get("template") if workload else None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload = standin._handle(self.command, self.path, headers, raw)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _serve  # noqa: N815 - http.server's naming
            do_PUT = _serve  # noqa: N815
            do_PATCH = _serve  # noqa: N815
            do_POST = _serve  # noqa: N815
            do_DELETE = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        return Handler


def _template(app: str, container: str, image: str) -> JSON:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": container, "image": image,
                                     "ports": [{"containerPort": 8080}]}]}}


def _images(template: Any) -> dict[str, str]:
    containers = ((template or {}).get("spec") or {}).get("containers") or []
    return {str(c.get("name")): str(c.get("image")) for c in containers}


def _first(images: dict[str, str]) -> str:
    return next(iter(images.values()), "")


def _set_weight_at(steps: list[JSON], index: int) -> int:
    """GetCurrentSetWeight without abort: the last setWeight at or before `index`."""
    if index >= len(steps):
        return 100
    return next((int(s["setWeight"]) for s in reversed(steps[: index + 1]) if "setWeight" in s),
                0)


def _advance(spec: JSON, status: JSON, steps: list[JSON]) -> None:
    """One controller pass over the canary steps (replicas are ready at once here)."""
    if status.get("promoteFull"):
        for key in ("pauseConditions", "controllerPause", "abort", "promoteFull"):
            status.pop(key, None)
        status["currentStepIndex"] = len(steps)
        status["stableRS"] = status["currentPodHash"]
        return
    if status.get("stableRS") == status.get("currentPodHash"):
        status["currentStepIndex"] = len(steps)
        return
    if status.get("abort"):
        status.pop("pauseConditions", None)
        status.pop("controllerPause", None)
        status["currentStepIndex"] = 0
        return
    if spec.get("paused"):
        return
    index = int(status.get("currentStepIndex") or 0)
    while index < len(steps):
        step = steps[index]
        if "pause" not in step:  # setWeight applies at once; analysis/experiment pass
            index += 1
            # Argo keeps controllerPause only while a pause condition exists: a pause
            # cleared by a user completes the pause step the controller paused at, no other.
            status.pop("controllerPause", None)
            continue
        conditions = [c for c in status.get("pauseConditions") or []
                      if c.get("reason") == PAUSE_STEP]
        if conditions:
            duration = pause_seconds((step.get("pause") or {}).get("duration"))
            started = datetime.strptime(conditions[0]["startTime"], "%Y-%m-%dT%H:%M:%SZ") \
                .replace(tzinfo=UTC)
            if duration is None or (datetime.now(UTC) - started).total_seconds() < duration:
                break
            status.pop("pauseConditions", None)
            status.pop("controllerPause", None)
            index += 1
            continue
        if status.get("controllerPause"):  # our pause condition was cleared: promoted
            status.pop("controllerPause", None)
            index += 1
            continue
        status["pauseConditions"] = [{"reason": PAUSE_STEP, "startTime": _now()}]
        status["controllerPause"] = True
        break
    status["currentStepIndex"] = index
    if index >= len(steps):
        status["stableRS"] = status["currentPodHash"]


def _set_weights(spec: JSON, status: JSON) -> None:
    """status.canary.weights as Argo's traffic routing reports them (canary 0 once stable)."""
    canary = spec.get("strategy", {}).get("canary", {})
    if not canary.get("trafficRouting"):
        status.pop("canary", None)
        return
    steps = canary.get("steps") or []
    promoted = status.get("stableRS") == status.get("currentPodHash")
    weight = 0 if promoted or status.get("abort") else \
        _set_weight_at(steps, int(status.get("currentStepIndex") or 0))
    status["canary"] = {"weights": {
        "canary": {"weight": weight, "podTemplateHash": status.get("currentPodHash"),
                   "serviceName": canary.get("canaryService")},
        "stable": {"weight": 100 - weight, "podTemplateHash": status.get("stableRS"),
                   "serviceName": canary.get("stableService")},
    }}


def _set_replicas(spec: JSON, status: JSON, *, canary_ready: bool) -> None:
    """status.replicas, updatedReplicas and availableReplicas as calculateBaseStatus
    (rollout/sync.go) counts them: the canary at ceil(weight x spec.replicas / 100) pods
    and the stable at the rest (CalculateReplicaCountsForBasicCanary, reduced), all pods
    of the new ReplicaSet once stable; canary pods that are not ready yet are counted but
    not available, and the stable keeps every pod until they are."""
    total = int(spec.get("replicas") or 1)
    if status.get("stableRS") == status.get("currentPodHash"):
        canary = total
    elif status.get("abort"):
        canary = 0
    else:
        steps = spec.get("strategy", {}).get("canary", {}).get("steps") or []
        canary = -(-_set_weight_at(steps, int(status.get("currentStepIndex") or 0))
                   * total // 100)
    stable = total - canary if canary_ready else total
    status.update(replicas=stable + canary, updatedReplicas=canary,
                  availableReplicas=stable + (canary if canary_ready else 0))


def _new_revision_weight(obj: JSON) -> int:
    """The share of live requests the new revision gets, as the controller left the
    traffic: with traffic routing the weight in status.canary.weights while it names the
    new pod hash (0 before: the router still points at stable), without it the step's
    weight once the canary's pods are available (the Service spreads requests over ready
    pods; the splitter idealises their share as the weight)."""
    status = obj["status"]
    if status.get("stableRS") == status.get("currentPodHash"):
        return 100
    if status.get("abort"):
        return 0
    canary = obj["spec"].get("strategy", {}).get("canary", {})
    if canary.get("trafficRouting"):
        weights = (status.get("canary") or {}).get("weights", {}).get("canary", {})
        fresh = weights.get("podTemplateHash") == status.get("currentPodHash")
        return int(weights.get("weight") or 0) if fresh else 0
    pods = int(status.get("replicas") or 0)
    ready = int(status.get("availableReplicas") or 0) - pods \
        + int(status.get("updatedReplicas") or 0)
    return _set_weight_at(canary.get("steps") or [], int(status.get("currentStepIndex") or 0)) \
        if ready > 0 else 0


def _invalid_spec(canary: JSON) -> str:
    """The first error of ValidateRolloutStrategyCanary (pkg/apis/rollouts/validation/
    validation.go, v1.10) for what is emulated: pause durations, setCanaryScale and
    setMirrorRoute (Istio or a traffic-router plugin; Istio only before v1.10)."""
    routing = canary.get("trafficRouting")
    managed = {r.get("name") for r in (routing or {}).get("managedRoutes") or []}
    for index, step in enumerate(canary.get("steps") or []):
        where = f"spec.strategy.canary.steps[{index}]"
        pause = step.get("pause")
        if isinstance(pause, dict) and (pause_seconds(pause.get("duration")) or 0) < 0:
            return (f"{where}.pause.duration: Invalid value: -1: Duration needs to be "
                    "greater than 0")
        if "setCanaryScale" in step and not routing:
            return ("spec.strategy.canary.trafficRouting: Required value: SetCanaryScale "
                    "requires TrafficRouting to be set")
        route = step.get("setMirrorRoute")
        if route is None:
            continue
        if not routing or not (routing.get("istio") or routing.get("plugins")):
            return (f"{where}.setMirrorRoute: Invalid value: SetMirrorRoute requires "
                    "TrafficRouting, supports Istio only")
        if route.get("name") not in managed:
            return (f'{where}.setMirrorRoute: Invalid value: "{route.get("name")}": Steps '
                    "define a route that does not exist in "
                    "spec.strategy.canary.trafficRouting.managedRoutes")
    return ""


def _managed(canary: JSON) -> list[str]:
    return [str(r.get("name")) for r in (canary.get("trafficRouting") or {})
            .get("managedRoutes") or []]


def _remove_managed(vs: JSON, canary: JSON) -> None:
    istio.remove_managed_routes(vs, canary.get("steps") or [], _managed(canary))


def _set_mirror_route(vs: JSON, canary: JSON, route: JSON) -> None:
    """The canary destination as reconcileVirtualServiceMirrorRoutes picks it: the
    DestinationRule's host (the weighted route's) and canary subset, else the canary
    Service."""
    settings = canary["trafficRouting"]["istio"]
    subset = (settings.get("destinationRule") or {}).get("canarySubsetName", "")
    weighted = (settings.get("virtualService") or {}).get("routes") or []
    primary: JSON = next((r for r in vs["spec"].get("http") or []
                          if r.get("name") in weighted), {})
    host = (primary.get("route") or [{}])[0].get("destination", {}).get("host") \
        if subset else canary.get("canaryService")
    istio.set_mirror_route(vs, route, weighted=weighted, canary_host=str(host),
                           canary_subset=subset, managed=_managed(canary))


def _condition(status: JSON, kind: str) -> JSON:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), {})


def _set_condition(status: JSON, kind: str, state: str, reason: str, message: str) -> None:
    """SetRolloutCondition (utils/conditions/conditions.go): unchanged when the status and
    reason are; else replaced, with lastUpdateTime now."""
    previous = _condition(status, kind)
    if previous.get("status") == state and previous.get("reason") == reason:
        return
    now = _now()
    condition = {"type": kind, "status": state, "reason": reason, "message": message,
                 "lastUpdateTime": now,
                 "lastTransitionTime": previous.get("lastTransitionTime", now)
                 if previous.get("status") == state else now}
    status["conditions"] = [c for c in status.get("conditions") or []
                            if c.get("type") != kind] + [condition]


def _set_invalid_spec(obj: JSON, invalid: str) -> None:
    """createInvalidRolloutCondition (rollout/controller.go), removed once the spec is valid
    (calculateBaseStatus, rollout/sync.go)."""
    status = obj["status"]
    if not invalid:
        status["conditions"] = [c for c in status.get("conditions") or []
                                if c.get("type") != "InvalidSpec"]
        return
    message = f'The Rollout "{obj["metadata"]["name"]}" is invalid: {invalid}'
    if _condition(status, "InvalidSpec").get("message") != message:
        status["conditions"] = [c for c in status.get("conditions") or []
                                if c.get("type") != "InvalidSpec"]
    _set_condition(status, "InvalidSpec", "True", "InvalidSpec", message)


def _set_progressing(obj: JSON) -> None:
    """The Progressing condition as checkPausedConditions and calculateRolloutConditions
    (rollout/sync.go) leave it after a reconcile: RolloutAborted while aborted, RolloutRetry
    on the first reconcile after an abort is cleared, RolloutPaused at a pause,
    NewReplicaSetAvailable once fully promoted, else ReplicaSetUpdated."""
    spec, status = obj["spec"], obj["status"]
    revision = obj["metadata"].get("annotations", {}).get(REVISION, "1")
    replica_set = f'{obj["metadata"]["name"]}-{status.get("currentPodHash")}'
    previous = _condition(status, "Progressing").get("reason")
    if status.get("abort"):
        _set_condition(status, "Progressing", "False", "RolloutAborted",
                       f"Rollout aborted update to revision {revision}")
    elif previous == "RolloutAborted":
        _set_condition(status, "Progressing", "Unknown", "RolloutRetry",
                       "Retrying Rollout after abort")
    elif status.get("stableRS") == status.get("currentPodHash"):
        _set_condition(status, "Progressing", "True", "NewReplicaSetAvailable",
                       f'ReplicaSet "{replica_set}" has successfully progressed.')
    elif spec.get("paused") or status.get("pauseConditions"):
        _set_condition(status, "Progressing", "Unknown", "RolloutPaused", "Rollout is paused")
    else:
        _set_condition(status, "Progressing", "True", "ReplicaSetUpdated",
                       f'ReplicaSet "{replica_set}" is progressing.')


def _phase(obj: JSON) -> tuple[str, str]:
    """The controller-side phase (CalculateRolloutPhase in utils/rollout/rolloututil.go,
    reduced to what is emulated): a Degraded phase comes from the conditions."""
    spec, status = obj["spec"], obj["status"]
    for condition in status.get("conditions") or []:
        if condition.get("type") == "InvalidSpec":
            return "Degraded", f"InvalidSpec: {condition.get('message')}"
        if condition.get("reason") in ("RolloutAborted", "ProgressDeadlineExceeded"):
            return "Degraded", f"{condition['reason']}: {condition.get('message')}"
    if spec.get("paused"):
        return "Paused", "manually paused"
    for condition in status.get("pauseConditions") or []:
        return "Paused", str(condition.get("reason"))
    if status.get("stableRS") != status.get("currentPodHash"):
        return "Progressing", "waiting for all steps to complete"
    return "Healthy", ""
