"""The served model as plain arrays: one-hot + standardise + logistic regression, numpy only.

``ctr_serving.export`` writes this artifact at image build time from the fitted scikit-learn
``Pipeline`` (``models/model.pkl``) and checks on a sample that it reproduces the pipeline's
``predict_proba`` within 1e-9; the server loads it without scikit-learn, scipy or pandas
(that stack was 270 MB of the image) and without unpickling anything.

The file (``scorer.json``) is versioned and checksummed::

    {"format": "modelrail-linear-scorer", "format_version": 1,
     "sha256": "<sha256 of the canonical JSON of `model`>",
     "model": {"features": [...], "kinds": {"region": "int", "price": "float", ...},
               "blocks": [{"kind": "onehot", "columns": [...], "categories": [[...], ...]},
                          {"kind": "standardize", "columns": [...], "mean": [...],
                           "scale": [...]}],
               "coef": [...], "intercept": -2.1,
               "source": {"artifact": "model.pkl", "sha256": "...", "sklearn": "1.9.1",
                          "verified_rows": 2000, "max_abs_diff": 1.1e-16}}}

Blocks are scored in order into one design matrix, exactly as the pipeline's
``ColumnTransformer`` concatenates its transformers; an unseen category contributes a zero
row (``OneHotEncoder(handle_unknown="ignore")``). JSON floats round-trip exactly, so the
parameters are the fitted ones bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

FORMAT = "modelrail-linear-scorer"
FORMAT_VERSION = 1
ARTIFACT_NAME = "scorer.json"

FeatureKind = Literal["int", "float", "str"]
FEATURE_KINDS: tuple[FeatureKind, ...] = ("int", "float", "str")


class ScorerFormatError(ValueError):
    """The artifact is not a scorer this server can load; the message says what is wrong."""


@dataclass(frozen=True)
class OneHotBlock:
    """One indicator column per (column, category), in the encoder's order."""

    columns: tuple[str, ...]
    categories: tuple[tuple[Any, ...], ...]
    _index: tuple[dict[Any, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        offsets = np.cumsum([0, *(len(values) for values in self.categories)])
        index = tuple({value: int(offset) + position for position, value in enumerate(values)}
                      for values, offset in zip(self.categories, offsets, strict=False))
        object.__setattr__(self, "_index", index)

    @property
    def width(self) -> int:
        return sum(len(values) for values in self.categories)

    def fill(self, rows: Sequence[Mapping[str, Any]], out: np.ndarray) -> None:
        """Set the indicator of each row's category; unseen categories stay all zero."""
        for row_number, row in enumerate(rows):
            for column, index in zip(self.columns, self._index, strict=True):
                position = index.get(row[column])
                if position is not None:
                    out[row_number, position] = 1.0

    def to_json(self) -> dict[str, Any]:
        return {"kind": "onehot", "columns": list(self.columns),
                "categories": [list(values) for values in self.categories]}


@dataclass(frozen=True)
class StandardizeBlock:
    """``(x - mean) / scale`` per column, in the order StandardScaler applies them."""

    columns: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray

    @property
    def width(self) -> int:
        return len(self.columns)

    def fill(self, rows: Sequence[Mapping[str, Any]], out: np.ndarray) -> None:
        values = np.array([[row[column] for column in self.columns] for row in rows],
                          dtype=np.float64).reshape(len(rows), len(self.columns))
        values -= self.mean
        values /= self.scale
        out[:, :] = values

    def to_json(self) -> dict[str, Any]:
        return {"kind": "standardize", "columns": list(self.columns),
                "mean": self.mean.tolist(), "scale": self.scale.tolist()}


Block = OneHotBlock | StandardizeBlock


@dataclass(frozen=True)
class LinearScorer:
    """A logistic regression over the concatenated blocks; the model's input schema."""

    features: tuple[str, ...]
    kinds: Mapping[str, FeatureKind]
    blocks: tuple[Block, ...]
    coef: np.ndarray
    intercept: float
    source: Mapping[str, Any] = field(default_factory=dict)

    def decision(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """``X @ coef + intercept`` for the design matrix X of ``rows``."""
        design = np.zeros((len(rows), len(self.coef)), dtype=np.float64)
        start = 0
        for block in self.blocks:
            block.fill(rows, design[:, start:start + block.width])
            start += block.width
        result: np.ndarray = design @ self.coef + self.intercept
        return result

    def predict_proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Click probability per row: the logistic function of the decision, overflow-safe."""
        decision = self.decision(rows)
        exp_neg_abs = np.exp(-np.abs(decision))
        result: np.ndarray = np.where(decision >= 0, 1.0 / (1.0 + exp_neg_abs),
                                      exp_neg_abs / (1.0 + exp_neg_abs))
        return result

    def model_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "kinds": dict(self.kinds),
                "blocks": [block.to_json() for block in self.blocks],
                "coef": self.coef.tolist(), "intercept": self.intercept,
                "source": dict(self.source)}

    def dumps(self) -> str:
        """The artifact text: format, version, checksum and the parameters."""
        model = self.model_json()
        document = {"format": FORMAT, "format_version": FORMAT_VERSION,
                    "sha256": _checksum(model), "model": model}
        return json.dumps(document, indent=1, allow_nan=False) + "\n"


def _checksum(model: Mapping[str, Any]) -> str:
    canonical = json.dumps(model, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def loads(text: str) -> LinearScorer:
    """Parse an artifact; ScorerFormatError names the first thing that is wrong."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ScorerFormatError(f"not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ScorerFormatError(f"not a {FORMAT} artifact (`format` is missing or different)")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise ScorerFormatError(
            f"format_version {version!r} is not supported by this server (it reads "
            f"{FORMAT_VERSION}); export the model with the same ctr_serving version")
    model = _get(document, "model", dict, "")
    if document.get("sha256") != _checksum(model):
        raise ScorerFormatError("checksum mismatch: the parameters are corrupt or were edited")
    return _scorer(model)


def _get(mapping: Mapping[str, Any], key: str, kind: type | tuple[type, ...],
         where: str) -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ScorerFormatError(f"`{where}{key}` is missing or not a {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _floats(mapping: Mapping[str, Any], key: str, where: str, length: int) -> np.ndarray:
    values = _get(mapping, key, list, where)
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ScorerFormatError(f"`{where}{key}` must be a list of numbers") from None
    if array.shape != (length,) or not np.all(np.isfinite(array)):
        raise ScorerFormatError(f"`{where}{key}` must hold {length} finite numbers")
    return array


def _scorer(model: Mapping[str, Any]) -> LinearScorer:
    features = tuple(str(name) for name in _get(model, "features", list, "model."))
    kinds = _get(model, "kinds", dict, "model.")
    if set(kinds) != set(features) or any(k not in FEATURE_KINDS for k in kinds.values()):
        raise ScorerFormatError(
            f"`model.kinds` must give each feature one of {', '.join(FEATURE_KINDS)}")
    blocks = tuple(_block(raw, f"model.blocks[{n}].", set(features))
                   for n, raw in enumerate(_get(model, "blocks", list, "model.")))
    width = sum(block.width for block in blocks)
    return LinearScorer(
        features=features,
        kinds={name: kinds[name] for name in features},
        blocks=blocks,
        coef=_floats(model, "coef", "model.", width),
        intercept=float(_get(model, "intercept", (int, float), "model.")),
        source=_get(model, "source", dict, "model."),
    )


def _block(raw: Any, where: str, features: set[str]) -> Block:
    if not isinstance(raw, dict):
        raise ScorerFormatError(f"`{where.rstrip('.')}` is not an object")
    columns = tuple(_get(raw, "columns", list, where))
    unknown = [column for column in columns if column not in features]
    if unknown:
        raise ScorerFormatError(f"`{where}columns` names unknown features {unknown}")
    kind = raw.get("kind")
    if kind == "onehot":
        categories = _get(raw, "categories", list, where)
        if len(categories) != len(columns) or not all(isinstance(c, list) for c in categories):
            raise ScorerFormatError(f"`{where}categories` needs one list per column")
        return OneHotBlock(columns, tuple(tuple(values) for values in categories))
    if kind == "standardize":
        return StandardizeBlock(columns, _floats(raw, "mean", where, len(columns)),
                                _floats(raw, "scale", where, len(columns)))
    raise ScorerFormatError(f"`{where}kind` {kind!r} is not onehot or standardize")
