"""Load the model artifact and describe its input; no MLflow at run time.

The artifact is what ``dvc repro`` writes: ``models/model.pkl``, a fitted scikit-learn
``Pipeline`` saved with ``joblib.dump``. Its input columns are ``feature_names_in_``. The
type of each column is read from the fitted pipeline: columns a fitted encoder learned
integer categories for are integers, string categories strings, all others real numbers.

Loading a pickle runs code from the file: only point ``MODEL_PATH`` at artifacts this
project built (the image copies in the one its pipeline produced).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import joblib
import numpy as np
import pandas as pd
from pydantic import AllowInfNan, ConfigDict, Strict, TypeAdapter, with_config
from typing_extensions import TypedDict

ARTIFACT_NAMES = ("model.pkl", "model.joblib")

FeatureKind = Literal["int", "float", "str"]
_PANDAS_DTYPES: dict[str, str] = {"int": "int64", "float": "float64", "str": "object"}


class ModelLoadError(RuntimeError):
    """The artifact is missing or is not a usable model."""


def resolve_artifact(model_path: str | Path) -> Path:
    """``model_path`` itself if it is a file, else the known artifact name inside it."""
    path = Path(model_path)
    if path.is_file():
        return path
    if path.is_dir():
        for name in ARTIFACT_NAMES:
            candidate = path / name
            if candidate.is_file():
                return candidate
        raise ModelLoadError(f"no {' or '.join(ARTIFACT_NAMES)} in MODEL_PATH={path}")
    raise ModelLoadError(f"MODEL_PATH={path} does not exist")


@dataclass(frozen=True)
class LoadedModel:
    """A fitted estimator plus the input schema derived from it."""

    estimator: Any
    features: tuple[str, ...]
    kinds: Mapping[str, FeatureKind]
    rows_adapter: TypeAdapter[list[dict[str, Any]]]
    source: str

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[float]:
        """Click probability for each validated row (column 1 of ``predict_proba``)."""
        frame = pd.DataFrame.from_records(list(rows), columns=list(self.features))
        frame = frame.astype({name: _PANDAS_DTYPES[kind] for name, kind in self.kinds.items()})
        if hasattr(self.estimator, "predict_proba"):
            scores = np.asarray(self.estimator.predict_proba(frame))[:, 1]
        else:
            scores = np.asarray(self.estimator.predict(frame)).reshape(len(frame))
        return [float(score) for score in scores]


def load_model(model_path: str | Path) -> LoadedModel:
    artifact = resolve_artifact(model_path)
    try:
        estimator = joblib.load(artifact)
    except Exception as exc:  # any unpickling failure means "not a usable artifact"
        raise ModelLoadError(f"cannot load {artifact}: {type(exc).__name__}: {exc}") from exc
    return describe(estimator, source=str(artifact))


def describe(estimator: Any, source: str = "<memory>") -> LoadedModel:
    """Derive the input schema of a fitted estimator that was fitted on a DataFrame."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        raise ModelLoadError(
            f"{source}: the model has no feature_names_in_; fit it on a pandas DataFrame"
        )
    if not (hasattr(estimator, "predict_proba") or hasattr(estimator, "predict")):
        raise ModelLoadError(f"{source}: {type(estimator).__name__} has no predict_proba")
    features = tuple(str(name) for name in names)
    kinds = feature_kinds(estimator, features)
    return LoadedModel(
        estimator=estimator,
        features=features,
        kinds=kinds,
        rows_adapter=rows_adapter_for(kinds),
        source=source,
    )


def feature_kinds(estimator: Any, features: Sequence[str]) -> dict[str, FeatureKind]:
    """``int``/``str`` for columns a fitted encoder holds categories for, else ``float``."""
    kinds: dict[str, FeatureKind] = dict.fromkeys(features, "float")
    for transformer, columns in _column_transformers(estimator):
        categories = getattr(transformer, "categories_", None)
        if categories is None or isinstance(columns, str):
            continue
        for column, values in zip(columns, categories, strict=False):
            if column not in kinds:
                continue
            dtype_kind = np.asarray(values).dtype.kind
            if dtype_kind in "iub":
                kinds[column] = "int"
            elif dtype_kind in "OUS":
                kinds[column] = "str"
    return kinds


def _column_transformers(estimator: Any) -> list[tuple[Any, Any]]:
    """(fitted transformer, its columns) for every ColumnTransformer in a pipeline."""
    found: list[tuple[Any, Any]] = []
    steps = getattr(estimator, "steps", None)
    candidates = [step for _, step in steps] if steps else [estimator]
    for candidate in candidates:
        for entry in getattr(candidate, "transformers_", []):
            _, transformer, columns = entry
            found.append((transformer, columns))
    return found


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
