"""Reach the Kubernetes API with the official client: credentials, retries, clean errors.

Credentials, first found wins: `--kubeconfig PATH`; `KUBECONFIG_DATA` (a kubeconfig
passed as a CI secret, base64 or raw YAML); `KUBECONFIG`; `~/.kube/config`; the pod's
service account (in-cluster). Every call is bounded by modelrail's RetryPolicy; the
client's own urllib3 retries are turned off so the two do not multiply. The kubeconfig's
tokens, passwords and client keys are registered with plumbing/redact.py (and the
runner's log masking) before it is loaded, so no error message can echo them.
"""

import base64
import binascii
import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from modelrail.errors import ServiceError, UsageError
from modelrail.plumbing import runner
from modelrail.plumbing.redact import (
    excerpt,
    mask_values,
    redact_url,
    register,
    register_credentials,
)
from modelrail.plumbing.retry import RetryPolicy, TransientError, retry_or_fail
from modelrail.plumbing.textfile import is_file

JSON = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_VERBS = {"GET": "get", "PUT": "update", "PATCH": "patch"}
CONFLICT_ATTEMPTS = 5  # the kubectl-argo-rollouts plugin's bound on conflict retries
T = TypeVar("T")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str

    def rbac(self, subresource: str | None = None) -> str:
        """The name RBAC rules use: `rollouts.argoproj.io/status`."""
        return f"{self.plural}.{self.group}" + (f"/{subresource}" if subresource else "")


ROLLOUTS = Resource("argoproj.io", "v1alpha1", "rollouts")
DEPLOYMENTS = Resource("apps", "v1", "deployments")
VIRTUAL_SERVICES = Resource("networking.istio.io", "v1", "virtualservices")


class NotFoundError(UsageError):
    """404: the object (or the /status subresource) is not served."""


class ConflictError(ServiceError):
    """409, or a JSON patch's failed test (422): the object changed since it was read;
    read it again and retry."""


def retry_conflicts(attempt: Callable[[], T], what: str, log: Callable[[str], None]) -> T:
    """`attempt()` (a read, then a write that fails on a changed object), again from the
    read while it conflicts, a bounded number of times."""
    for number in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return attempt()
        except ConflictError as conflict:
            log(f"{conflict}; reading it again (attempt {number} of {CONFLICT_ATTEMPTS})")
    raise ServiceError(f"{what}: the object kept changing under us (conflict "
                       f"{CONFLICT_ATTEMPTS} times)")


@dataclass(frozen=True)
class Call:
    """One API request, described for error messages."""

    method: str
    resource: Resource
    namespace: str
    name: str
    subresource: str | None = None

    @property
    def verb(self) -> str:
        return _VERBS[self.method]

    def __str__(self) -> str:
        return f"{self.verb} {self.resource.rbac(self.subresource)} {self.namespace}/{self.name}"


class KubeApi:
    """GET, merge-PATCH and JSON-PATCH of namespaced objects as plain dicts (no model round
    trip)."""

    def __init__(self, api_client: client.ApiClient, server: str, policy: RetryPolicy) -> None:
        self._api = client.CustomObjectsApi(api_client)
        self.server = server
        self.policy = policy
        self._timeout = policy.timeout  # validated > 0 by RetryPolicy: never unbounded

    def get(self, resource: Resource, namespace: str, name: str) -> JSON:
        call = Call("GET", resource, namespace, name)
        return self._run(call, lambda: self._api.get_namespaced_custom_object(
            resource.group, resource.version, namespace, resource.plural, name,
            _request_timeout=self._timeout))

    def patch(self, resource: Resource, namespace: str, name: str, body: JSON,
              subresource: str | None = None) -> JSON:
        """A JSON merge patch (RFC 7386) of the object or of its /status."""
        return self._patch(Call("PATCH", resource, namespace, name, subresource), body,
                           MERGE_PATCH)

    def json_patch(self, resource: Resource, namespace: str, name: str,
                   operations: list[JSON]) -> JSON:
        """A JSON patch (RFC 6902) of the object; a failed `test` is a ConflictError."""
        return self._patch(Call("PATCH", resource, namespace, name), operations, JSON_PATCH)

    def _patch(self, call: Call, body: JSON | list[JSON], content_type: str) -> JSON:
        patch = self._api.patch_namespaced_custom_object_status \
            if call.subresource == "status" else self._api.patch_namespaced_custom_object
        resource = call.resource
        return self._run(call, lambda: patch(
            resource.group, resource.version, call.namespace, resource.plural, call.name,
            body, _content_type=content_type, _request_timeout=self._timeout))

    def _run(self, call: Call, request: Callable[[], object]) -> JSON:
        def attempt() -> object:
            try:
                return request()
            except ApiException as error:
                raise self._classify(call, error) from None
            except urllib3.exceptions.HTTPError as error:
                raise TransientError(str(error)) from None  # the error classes redact

        answer = retry_or_fail(attempt, self.policy,
                               f"Kubernetes API at {redact_url(self.server)}", str(call))
        if not isinstance(answer, dict):
            raise ServiceError(f"Kubernetes API at {redact_url(self.server)} answered {call} "
                               "with something that is not an object")
        return answer

    def _classify(self, call: Call, error: ApiException) -> Exception:
        status = int(error.status or 0)
        message = _status_message(error)
        where = f"in namespace {call.namespace}"
        if status == 401:
            return UsageError(f"Kubernetes API at {redact_url(self.server)} rejected the "
                              f"credentials (401 Unauthorized) for {call}: check the "
                              "kubeconfig's token or client certificate")
        if status == 403:
            plural = call.resource.plural + (f"/{call.subresource}" if call.subresource else "")
            return UsageError(
                f"forbidden: the credentials may not {call.verb} "
                f"{call.resource.rbac(call.subresource)} {where}; grant it with an RBAC rule "
                f"(apiGroups: [{call.resource.group}], resources: [{plural}], "
                f"verbs: [{call.verb}]). API server: {message}")
        if status == 404:
            return NotFoundError(f"{call.resource.rbac()} {call.namespace}/{call.name} not "
                                 f"found ({call}): {message}")
        if status == 409 or (status == 422 and "test failed" in message):
            # 422 "test failed": a JSON patch's test operation found the object changed
            return ConflictError(f"conflict on {call}: {message}")
        if status == 429 or status >= 500 or status == 0:
            return TransientError(f"HTTP {status or 'error'} on {call}: {message}")
        return UsageError(f"the Kubernetes API refused {call} (HTTP {status}): {message}")


def _status_message(error: ApiException) -> str:
    """The `message` of a Kubernetes Status body, else the HTTP reason."""
    body = error.body
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    if isinstance(body, str) and body:
        with contextlib.suppress(ValueError):
            parsed = json.loads(body)
            if isinstance(parsed, dict) and parsed.get("message"):
                return str(parsed["message"])
        return excerpt(body, 300)
    return str(error.reason or "no details")


# -- credentials -------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    api: KubeApi
    namespace: str | None  # the kubeconfig context's (or the pod's) namespace, if any
    source: str            # where the credentials came from, for messages


def connect(kubeconfig: str | None, env: Mapping[str, str] | None = None,
            policy: RetryPolicy | None = None) -> Connection:
    """Build the client from the first credentials found (see the module docstring)."""
    env = os.environ if env is None else env
    policy = policy or RetryPolicy.from_env()
    data = env.get("KUBECONFIG_DATA", "")
    register(data)
    configuration = client.Configuration()
    if kubeconfig:
        namespace = _load_file(kubeconfig, configuration, f"--kubeconfig {kubeconfig}")
        source = f"--kubeconfig {kubeconfig}"
    elif data:
        with _secret_file(data) as path:
            namespace = _load_file(str(path), configuration, "KUBECONFIG_DATA")
        source = "KUBECONFIG_DATA"
    elif env.get("KUBECONFIG"):
        namespace = _load_file(env["KUBECONFIG"], configuration, "KUBECONFIG")
        source = f"KUBECONFIG={env['KUBECONFIG']}"
    elif is_file(Path("~/.kube/config").expanduser()):
        default = str(Path("~/.kube/config").expanduser())
        namespace = _load_file(default, configuration, default)
        source = default
    elif env.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration)
        namespace = _pod_namespace()
        source = "in-cluster service account"
    else:
        raise UsageError("no Kubernetes credentials: pass --kubeconfig PATH, set KUBECONFIG "
                         "or KUBECONFIG_DATA (a kubeconfig secret, base64 or YAML), or run "
                         "in a pod with a service account")
    configuration.retries = False  # RetryPolicy owns retries
    _register_loaded(configuration)
    api = KubeApi(client.ApiClient(configuration), str(configuration.host), policy)
    return Connection(api=api, namespace=namespace, source=source)


def _load_file(path: str, configuration: client.Configuration, what: str) -> str | None:
    """Load a kubeconfig into `configuration`; the current context's namespace."""
    first = path.split(os.pathsep, maxsplit=1)[0]
    if not is_file(Path(first).expanduser()):
        raise UsageError(f"{what}: kubeconfig file {first} not found")
    for part in path.split(os.pathsep):
        _register_kubeconfig(Path(part).expanduser())
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, client_configuration=configuration, persist_config=False)
        _, context = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=path)
    except (config.ConfigException, yaml.YAMLError, OSError, KeyError, TypeError,
            ValueError) as error:
        raise UsageError(f"{what}: not a usable kubeconfig: {error}") from None
    namespace = ((context or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else None


def _register_kubeconfig(path: Path) -> None:
    """Register the credentials a kubeconfig file holds, before it is loaded (a load error
    may quote it): tokens, passwords, client keys, auth-provider tokens and secrets."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return  # the load that follows reports it
    users = document.get("users") if isinstance(document, dict) else None
    for entry in users if isinstance(users, list) else []:
        user = entry.get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            continue
        register(*(str(user.get(key) or "") for key in ("token", "client-key-data")))
        register_credentials(str(user.get("username") or ""), str(user.get("password") or ""))
        provider = (user.get("auth-provider") or {}).get("config") or {}
        if isinstance(provider, dict):
            register(*(str(value) for key, value in provider.items()
                       if "token" in str(key) or "secret" in str(key)))


def _register_loaded(configuration: client.Configuration) -> None:
    """Register what the client will send (bearer token, basic auth, the client key it
    wrote to a file) and hand their encodings to the runner's log masking."""
    register(*(str(value).split()[-1] for value in configuration.api_key.values() if value))
    register_credentials(configuration.username, configuration.password)
    if configuration.key_file:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            register(Path(configuration.key_file).read_text(encoding="utf-8").strip())
    runner.mask(mask_values())


def decode_kubeconfig_data(data: str) -> str:
    """KUBECONFIG_DATA as YAML text: base64 (with or without line breaks) or as is."""
    compact = "".join(data.split())
    with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError):
        decoded = base64.b64decode(compact, validate=True).decode("utf-8")
        if ":" in decoded:
            return decoded
    return data


@contextlib.contextmanager
def _secret_file(data: str) -> Iterator[Path]:
    """The kubeconfig in a file only this user can read, removed as soon as it is loaded."""
    descriptor, name = tempfile.mkstemp(prefix="modelrail-kubeconfig-", suffix=".yaml")
    path = Path(name)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(decode_kubeconfig_data(data))
        yield path
    finally:
        path.unlink(missing_ok=True)


def _pod_namespace() -> str | None:
    try:
        return _SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
