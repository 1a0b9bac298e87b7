"""`modelrail register`: one model version per git commit, tagged with its lineage.

Idempotent by git sha, so a re-run of a release workflow returns the version it made.
Sources (`runs:/`, MLflow 3's LoggedModels, `--model-dir` uploads): docs/mlflow.md.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelrail.errors import ExitCode, ModelrailError, UsageError
from modelrail.plumbing.textfile import is_dir
from modelrail.registry.client import NotFoundError, Registry, VersionInfo
from modelrail.registry.config import ModelPolicy
from modelrail.registry.lineage import GIT_SHA, Lineage, tag_key

if TYPE_CHECKING:
    from mlflow import MlflowClient

_ARTIFACT_PATH = re.compile(r"[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")
RUN_SOURCE_TAG = "modelrail.source"  # on runs that `register --model-dir` creates
_PARAMS_PER_BATCH = 100  # MLflow's log_batch limits
_METRICS_PER_BATCH = 1000
_MAX_PARAM_VALUE = 6000


@dataclass(frozen=True)
class ModelSource:
    """What a model version is created from."""

    uri: str
    run_id: str
    model_id: str | None = None


@dataclass(frozen=True)
class Registration:
    version: VersionInfo
    created: bool

    @property
    def model_uri(self) -> str:
        return self.version.uri

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.version.name,
            "version": self.version.version,
            "model_uri": self.model_uri,
            "created": self.created,
            "source": self.version.source,
            "run_id": self.version.run_id,
            "git_sha": self.version.tags.get(GIT_SHA),
            "tags": dict(self.version.tags),
        }


def validate_artifact_path(path: str) -> str:
    if not _ARTIFACT_PATH.fullmatch(path) or ".." in path.split("/"):
        raise UsageError(f"--artifact-path: {path!r} is not a run-relative artifact path "
                         "(letters, digits, '_', '-', '.', separated by '/')")
    return path


def register(
    registry: Registry,
    config: ModelPolicy,
    lineage: Lineage,
    *,
    run_id: str | None = None,
    model_dir: Path | None = None,
    artifact_path: str = "model",
    headline: Sequence[str] = (),
) -> Registration:
    """Create the version for `lineage.git_sha`, or return the one already registered."""
    if (run_id is None) == (model_dir is None):
        raise UsageError("pass exactly one of --run-id and --model-dir")
    validate_artifact_path(artifact_path)
    if model_dir is not None:
        _check_model_dir(model_dir)
    name = config.registry.registered_model(config.model)
    identity = {GIT_SHA: lineage.git_sha}
    existing = registry.find_versions(name, identity)
    if existing:
        if run_id is not None:
            _check_same_run(registry, existing[0], run_id, lineage.git_sha)
        return Registration(existing[0], created=False)

    if run_id is not None:
        run = get_run(registry, run_id)
        lineage = lineage.with_run_data(dict(run.data.params), dict(run.data.metrics))
        experiment_id = str(run.info.experiment_id)
    elif model_dir is not None:
        experiment_id = ensure_experiment(registry, config.registry.experiment_for(config.model))
        run_id = log_model_dir(registry, experiment_id, model_dir, artifact_path, lineage)
    else:  # pragma: no cover - excluded at the top
        raise UsageError("pass one of --run-id and --model-dir")
    source = resolve_model_source(registry, run_id, experiment_id, artifact_path)
    tags = lineage.tags()
    description = lineage.description(headline)

    def create(client: "MlflowClient") -> Any:
        return client.create_model_version(
            name, source.uri, run_id=source.run_id, tags=tags, description=description,
            await_creation_for=0, model_id=source.model_id)

    version, created = registry.ensure_version(
        name, identity, f"register {source.uri} as a version of {name}", create)
    return Registration(version, created)


class OtherRunError(ModelrailError):
    """This commit's version was registered from another run (exit 1): a re-run with the
    same run is idempotent, a different run is not silently ignored."""

    exit_code = ExitCode.REJECTED


def _check_same_run(registry: Registry, version: VersionInfo, run_id: str,
                    git_sha: str) -> None:
    """Refuse `--run-id` when the version for `git_sha` came from a run of another commit.

    A re-run of the release logs the same commit again as a new run: that run carries the
    commit's `git_sha` tag, and the version already registered stands (idempotent).
    """
    if version.run_id == run_id:
        return
    registered = (f"version {version.version} of {version.name} is registered for git "
                  f"{git_sha[:12]} from run {version.run_id or '(none)'}")
    run = get_run(registry, run_id, context=registered)  # a run that does not exist: exit 2
    if _run_commit(run) == git_sha:
        return
    raise OtherRunError(f"{registered}, not run {run_id}; nothing created (one version per "
                        "commit: register the other run from its own commit)")


def _run_commit(run: Any) -> str | None:
    """The commit a run was logged from: modelrail's `git_sha` tag, else MLflow's own."""
    tags: Mapping[str, str] = run.data.tags
    return tags.get(GIT_SHA) or tags.get("mlflow.source.git.commit")


def _check_model_dir(model_dir: Path) -> None:
    if not is_dir(model_dir):
        raise UsageError(f"--model-dir {model_dir}: not a directory")
    if not any(p.is_file() for p in model_dir.rglob("*")):
        raise UsageError(f"--model-dir {model_dir}: the directory has no files")


def get_run(registry: Registry, run_id: str, *, source: str = "--run-id",
            context: str = "") -> Any:
    """The run, or a UsageError naming where `run_id` came from (`source`: the flag or
    the file) and `context`, when given."""
    also = f" ({context})" if context else ""
    if not re.fullmatch(r"[0-9a-zA-Z_\-]+", run_id):
        raise UsageError(f"{source}: {run_id!r} is not an MLflow run id{also}")
    try:
        return registry.call(f"read run {run_id}", lambda c: c.get_run(run_id))
    except NotFoundError:
        raise UsageError(f"{source} {run_id}: no such run on the tracking server{also}") \
            from None


def ensure_experiment(registry: Registry, name: str) -> str:
    """The id of experiment `name`, created when missing (tolerating a concurrent create)."""

    def operation(client: "MlflowClient") -> Any:
        from mlflow.exceptions import MlflowException  # noqa: PLC0415

        found = client.get_experiment_by_name(name)
        if found is None:
            try:
                return client.create_experiment(name)
            except MlflowException as error:
                found = client.get_experiment_by_name(name)
                if error.error_code != "RESOURCE_ALREADY_EXISTS" or found is None:
                    raise
        if found.lifecycle_stage == "deleted":
            raise UsageError(f"experiment {name!r} is deleted on the tracking server; restore "
                             "it or set registry.experiment to another name")
        return found.experiment_id

    return str(registry.call(f"find or create experiment {name!r}", operation))


def log_model_dir(registry: Registry, experiment_id: str, model_dir: Path,
                  artifact_path: str, lineage: Lineage) -> str:
    """Upload `model_dir` to the run for this git sha (created once) and finish the run."""
    query = (f"tags.{GIT_SHA} = '{lineage.git_sha}' and "
             f"tags.`{RUN_SOURCE_TAG}` = 'model-dir'")
    runs = registry.call("look for this commit's upload run",
                         lambda c: c.search_runs([experiment_id], filter_string=query,
                                                 max_results=1))
    if runs:
        run_id = str(runs[0].info.run_id)
    else:
        tags = {GIT_SHA: lineage.git_sha, "mlflow.source.git.commit": lineage.git_sha,
                RUN_SOURCE_TAG: "model-dir"}
        run_name = f"register-{lineage.git_sha[:12]}"
        run = registry.call("create the upload run",
                            lambda c: c.create_run(experiment_id, tags=tags, run_name=run_name))
        run_id = str(run.info.run_id)
        _log_run_data(registry, run_id, lineage.params, lineage.metrics)
    registry.call(f"upload {model_dir} to run {run_id}",
                  lambda c: c.log_artifacts(run_id, str(model_dir), artifact_path))
    registry.call(f"finish run {run_id}", lambda c: c.set_terminated(run_id))
    return run_id


def _log_run_data(registry: Registry, run_id: str, params: Mapping[str, str],
                  metrics: Mapping[str, float]) -> None:
    """Params and metrics on the run too: the gate reads a champion's metrics from its run."""
    from mlflow.entities import Metric, Param  # noqa: PLC0415

    param_list = [Param(tag_key("", k), v[:_MAX_PARAM_VALUE]) for k, v in params.items()]
    metric_list = [Metric(tag_key("", k), v, 0, 0) for k, v in metrics.items()]
    for start in range(0, len(param_list), _PARAMS_PER_BATCH):
        _log_batch(registry, run_id, params=param_list[start:start + _PARAMS_PER_BATCH])
    for start in range(0, len(metric_list), _METRICS_PER_BATCH):
        _log_batch(registry, run_id, metrics=metric_list[start:start + _METRICS_PER_BATCH])


def _log_batch(registry: Registry, run_id: str, params: Sequence[Any] = (),
               metrics: Sequence[Any] = ()) -> None:
    registry.call(f"log params and metrics to run {run_id}",
                  lambda c: c.log_batch(run_id, metrics=list(metrics), params=list(params)))


def resolve_model_source(registry: Registry, run_id: str, experiment_id: str,
                         artifact_path: str) -> ModelSource:
    """The run's LoggedModel named `artifact_path` (MLflow 3), else `runs:/<run>/<path>`.

    This is `mlflow.register_model`'s choice, made without its private helpers: MLflow
    3.17's `list_artifacts(run, "model")` also lists a LoggedModel's files, so the logged
    model is looked up first and the run's own artifacts only when there is none.
    """
    logged = registry.call(f"find the logged model {artifact_path!r} of run {run_id}",
                           lambda c: _logged_models(c, experiment_id, run_id, artifact_path))
    if logged:
        newest = max(logged, key=lambda m: int(m.creation_timestamp or 0))
        return ModelSource(f"models:/{newest.model_id}", run_id, str(newest.model_id))
    artifacts = registry.call(f"list artifacts of run {run_id}",
                              lambda c: c.list_artifacts(run_id, artifact_path))
    if artifacts:
        return ModelSource(f"runs:/{run_id}/{artifact_path}", run_id)
    raise UsageError(f"run {run_id} has no model at {artifact_path!r}: no artifacts under "
                     f"{artifact_path}/ and no logged model named {artifact_path!r} "
                     "(check --artifact-path)")


def _logged_models(client: "MlflowClient", experiment_id: str, run_id: str,
                   name: str) -> list[Any]:
    found: list[Any] = []
    token = None
    while True:
        page = client.search_logged_models(
            experiment_ids=[experiment_id],
            filter_string=f"name = '{name}' AND source_run_id = '{run_id}'",
            page_token=token)
        found.extend(m for m in page if m.source_run_id == run_id)
        token = page.token
        if not token:
            return found
