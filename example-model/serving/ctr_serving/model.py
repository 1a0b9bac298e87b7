"""Load the served model and describe its input; numpy only, no MLflow or scikit-learn.

The artifact is ``scorer.json`` (``ctr_serving.scorer``): the fitted scikit-learn pipeline
that ``dvc repro`` writes (``models/model.pkl``) exported to plain arrays when the image is
built (``python -m ctr_serving.export``), checked there to give the pipeline's predictions.
It carries the input schema: the feature names and the type of each (columns a fitted
encoder learned integer categories for are integers, string categories strings, all others
real numbers). Loading it runs no code from the file, unlike unpickling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AllowInfNan, ConfigDict, Strict, TypeAdapter, with_config
from typing_extensions import TypedDict

from ctr_serving.scorer import ARTIFACT_NAME, FeatureKind, LinearScorer, ScorerFormatError, loads

__all__ = ["ARTIFACT_NAME", "FeatureKind", "LoadedModel", "ModelLoadError", "load_model"]


class ModelLoadError(RuntimeError):
    """The artifact is missing or is not a usable model."""


def resolve_artifact(model_path: str | Path) -> Path:
    """``model_path`` itself if it is a file, else ``scorer.json`` inside it."""
    path = Path(model_path)
    if path.is_file():
        return path
    if path.is_dir():
        candidate = path / ARTIFACT_NAME
        if candidate.is_file():
            return candidate
        raise ModelLoadError(
            f"no {ARTIFACT_NAME} in MODEL_PATH={path} (export models/model.pkl with "
            "`python -m ctr_serving.export`)")
    raise ModelLoadError(f"MODEL_PATH={path} does not exist")


@dataclass(frozen=True)
class LoadedModel:
    """The scorer plus the request validator derived from its input schema."""

    scorer: LinearScorer
    rows_adapter: TypeAdapter[list[dict[str, Any]]]
    source: str

    @property
    def features(self) -> tuple[str, ...]:
        return self.scorer.features

    @property
    def kinds(self) -> Mapping[str, FeatureKind]:
        return self.scorer.kinds

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[float]:
        """Click probability for each validated row (the pipeline's ``predict_proba[:, 1]``)."""
        return [float(score) for score in self.scorer.predict_proba(rows)]


def load_model(model_path: str | Path) -> LoadedModel:
    artifact = resolve_artifact(model_path)
    try:
        scorer = loads(artifact.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"cannot read {artifact}: {exc}") from exc
    except ScorerFormatError as exc:
        raise ModelLoadError(f"{artifact}: {exc}") from exc
    return describe(scorer, source=str(artifact))


def describe(scorer: LinearScorer, source: str = "<memory>") -> LoadedModel:
    return LoadedModel(scorer=scorer, rows_adapter=rows_adapter_for(scorer.kinds), source=source)


_FIELD_TYPES: dict[str, Any] = {
    # Strict: no "3" -> 3 or true -> 1 coercion; a strict float still takes a JSON integer.
    "int": Annotated[int, Strict()],
    "float": Annotated[float, Strict(), AllowInfNan(False)],
    "str": Annotated[str, Strict()],
}


def rows_adapter_for(kinds: Mapping[str, FeatureKind]) -> TypeAdapter[list[dict[str, Any]]]:
    """Validates a batch of rows: every feature required, of its kind; unknown keys rejected.

    Errors are located as ``(row_index, feature)``, so a 422 names the offending feature.
    """
    row = TypedDict("Row", {name: _FIELD_TYPES[kind] for name, kind in kinds.items()})  # type: ignore[misc]
    row = with_config(ConfigDict(extra="forbid"))(row)
    return TypeAdapter(list[row])  # type: ignore[valid-type]
