"""Where the reference sample comes from: a local file, or an artifact of the model's
MLflow run (`runs:/<run_id>/<path>`, or `models:/<name>@<alias>` → that version's run and
the policy's `monitor.reference_artifact`)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from modelrail.errors import UsageError
from modelrail.monitor.config import MonitorConfig
from modelrail.plumbing.textfile import is_file
from modelrail.registry.client import ModelRef, NotFoundError, Registry
from modelrail.registry.config import ModelPolicy


@dataclass(frozen=True)
class Reference:
    path: Path
    version: int | None = None  # the registry version behind a models:/ reference


class MonitoredModel(ModelPolicy, Protocol):
    """What resolving a reference reads of the policy; the assembled `Config` has it."""

    @property
    def monitor(self) -> MonitorConfig | None: ...


def resolve_reference(ref: str, config: MonitoredModel, workdir: Path) -> Reference:
    """The reference sample as a local file (downloaded into `workdir` if remote)."""
    if not ref.startswith(("runs:/", "models:/")):
        path = Path(ref)
        if not is_file(path):
            raise UsageError(f"--reference {ref}: no such file")
        return Reference(path)
    monitor = config.monitor
    artifact = monitor.reference_artifact if monitor else "reference.csv"
    registry = Registry(config.registry.resolve_tracking_uri(config.source))
    run_id, name, version = _run_artifact(ref, artifact, registry)
    try:
        local = registry.call(f"download {name} of run {run_id}",
                              lambda c: c.download_artifacts(run_id, name, str(workdir)))
    except NotFoundError:
        raise UsageError(f"--reference {ref}: run {run_id} has no artifact {name!r}") from None
    return Reference(Path(local), version)


def _run_artifact(ref: str, artifact: str,
                  registry: Registry) -> tuple[str, str, int | None]:
    if ref.startswith("runs:/"):
        run_id, _, path = ref.removeprefix("runs:/").partition("/")
        if not run_id or not path:
            raise UsageError(f"--reference {ref}: expected runs:/<run_id>/<artifact path>")
        return run_id, path, None
    model = ModelRef.parse(ref, "--reference")
    version = registry.alias_holder(model.name, model.alias)
    if version is None or not version.run_id:
        raise UsageError(f"--reference {ref}: no version with a run behind {model.uri}")
    return version.run_id, artifact, version.version
