"""Shared schema, paths and params loading for every pipeline stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PARAMS_PATH = Path("params.yaml")
DATA_DIR = Path("data")
TRAIN_PATH = DATA_DIR / "train.csv"
TEST_PATH = DATA_DIR / "test.csv"
MODEL_PATH = Path("models") / "model.pkl"
METRICS_PATH = Path("metrics.json")
PLOTS_DIR = Path("plots")

LABEL = "click"

# Integer-coded categories: one-hot encoded by the model.
CATEGORICAL_FEATURES: tuple[str, ...] = (
    "age_bucket",
    "activity_level",
    "region",
    "device",
    "category",
    "hour_of_day",
)
# Real-valued (or ordinal) columns: standardised by the model.
NUMERIC_FEATURES: tuple[str, ...] = ("price", "popularity", "position")
ALL_FEATURES: tuple[str, ...] = CATEGORICAL_FEATURES + NUMERIC_FEATURES


def load_params(path: str | Path = PARAMS_PATH) -> dict[str, Any]:
    """Read params.yaml; an empty file yields an empty dict."""
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def validate_features(features: list[str]) -> list[str]:
    """Return ``features`` unchanged, or raise if it is empty, repeats or names unknown columns."""
    if not features:
        raise ValueError("train.features must list at least one feature")
    unknown = sorted(set(features) - set(ALL_FEATURES))
    if unknown:
        raise ValueError(f"unknown feature(s) in train.features: {unknown}; known: {ALL_FEATURES}")
    if len(set(features)) != len(features):
        raise ValueError(f"train.features has duplicates: {features}")
    return list(features)
