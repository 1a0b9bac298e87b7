"""Export the fitted pipeline (``models/model.pkl``) to ``scorer.json``; build time only.

    python -m ctr_serving.export models/model.pkl --output out/scorer.json

Needs what trained the model (scikit-learn, pandas, joblib, at the pinned versions): the
image's export stage installs them, the served image does not (the server never imports this
module). Supported: a ``Pipeline`` of
a ``ColumnTransformer`` (``OneHotEncoder(handle_unknown="ignore")`` without ``drop`` or
infrequent categories, ``StandardScaler``, ``remainder="drop"``) and a binary
``LogisticRegression``; anything else is refused by name, so a changed pipeline fails the
build instead of serving different predictions.

Before writing, the scorer is checked against the pipeline's own ``predict_proba`` on a
sample (seeded: every category of every column, unseen categories, numerics drawn around
the fitted means) plus the rows of ``--sample-csv`` when given; a difference above
``--tolerance`` (1e-9) fails. Exit codes: 0 written, 1 the check failed, 2 unsupported
pipeline or unreadable input.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from ctr_serving.scorer import (
    Block,
    FeatureKind,
    LinearScorer,
    OneHotBlock,
    StandardizeBlock,
)

TOLERANCE = 1e-9
SAMPLE_ROWS = 2000
SEED = 20240611


class ExportError(ValueError):
    """The pipeline cannot be exported faithfully; the message names the part."""


class VerificationError(ExportError):
    """The exported scorer does not reproduce the pipeline's predictions."""


def export(estimator: Any, source: Mapping[str, Any] | None = None) -> LinearScorer:
    """The fitted pipeline's parameters as a LinearScorer (not yet verified)."""
    steps = getattr(estimator, "steps", None)
    if not steps or len(steps) != 2:  # preprocess + classifier
        raise ExportError("expected a Pipeline of a ColumnTransformer and a classifier, "
                          f"got {type(estimator).__name__}")
    preprocess, classifier = steps[0][1], steps[1][1]
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        raise ExportError("the model has no feature_names_in_; fit it on a pandas DataFrame")
    features = tuple(str(name) for name in names)
    blocks = _blocks(preprocess)
    coef, intercept = _logistic(classifier, sum(block.width for block in blocks))
    return LinearScorer(features=features, kinds=_kinds(features, blocks), blocks=blocks,
                        coef=coef, intercept=intercept, source=dict(source or {}))


def _blocks(preprocess: Any) -> tuple[Block, ...]:
    if type(preprocess).__name__ != "ColumnTransformer":
        raise ExportError(f"first step is {type(preprocess).__name__}, not a ColumnTransformer")
    if preprocess.remainder != "drop":
        raise ExportError(f"ColumnTransformer remainder={preprocess.remainder!r}; only "
                          "'drop' is supported")
    blocks: list[Block] = []
    for name, transformer, columns in preprocess.transformers_:
        if transformer == "drop" or name == "remainder":
            continue
        columns = tuple(str(column) for column in columns)
        kind = type(transformer).__name__
        if kind == "OneHotEncoder":
            blocks.append(_onehot(name, transformer, columns))
        elif kind == "StandardScaler":
            blocks.append(_standardize(transformer, columns))
        else:
            raise ExportError(f"transformer {name!r} is a {kind}; only OneHotEncoder and "
                              "StandardScaler are supported")
    return tuple(blocks)


def _onehot(name: str, encoder: Any, columns: tuple[str, ...]) -> OneHotBlock:
    if encoder.handle_unknown != "ignore":
        raise ExportError(f"OneHotEncoder {name!r} handle_unknown={encoder.handle_unknown!r}; "
                          "only 'ignore' is supported")
    if getattr(encoder, "drop_idx_", None) is not None:
        raise ExportError(f"OneHotEncoder {name!r} drops categories; not supported")
    if getattr(encoder, "infrequent_categories_", None) is not None and any(
            group is not None for group in encoder.infrequent_categories_):
        raise ExportError(f"OneHotEncoder {name!r} groups infrequent categories; not supported")
    categories = tuple(tuple(np.asarray(values).tolist()) for values in encoder.categories_)
    return OneHotBlock(columns, categories)


def _standardize(scaler: Any, columns: tuple[str, ...]) -> StandardizeBlock:
    width = len(columns)
    mean = np.asarray(scaler.mean_, np.float64) if scaler.with_mean else np.zeros(width)
    scale = np.asarray(scaler.scale_, np.float64) if scaler.with_std else np.ones(width)
    return StandardizeBlock(columns, mean, scale)


def _logistic(classifier: Any, width: int) -> tuple[np.ndarray, float]:
    if type(classifier).__name__ != "LogisticRegression":
        raise ExportError(f"classifier is {type(classifier).__name__}, not LogisticRegression")
    if len(classifier.classes_) != 2:
        raise ExportError(f"LogisticRegression has {len(classifier.classes_)} classes; "
                          "only binary models are supported")
    coef = np.asarray(classifier.coef_, np.float64).reshape(-1)
    if coef.shape != (width,):
        raise ExportError(f"LogisticRegression has {coef.size} coefficients for {width} "
                          "preprocessed columns")
    return coef, float(np.asarray(classifier.intercept_).reshape(-1)[0])


def _kinds(features: Sequence[str], blocks: Sequence[Block]) -> dict[str, FeatureKind]:
    """``int``/``str`` for columns with integer/string categories, else ``float``."""
    kinds: dict[str, FeatureKind] = dict.fromkeys(features, "float")
    for block in blocks:
        if not isinstance(block, OneHotBlock):
            continue
        for column, values in zip(block.columns, block.categories, strict=True):
            dtype_kind = np.asarray(values).dtype.kind
            if dtype_kind in "iub":
                kinds[column] = "int"
            elif dtype_kind in "OUS":
                kinds[column] = "str"
    return kinds


def sample_rows(scorer: LinearScorer, count: int = SAMPLE_ROWS,
                seed: int = SEED) -> list[dict[str, Any]]:
    """Rows that exercise every parameter: each category in turn, one unseen, numerics
    drawn around the fitted means (features no block uses get small random values)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = [{} for _ in range(count)]
    for block in scorer.blocks:
        if isinstance(block, OneHotBlock):
            for column, values in zip(block.columns, block.categories, strict=True):
                choices = [*values, _unseen(values)]
                picks = rng.permutation(np.arange(count) % len(choices))  # each one in turn
                for row, pick in zip(rows, picks.tolist(), strict=True):
                    row[column] = choices[pick]
        else:
            draws = rng.normal(block.mean, np.where(block.scale > 0, block.scale, 1.0) * 2,
                               size=(count, len(block.columns)))
            for row, values in zip(rows, draws.tolist(), strict=True):
                row.update(zip(block.columns, values, strict=True))
    for row in rows:
        for feature in scorer.features:
            row.setdefault(feature, 0 if scorer.kinds[feature] == "int" else 0.5)
    return rows


def _unseen(values: Sequence[Any]) -> Any:
    if all(isinstance(value, int) for value in values):
        return max(values, default=0) + 1
    if all(isinstance(value, str) for value in values):
        return "\x00unseen"
    return max(values, default=0.0) + 1.0


def max_difference(estimator: Any, scorer: LinearScorer,
                   rows: Sequence[Mapping[str, Any]]) -> float:
    """Largest |pipeline predict_proba - scorer| over ``rows`` (a DataFrame for sklearn)."""
    dtypes = {"int": "int64", "float": "float64", "str": "object"}
    frame = pd.DataFrame.from_records(list(rows), columns=list(scorer.features))
    frame = frame.astype({name: dtypes[kind] for name, kind in scorer.kinds.items()})
    expected = np.asarray(estimator.predict_proba(frame))[:, 1]
    return float(np.max(np.abs(expected - scorer.predict_proba(rows)), initial=0.0))


def csv_rows(path: Path, scorer: LinearScorer) -> list[dict[str, Any]]:
    """The model's feature columns of a CSV (e.g. the pipeline's test set)."""
    frame = pd.read_csv(path, usecols=list(scorer.features))
    cast = {"int": int, "float": float, "str": str}
    return [{name: cast[scorer.kinds[name]](record[name]) for name in scorer.features}
            for record in frame.to_dict("records")]


def verified_export(model_path: Path, *, sample_csv: Path | None = None,
                    sample_size: int = SAMPLE_ROWS,
                    tolerance: float = TOLERANCE) -> LinearScorer:
    """Load ``model_path``, export it, and check it on the sample; ExportError on mismatch."""
    data = model_path.read_bytes()
    try:
        estimator = joblib.load(model_path)
    except Exception as exc:  # any unpickling failure means "not a usable artifact"
        raise ExportError(f"cannot load: {type(exc).__name__}: {exc}") from exc
    source = {"artifact": model_path.name, "sha256": hashlib.sha256(data).hexdigest(),
              "sklearn": sklearn.__version__}
    scorer = export(estimator, source)
    rows = sample_rows(scorer, sample_size)
    if sample_csv is not None:
        rows += csv_rows(sample_csv, scorer)
    worst = max_difference(estimator, scorer, rows)
    if not worst <= tolerance:
        raise VerificationError(f"the exported scorer differs from {model_path.name} by "
                                f"{worst:.3g} on {len(rows)} rows (tolerance {tolerance:g})")
    return replace(scorer, source={**source, "verified_rows": len(rows), "max_abs_diff": worst})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctr_serving.export",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="the fitted pipeline (joblib), models/model.pkl")
    parser.add_argument("--output", "-o", type=Path, required=True, help="scorer.json to write")
    parser.add_argument("--sample-csv", type=Path, help="extra rows to check (feature columns)")
    parser.add_argument("--sample-rows", type=int, default=SAMPLE_ROWS)
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    args = parser.parse_args(argv)
    try:
        scorer = verified_export(args.model, sample_csv=args.sample_csv,
                                 sample_size=args.sample_rows, tolerance=args.tolerance)
    except VerificationError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 1
    except (ExportError, OSError, ValueError) as exc:
        print(f"export: {args.model}: {exc}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(scorer.dumps(), encoding="utf-8")
    print(f"export: {args.output} from {args.model} ({scorer.source['sha256'][:12]}), "
          f"{len(scorer.coef)} coefficients, max |diff| {scorer.source['max_abs_diff']:.2g} "
          f"on {scorer.source['verified_rows']} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
