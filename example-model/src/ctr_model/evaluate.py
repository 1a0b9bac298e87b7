"""Stage ``evaluate``: score the held-out impressions, write metrics.json and plot data.

metrics.json is flat (metric name -> number) so ``dvc metrics diff`` and the modelrail gate
can address every metric by its plain name. Values are rounded to 6 decimals so that
re-running an unchanged pipeline yields a byte-identical file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
    roc_curve,
)

from ctr_model.common import LABEL, METRICS_PATH, MODEL_PATH, PLOTS_DIR, TEST_PATH

N_CALIBRATION_BINS = 10
MAX_ROC_POINTS = 100
DECIMALS = 6


def _bin_stats(y_true: np.ndarray, y_prob: np.ndarray, n_bins: int) -> list[dict[str, Any]]:
    """Per non-empty equal-width probability bin: count, mean prediction, observed rate."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # digitize on the inner edges maps p in [edges[i], edges[i+1]) to bin i, and p == 1 to the last.
    idx = np.digitize(y_prob, edges[1:-1])
    rows = []
    for b in range(n_bins):
        mask = idx == b
        count = int(mask.sum())
        if count == 0:
            continue
        rows.append(
            {
                "bin": b,
                "bin_lower": float(edges[b]),
                "bin_upper": float(edges[b + 1]),
                "count": count,
                "mean_predicted": float(y_prob[mask].mean()),
                "fraction_positive": float(y_true[mask].mean()),
            }
        )
    return rows


def expected_calibration_error(
    y_true: np.ndarray, y_prob: np.ndarray, n_bins: int = N_CALIBRATION_BINS
) -> float:
    """ECE: bin-size-weighted mean |observed rate - mean prediction| over equal-width bins."""
    y_true = np.asarray(y_true, dtype=float)
    y_prob = np.asarray(y_prob, dtype=float)
    total = len(y_prob)
    return float(
        sum(
            row["count"] / total * abs(row["fraction_positive"] - row["mean_predicted"])
            for row in _bin_stats(y_true, y_prob, n_bins)
        )
    )


def compute_metrics(y_true: np.ndarray, y_prob: np.ndarray) -> dict[str, float | int]:
    y_true = np.asarray(y_true, dtype=int)
    y_prob = np.asarray(y_prob, dtype=float)
    metrics: dict[str, float | int] = {
        "roc_auc": roc_auc_score(y_true, y_prob),
        "pr_auc": average_precision_score(y_true, y_prob),
        "log_loss": log_loss(y_true, y_prob, labels=[0, 1]),
        "brier_score": brier_score_loss(y_true, y_prob),
        "accuracy": accuracy_score(y_true, (y_prob >= 0.5).astype(int)),
        "calibration_error": expected_calibration_error(y_true, y_prob),
        "ctr": y_true.mean(),
        "mean_predicted_ctr": y_prob.mean(),
    }
    rounded: dict[str, float | int] = {k: round(float(v), DECIMALS) for k, v in metrics.items()}
    rounded["n_test"] = len(y_true)
    return rounded


def roc_points(
    y_true: np.ndarray, y_prob: np.ndarray, max_points: int = MAX_ROC_POINTS
) -> list[dict[str, float]]:
    """ROC curve thinned to at most ``max_points`` points, always keeping both ends."""
    fpr, tpr, thresholds = roc_curve(y_true, y_prob)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr))).round().astype(int))
    # roc_curve's first threshold is +inf, which JSON cannot carry; 1.0 means the same here.
    return [
        {
            "fpr": round(float(fpr[i]), DECIMALS),
            "tpr": round(float(tpr[i]), DECIMALS),
            "threshold": round(float(min(thresholds[i], 1.0)), DECIMALS),
        }
        for i in keep
    ]


def calibration_points(
    y_true: np.ndarray, y_prob: np.ndarray, n_bins: int = N_CALIBRATION_BINS
) -> list[dict[str, Any]]:
    rows = _bin_stats(np.asarray(y_true, dtype=float), np.asarray(y_prob, dtype=float), n_bins)
    return [
        {k: round(v, DECIMALS) if isinstance(v, float) else v for k, v in row.items()}
        for row in rows
    ]


def evaluate(model: Any, test: pd.DataFrame) -> tuple[dict[str, float | int], dict[str, Any]]:
    """Return ``(metrics, plots)`` where plots maps file stem -> JSON document."""
    features = list(model.feature_names_in_)
    y_true = test[LABEL].to_numpy()
    y_prob = model.predict_proba(test[features])[:, 1]
    plots = {
        "roc": {"roc": roc_points(y_true, y_prob)},
        "calibration": {"calibration": calibration_points(y_true, y_prob)},
    }
    return compute_metrics(y_true, y_prob), plots


def _write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument("--test", type=Path, default=TEST_PATH)
    parser.add_argument("--metrics-out", type=Path, default=METRICS_PATH)
    parser.add_argument("--plots-dir", type=Path, default=PLOTS_DIR)
    args = parser.parse_args(argv)

    model = joblib.load(args.model)
    metrics, plots = evaluate(model, pd.read_csv(args.test))
    _write_json(args.metrics_out, metrics)
    for stem, doc in plots.items():
        _write_json(args.plots_dir / f"{stem}.json", doc)
    print("evaluate: " + ", ".join(f"{k}={v}" for k, v in metrics.items()))


if __name__ == "__main__":
    main()
