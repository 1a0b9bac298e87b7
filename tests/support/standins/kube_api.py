"""The Kubernetes API server slice every cluster stand-in serves, with the hooks for one
controller's emulation (the Argo Rollouts controller in ``rollouts.py``, KServe's and
Knative's in ``kserve.py``).

Served on 127.0.0.1 and a free port, for what the real `kubernetes` client sends:
``GET|PUT|PATCH /apis/{group}/{version}/namespaces/{ns}/{plural}/{name}`` (and
``.../status`` for the kinds that have that subresource) for the kinds a subclass lists in
``KINDS``. PATCH accepts ``application/merge-patch+json`` (RFC 7386) and
``application/json-patch+json`` (RFC 6902: a failed ``test`` answers 422), as the API
server does for custom resources (415 otherwise: no strategic merge); with the status
subresource on, a patch or update of the object ignores ``status`` and a patch of
``/status`` ignores the rest. ``metadata.resourceVersion`` changes on every write and
``metadata.generation`` on every spec change; a PUT with a stale resourceVersion answers
409 Conflict, one without any answers 422; unknown objects 404; bearer-token auth (401);
a configurable set of forbidden (verb, resource) pairs answers 403 - all with Kubernetes
``Status`` bodies. Every request is recorded (method, path, content type, parsed body,
answer status) so tests assert the exact patches.

The controller reconciles ``controller_delay`` seconds after each write, never inside it
(its informer sees the change later): the write's answer, and the next ``stale_reads``
reads until then, show the status it last wrote; a read owed no stale answer sees it
caught up (a resync). A subclass's ``_reconcile(namespace)`` does one reconcile and
queues the next with ``_wake``; its ``_admit`` may deny a write as a validating admission
webhook does (``webhook_denial``: 400, nothing stored), and ``_spec_written`` hears of
each spec change.
"""

import copy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml
from modelrail.local.loopback import JsonAnswer, LoopbackServer, json_api_handler

if TYPE_CHECKING:
    import pytest

JSON = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
CONTROLLER_DELAY = 0.05  # seconds from a write to the controller's reconcile of it
READINESS_DELAY = 0.1  # seconds from a pod's creation to its readiness
SETTLE_ROUNDS = 200  # reconciles settle() runs at most
Answer = tuple[int, Any]
Key = tuple[str, str, str]  # (plural, namespace, name)


@dataclass(frozen=True)
class Kind:
    """A kind the stand-in serves, as its CRD (or built-in type) declares it."""

    group: str
    version: str
    kind: str
    status_subresource: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    content_type: str
    body: Any  # parsed JSON; None when empty
    status: int  # what the stand-in answered



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



def status_body(code: int, reason: str, message: str, details: JSON | None = None) -> JSON:
    body: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def webhook_denial(webhook: str, message: str) -> Answer:
    """A validating admission webhook's denial as the API server answers it: 400 (a code
    below 400 becomes 400, k8s.io/apiserver/pkg/admission/plugin/webhook/errors/
    statuserror.go) and ``admission webhook "<name>" denied the request: <message>``."""
    return 400, status_body(400, "BadRequest",
                            f'admission webhook "{webhook}" denied the request: {message}')


def _details(route: re.Match[str]) -> JSON:
    return {"name": route["name"], "group": route["group"], "kind": route["plural"]}


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")



@dataclass
class ApiState:
    """What the API server holds and the faults tests asked for."""

    objects: dict[Key, JSON] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    forbidden: set[tuple[str, str]] = field(default_factory=set)
    conflicts: int = 0
    failures: int = 0
    version: int = 1000
    wakes: list[tuple[float, str, threading.Timer]] = field(default_factory=list)
    stale_reads: dict[str, int] = field(default_factory=dict)  # namespace → reads owed
    never_ready: set[str] = field(default_factory=set)  # images whose pods never get ready


class KubeApiStandIn(LoopbackServer):
    """A threaded HTTP server on 127.0.0.1 (free port); use as a context manager.

    A subclass lists the kinds it serves in KINDS (plural → Kind), names the one its
    controller reconciles in CONTROLLED, and implements `_reconcile`."""

    KINDS: ClassVar[dict[str, Kind]] = {}
    CONTROLLED: ClassVar[str] = ""

    def __init__(self, token: str = "standin-token",  # noqa: S107 - a test token
                 controller_delay: float = CONTROLLER_DELAY, stale_reads: int | None = 1,
                 status_subresource: bool = True,
                 user: str = "system:serviceaccount:ci:modelrail",
                 readiness_delay: float = READINESS_DELAY) -> None:
        self.token = token
        self.controller_delay = controller_delay
        self.readiness_delay = readiness_delay  # from a pod's creation to its readiness
        self.stale_reads = stale_reads  # reads after a write that still see the old status
        self.status_subresource = status_subresource
        self.user = user
        self._state = self._new_state()
        self._lock = threading.RLock()
        self._path = _path_pattern(self.KINDS)
        super().__init__(json_api_handler(self._json_answer,
                                          ("GET", "PUT", "PATCH", "POST", "DELETE")))

    def _new_state(self) -> ApiState:
        return ApiState()

    def _reconcile(self, namespace: str) -> bool:
        """One reconcile of each controlled object in `namespace`; True when a status
        changed."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        return self.address

    def stop(self) -> None:
        with self._lock:
            for _, _, timer in self._state.wakes:
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


    def _create(self, plural: str, namespace: str, name: str, spec: JSON,
                annotations: JSON | None = None) -> JSON:
        kind = self.KINDS[plural]
        with self._lock:
            self._state.version += 1
            obj: JSON = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {
                "name": name, "namespace": namespace, "uid": f"uid-{self._state.version}",
                "generation": 1, "resourceVersion": str(self._state.version),
                "creationTimestamp": now_text()}, "spec": spec, "status": {}}
            if annotations:
                obj["metadata"]["annotations"] = annotations
            self._state.objects[(plural, namespace, name)] = obj
            for _ in range(SETTLE_ROUNDS):  # applied long ago: its pods are ready
                if not self._reconcile(namespace):
                    break
            return copy.deepcopy(self._state.objects[(plural, namespace, name)])

    # -- inspection and faults -----------------------------------------------------------

    def get(self, plural: str, namespace: str, name: str) -> JSON:
        with self._lock:
            return copy.deepcopy(self._state.objects[(plural, namespace, name)])

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
        """Answer 403 to `verb` (get|update|patch) on `resource` (`rollouts/status`,
        `inferenceservices`, ...)."""
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

    def never_ready(self, image: str) -> None:
        """Pods running `image` never pass their readiness probe (from now on)."""
        with self._lock:
            self._state.never_ready.add(image)

    def settle(self) -> None:
        """Let the controller catch up now: reconcile, one step at a time, until nothing
        changes, waiting for pods that become ready within the readiness delay (never for
        timed pauses or progress deadlines, which stay scheduled)."""
        for _ in range(SETTLE_ROUNDS):
            with self._lock:
                for _, _, timer in self._state.wakes:
                    timer.cancel()
                self._state.wakes.clear()
                self._state.stale_reads.clear()
                namespaces = {ns for plural, ns, _ in self._state.objects
                              if plural == self.CONTROLLED}
                changed = [self._reconcile(ns) for ns in sorted(namespaces)]
                soon = [at - time.monotonic() for at, _, _ in self._state.wakes]
            if any(changed):
                continue
            pods = max(self.readiness_delay, self.controller_delay)
            waits = [w for w in soon if w <= pods]
            if not waits:
                return
            time.sleep(max(min(waits), 0.0) + 0.001)


    # -- HTTP ----------------------------------------------------------------------------

    def _json_answer(self, method: str, path: str, headers: dict[str, str],
                     body: bytes) -> JsonAnswer:
        status, payload = self._handle(method, path, headers, body)
        return status, {}, payload

    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Answer:
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
                body: Any) -> Answer:
        route = self._path.match(path)
        refused = self._auth_and_faults(headers) or self._route_refusal(method, route)
        if refused is not None or route is None:
            return refused or (404, status_body(404, "NotFound", "no route"))
        key = (route["plural"], route["ns"], route["name"])
        current = self._state.objects.get(key)
        if current is None:
            return 404, status_body(404, "NotFound", f'{route["plural"]}.{route["group"]} '
                                f'"{route["name"]}" not found', _details(route))
        if method == "GET":
            self._read(route["ns"])
            return 200, copy.deepcopy(self._state.objects[key])
        return self._write(method, key, current, content_type, body, bool(route["sub"]))

    def _auth_and_faults(self, headers: dict[str, str]) -> Answer | None:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, status_body(401, "Unauthorized", "Unauthorized")
        if self._state.failures > 0:
            self._state.failures -= 1
            return 500, status_body(500, "InternalError", "Internal error occurred: injected")
        return None

    def _route_refusal(self, method: str, route: re.Match[str] | None) -> Answer | None:
        """404 for what is not served, 405, and 403 for the forbidden (verb, resource)."""
        unknown = status_body(404, "NotFound", "the server could not find the requested resource")
        if route is None:
            return 404, unknown
        kind = self.KINDS[route["plural"]]
        if (route["group"], route["version"]) != (kind.group, kind.version):
            return 404, unknown  # a kind under another group or version
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch"}.get(method)
        if verb is None:
            return 405, status_body(405, "MethodNotAllowed", f"{method} is not supported here")
        plural, group = route["plural"], route["group"]
        resource = plural + ("/status" if route["sub"] else "")
        if (verb, resource) in self._state.forbidden:
            return 403, status_body(403, "Forbidden", (
                f'{plural}.{group} "{route["name"]}" is forbidden: User "{self.user}" cannot '
                f'{verb} resource "{resource}" in API group "{group}" in the namespace '
                f'"{route["ns"]}"'), _details(route))
        if route["sub"] and not (self.KINDS[plural].status_subresource
                                 and self.status_subresource):
            return 404, unknown
        return None

    def _write(self, method: str, key: Key, current: JSON, content_type: str,
               body: Any, status_only: bool) -> Answer:
        if method == "PATCH" and content_type == JSON_PATCH:
            return self._json_patch(key, current, body, status_only)
        if not isinstance(body, dict):
            return 400, status_body(400, "BadRequest", "the request body is not a JSON object")
        if method == "PATCH" and content_type != MERGE_PATCH:
            return 415, status_body(415, "UnsupportedMediaType", (
                f"the body of the request was in an unknown format - accepted media types "
                f"include: application/json-patch+json, {MERGE_PATCH}, "
                "application/apply-patch+yaml"))
        if method == "PUT" and content_type not in ("", "application/json"):
            return 415, status_body(415, "UnsupportedMediaType", f"{content_type} is not "
                                "accepted for an update; send application/json")
        refused = None if method == "PATCH" else self._check_put(key, current, body)
        if refused is not None:
            return refused
        updated = merge_patch(current, body) if method == "PATCH" else copy.deepcopy(body)
        return self._commit(key, current, updated, status_only)

    def _commit(self, key: Key, current: JSON, updated: JSON,
                status_only: bool) -> Answer:
        denied = self._admit(key, updated)
        if denied is not None:
            return denied
        self._store(key, current, updated, status_only=status_only)
        result = copy.deepcopy(self._state.objects[key])
        self._after_write(key[1])
        return 200, result

    def _json_patch(self, key: Key, current: JSON, body: Any,
                    status_only: bool) -> Answer:
        """RFC 6902, as the API server applies it (k8s.io/apiserver .../handlers/patch.go):
        a malformed patch is 400, an operation that fails (a `test` included) is 422."""
        if not isinstance(body, list) or not all(isinstance(op, dict) for op in body):
            return 400, status_body(400, "BadRequest", "json: cannot unmarshal object into Go "
                                "value of type jsonpatch.Patch")
        self._interfere(current)
        try:
            updated = json_patch(current, body)
        except ValueError as error:
            return 422, status_body(422, "Invalid", str(error))
        return self._commit(key, current, updated, status_only)

    def _interfere(self, current: JSON) -> None:
        """Another writer gets there first, when tests asked for it."""
        if self._state.conflicts > 0:
            self._state.conflicts -= 1
            annotations = current["metadata"].setdefault("annotations", {})
            annotations["standin/concurrent-writes"] = str(
                int(annotations.get("standin/concurrent-writes", "0")) + 1)
            self._bump(current)

    def _check_put(self, key: Key, current: JSON, body: JSON) -> Answer | None:
        plural, _, name = key
        self._interfere(current)
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if not wanted:
            return 422, status_body(422, "Invalid", (
                f'{self.KINDS[plural].kind} "{name}" is invalid: metadata.resourceVersion: '
                "Invalid value: 0x0: must be specified for an update"))
        if wanted != current["metadata"]["resourceVersion"]:
            group = self.KINDS[plural].group
            return 409, status_body(409, "Conflict", (
                f'Operation cannot be fulfilled on {plural}.{group} "{name}": the object has '
                "been modified; please apply your changes to the latest version and try "
                "again"), {"name": name, "group": group, "kind": plural})
        return None

    def _store(self, key: Key, current: JSON, updated: JSON,
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
                self._spec_written(key)
        if new != current:
            self._bump(new)
        self._state.objects[key] = new

    def _admit(self, key: Key, updated: JSON) -> Answer | None:
        """A validating admission webhook's verdict on a write of `key` that would store
        `updated` (`webhook_denial`); None admits it. The base has no webhook."""
        return None

    def _spec_written(self, key: Key) -> None:
        """A write changed the spec of `key` (before it is stored), for a subclass whose
        controller times its work from the write rather than from its reconcile."""

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
        self._wake(namespace, self.controller_delay)

    def _wake(self, namespace: str, delay: float) -> None:
        """Queue a reconcile of `namespace` in `delay` seconds, unless one comes sooner (the
        work queue holds a key once: rollout/controller.go, enqueueRolloutAfter)."""
        at = time.monotonic() + delay
        self._state.wakes = [w for w in self._state.wakes if w[2].is_alive()]
        if any(ns == namespace and when <= at for when, ns, _ in self._state.wakes):
            return
        timer = threading.Timer(delay, self._delayed, args=(namespace,))
        timer.daemon = True
        self._state.wakes.append((at, namespace, timer))
        timer.start()

    def _delayed(self, namespace: str) -> None:
        with self._lock:
            self._state.stale_reads.pop(namespace, None)
            self._reconcile(namespace)

    def _read(self, namespace: str) -> None:
        """A read owed a stale answer gets it; any other sees the controller caught up (as
        its resync would)."""
        if self._state.stale_reads.get(namespace, 0) > 0:
            self._state.stale_reads[namespace] -= 1
            return
        self._reconcile(namespace)



def _path_pattern(kinds: dict[str, Kind]) -> re.Pattern[str]:
    """The object paths of `kinds`, and their /status."""
    groups = "|".join(sorted({re.escape(k.group) for k in kinds.values()}))
    versions = "|".join(sorted({re.escape(k.version) for k in kinds.values()}))
    plurals = "|".join(sorted(re.escape(p) for p in kinds))
    return re.compile(
        rf"^/apis/(?P<group>{groups})/(?P<version>{versions})/namespaces/(?P<ns>[^/]+)/"
        rf"(?P<plural>{plurals})/(?P<name>[^/]+)(?P<sub>/status)?$")


def isolated_cluster_env(monkeypatch: "pytest.MonkeyPatch", *unset: str) -> None:
    """A test's environment against a stand-in: none of the caller's cluster settings (nor
    the `unset` variables), and quick, bounded retries."""
    for name in ("KUBECONFIG", "KUBECONFIG_DATA", *unset):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0.01")
