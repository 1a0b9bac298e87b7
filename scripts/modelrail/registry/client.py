"""The MLflow model registry, through mlflow-skinny, with bounded retries.

MLflow's own HTTP retries are turned down to none so that one policy (RetryPolicy)
decides how long a command waits before failing closed with exit 3. MLflow's error text
may quote the server's answer (which can echo the Authorization header): the error
classes redact it (plumbing/redact.py knows MLFLOW_TRACKING_* and the URI's userinfo).
"""

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from modelrail.errors import ModelrailError, UsageError
from modelrail.plumbing.redact import redact_url, register_url
from modelrail.plumbing.retry import RetryPolicy, TransientError, retry_or_fail

if TYPE_CHECKING:
    from mlflow import MlflowClient

T = TypeVar("T")

_ALIAS = re.compile(r"^[\w\-]+$")
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class ModelRef:
    """`name@alias`, also accepted as `models:/name@alias`."""

    name: str
    alias: str

    @classmethod
    def parse(cls, value: str, flag: str = "--champion-model") -> "ModelRef":
        text = value.removeprefix("models:/")
        name, sep, alias = text.rpartition("@")
        if not sep or not name or not alias:
            raise UsageError(f"{flag}: expected NAME@ALIAS, got {value!r}")
        validate_alias(alias, flag)
        return cls(name, alias)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"


def validate_alias(alias: str, field: str) -> None:
    """MLflow's alias rules: `^[\\w\\-]*$`, and `latest` / `v<digits>` are reserved."""
    if not _ALIAS.match(alias) or _RESERVED_ALIAS.match(alias):
        raise UsageError(f"{field}: {alias!r} is not a valid MLflow alias "
                         "(letters, digits, '_' and '-'; not 'latest' or 'v<number>')")


class NotFoundError(ModelrailError):
    """The registry has no such model, version, alias or run."""


@dataclass(frozen=True)
class VersionInfo:
    """One registered model version, as modelrail reads it (plain types, no mlflow)."""

    name: str
    version: int
    tags: Mapping[str, str] = field(default_factory=dict)
    run_id: str | None = None
    source: str = ""
    model_id: str | None = None
    description: str = ""

    @classmethod
    def from_mlflow(cls, version: Any) -> "VersionInfo":
        return cls(
            name=str(version.name),
            version=int(version.version),
            tags=dict(version.tags or {}),
            run_id=version.run_id or None,
            source=str(version.source or ""),
            model_id=getattr(version, "model_id", None) or None,
            description=str(version.description or ""),
        )

    @property
    def ref(self) -> str:
        """`name/version`: how one version names another in tags."""
        return f"{self.name}/{self.version}"

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def _quote(value: str, what: str) -> str:
    """A value for an MLflow search filter; quotes inside cannot be escaped, so refuse them."""
    if "'" in value or "\\" in value:
        raise UsageError(f"{what}: {value!r} cannot be searched for (contains a quote)")
    return f"'{value}'"


class Registry:
    """The registry calls modelrail makes, each with retries and clean errors."""

    def __init__(self, tracking_uri: str, policy: RetryPolicy | None = None) -> None:
        self.tracking_uri = tracking_uri
        register_url(tracking_uri)
        self.policy = policy or RetryPolicy.from_env()
        self._client = _make_client(tracking_uri, self.policy)

    def call(self, what: str, operation: Callable[["MlflowClient"], T]) -> T:
        """Run one client operation; NotFoundError, UsageError or ServiceError on failure."""
        def attempt() -> T:
            try:
                return operation(self._client)
            except Exception as error:
                raise _classify(error, what) from error

        return retry_or_fail(attempt, self.policy, f"MLflow at {redact_url(self.tracking_uri)}",
                             what)

    # -- model versions and aliases ------------------------------------------------------

    def get_version(self, name: str, version: int) -> VersionInfo | None:
        """The version, or None when the model or the version does not exist."""
        try:
            found = self.call(f"read {name} version {version}",
                              lambda c: c.get_model_version(name, str(version)))
        except NotFoundError:
            return None
        return VersionInfo.from_mlflow(found)

    def alias_holder(self, name: str, alias: str) -> VersionInfo | None:
        """The version `name@alias` points at; None when the alias or model is missing."""
        try:
            found = self.call(f"resolve models:/{name}@{alias}",
                              lambda c: c.get_model_version_by_alias(name, alias))
        except NotFoundError:
            return None
        return VersionInfo.from_mlflow(found)

    def find_versions(self, name: str, tags: Mapping[str, str]) -> list[VersionInfo]:
        """Versions of `name` carrying every tag in `tags`, oldest first."""
        clauses = [f"name = {_quote(name, 'model name')}"]
        clauses += [f"tags.`{key}` = {_quote(value, key)}" for key, value in tags.items()]
        query = " and ".join(clauses)
        found = self.call(f"search versions of {name}",
                          lambda c: list(c.search_model_versions(query)))
        return sorted((VersionInfo.from_mlflow(v) for v in found), key=lambda v: v.version)

    def ensure_version(
        self, name: str, identity: Mapping[str, str], what: str,
        create: Callable[["MlflowClient"], Any],
    ) -> tuple[VersionInfo, bool]:
        """The oldest version of `name` tagged with `identity`, else one made by `create`.

        `create` must put the `identity` tags on the version in the same request, and
        every attempt searches before it creates: a retry after a create whose answer was
        lost finds that version instead of adding a second one. Returns (version, created).
        """
        clauses = [f"name = {_quote(name, 'model name')}"]
        clauses += [f"tags.`{key}` = {_quote(value, key)}" for key, value in identity.items()]
        query = " and ".join(clauses)

        attempted = False  # a retry that finds the version found the one we created

        def operation(client: "MlflowClient") -> tuple[Any, bool]:
            nonlocal attempted
            existing = sorted(client.search_model_versions(query), key=lambda v: int(v.version))
            if existing:
                return existing[0], attempted
            attempted = True
            _create_registered_model(client, name)
            return create(client), True

        found, created = self.call(what, operation)
        return VersionInfo.from_mlflow(found), created

    def delete_version(self, name: str, version: int) -> None:
        self.call(f"delete {name} version {version}",
                  lambda c: c.delete_model_version(name, str(version)))

    def set_version_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        """One request per tag (MLflow has no batch call), in the order given."""
        for key, value in tags.items():
            self.set_version_tag(name, version, key, value)

    def set_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        self.call(f"tag {name} version {version} with {key}",
                  lambda c: c.set_model_version_tag(name, str(version), key, value))

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.call(f"set models:/{name}@{alias} to version {version}",
                  lambda c: c.set_registered_model_alias(name, alias, str(version)))

    def champion_metrics(self, ref: ModelRef) -> dict[str, float] | None:
        """Metrics of the run behind `ref`; None when the model or alias does not exist."""
        try:
            version = self.call(f"resolve {ref.uri}",
                                lambda c: c.get_model_version_by_alias(ref.name, ref.alias))
        except NotFoundError:
            return None
        run_id: str | None = version.run_id
        if not run_id:
            raise UsageError(f"{ref.uri} (version {version.version}) has no run, so it has no "
                             "metrics to compare against")
        run = self.call(f"read run {run_id}", lambda c: c.get_run(run_id))
        return {key: float(value) for key, value in run.data.metrics.items()}


def _make_client(tracking_uri: str, policy: RetryPolicy) -> "MlflowClient":
    # Our RetryPolicy owns retries; MLflow's urllib3 retries would multiply the wait.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(policy.timeout, 1))))
    try:
        from mlflow import MlflowClient  # noqa: PLC0415 - optional extra, imported on use
    except ImportError:
        raise UsageError("the MLflow registry needs the mlflow extra: "
                         "pip install 'modelrail[mlflow]'") from None
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _create_registered_model(client: "MlflowClient", name: str) -> None:
    """Create `name` unless it exists (two registrations may race to create it)."""
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def _alias_missing(error: Exception) -> bool:
    """MLflow answers an unknown alias with 400 INVALID_PARAMETER_VALUE, not 404."""
    text = str(error)
    return "alias" in text and "not found" in text


def _classify(error: Exception, what: str) -> Exception:
    """Map an MLflow client exception to retry (TransientError) or a final error (each
    redacts its message)."""
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    message = str(error)
    if not isinstance(error, MlflowException):
        return TransientError(message) if isinstance(error, OSError) else error
    status: int = error.get_http_status_code()  # type: ignore[no-untyped-call]
    if status in (401, 403):
        return UsageError(f"MLflow refused the credentials ({what}): {message}. "
                          "Check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD")
    if status == 404 or error.error_code == "RESOURCE_DOES_NOT_EXIST" or _alias_missing(error):
        return NotFoundError(f"{what}: {message}")
    if status >= 500 or status == 429:
        return TransientError(message)
    return UsageError(f"MLflow rejected the request ({what}): {message}")
