"""Stage ``train``: fit the CTR classifier on ``train.features`` and save it.

The model is one scikit-learn ``Pipeline`` (one-hot categoricals + standardised numerics ->
logistic regression) so that preprocessing travels with it into MLflow and serving. It is
built only from stock scikit-learn classes, which lets MLflow store it in the safe ``skops``
format without widening the trusted-types list.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ctr_model.common import (
    CATEGORICAL_FEATURES,
    LABEL,
    MODEL_PATH,
    PARAMS_PATH,
    TRAIN_PATH,
    load_params,
    validate_features,
)


def build_model(train_params: dict[str, Any]) -> Pipeline:
    """An unfitted pipeline for the ``train`` section of params.yaml."""
    features = validate_features(list(train_params["features"]))
    categorical = [f for f in features if f in CATEGORICAL_FEATURES]
    numeric = [f for f in features if f not in CATEGORICAL_FEATURES]
    transformers: list[tuple[str, Any, list[str]]] = []
    if categorical:
        transformers.append(("onehot", OneHotEncoder(handle_unknown="ignore"), categorical))
    if numeric:
        transformers.append(("scale", StandardScaler(), numeric))
    classifier = LogisticRegression(
        C=float(train_params.get("C", 1.0)),
        l1_ratio=float(train_params.get("l1_ratio", 0.0)),
        max_iter=int(train_params.get("max_iter", 500)),
        class_weight=train_params.get("class_weight"),
        # saga is the lbfgs alternative that supports an L1 share; pick it only when needed.
        solver="saga" if float(train_params.get("l1_ratio", 0.0)) > 0 else "lbfgs",
    )
    return Pipeline(
        [("preprocess", ColumnTransformer(transformers, remainder="drop")), ("clf", classifier)]
    )


def train(df: pd.DataFrame, train_params: dict[str, Any]) -> Pipeline:
    """Fit on exactly the configured features (so ``feature_names_in_`` is the model's input)."""
    features = validate_features(list(train_params["features"]))
    model = build_model(train_params)
    model.fit(df[features], df[LABEL])
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=PARAMS_PATH)
    parser.add_argument("--train", type=Path, default=TRAIN_PATH)
    parser.add_argument("--model-out", type=Path, default=MODEL_PATH)
    args = parser.parse_args(argv)

    train_params = load_params(args.params)["train"]
    df = pd.read_csv(args.train)
    model = train(df, train_params)
    args.model_out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, args.model_out)
    print(f"train: fitted on {len(df)} rows, features={list(model.feature_names_in_)}")


if __name__ == "__main__":
    main()
