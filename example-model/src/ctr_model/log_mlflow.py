"""Record a finished pipeline run in MLflow: params, metrics, git sha and the model.

Usage (after ``dvc repro``, from the model repo root)::

    MLFLOW_TRACKING_URI=http://mlflow:5000 python -m ctr_model.log_mlflow \\
        [--experiment NAME] [--run-name NAME] [--json PATH]

Prints one JSON line to stdout (and writes it to ``--json`` if given)::

    {"run_id": "...", "model_uri": "runs:/<run_id>/model", "experiment_id": "...",
     "model_id": "m-..."}

Only ``mlflow-skinny`` is needed (plus this model's own requirements). The model is stored
in MLflow's default, non-pickle ``skops`` format, which needs the ``skops`` package.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ctr_model.common import METRICS_PATH, MODEL_PATH, PARAMS_PATH, TEST_PATH, load_params

DEFAULT_EXPERIMENT = "ctr-ranker"
MODEL_NAME = "model"  # the run-relative name: runs:/<run_id>/model
N_EXAMPLE_ROWS = 5
# `modelrail monitor` compares production traffic with this sample of the held-out rows
# and the model's scores on them (run artifact REFERENCE_NAME).
REFERENCE_NAME = "reference.csv"
N_REFERENCE_ROWS = 20_000
SERIALIZATION_FORMATS = ("skops", "cloudpickle", "pickle")


def _param_value(value: Any) -> str:
    """Render a params.yaml leaf the way YAML would spell it (true/false/null, a,b,c lists).

    The same spelling as modelrail's `param.*` model version tags
    (`modelrail.registry.lineage`); a copy, as this repo does not install modelrail.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            return ",".join(_param_value(v) for v in value)
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten nested params to dotted keys with string values.

    ``{"prepare": {"seed": 1}, "train": {"features": ["a", "b"]}}`` becomes
    ``{"prepare.seed": "1", "train.features": "a,b"}``.
    """
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_params(value, prefix=f"{name}."))
        else:
            flat[name] = _param_value(value)
    return flat


def numeric_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Every finite number in (possibly nested) metrics, under dotted keys; bools are skipped."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(numeric_metrics(value, prefix=f"{name}."))
        elif (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ):
            out[name] = float(value)
    return out


def git_sha(cwd: str | Path | None = None) -> str | None:
    """``git rev-parse HEAD``, or None outside a git checkout / without git."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    sha = result.stdout.strip()
    return sha or None


def model_pip_requirements(serialization_format: str) -> list[str]:
    """What loading and scoring the logged model needs, pinned to this environment.

    Given explicitly, so MLflow skips its slow requirement inference (a subprocess that
    re-imports everything) and a serving image gets mlflow-skinny rather than full mlflow.
    """
    import mlflow

    # mlflow and mlflow-skinny share version numbers, so this works with either installed.
    pins = [f"mlflow-skinny=={mlflow.__version__}"]
    packages = ["scikit-learn", "numpy", "pandas"]
    if serialization_format in ("skops", "cloudpickle"):
        packages.append(serialization_format)
    pins += [f"{pkg}=={importlib.metadata.version(pkg)}" for pkg in packages]
    return pins


def log_run(
    *,
    params_path: Path,
    metrics_path: Path,
    model_path: Path,
    example_path: Path,
    experiment: str,
    run_name: str | None,
    serialization_format: str,
) -> dict[str, str]:
    # Imported here so the pure helpers above (and their tests) need neither package.
    import joblib
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature

    params = flatten_params(load_params(params_path))
    metrics = numeric_metrics(json.loads(metrics_path.read_text(encoding="utf-8")))
    model = joblib.load(model_path)
    features = list(model.feature_names_in_)
    example = pd.read_csv(example_path, nrows=N_EXAMPLE_ROWS)[features]
    with warnings.catch_warnings():
        # The features are complete integer codes; MLflow's hint about NaN in int columns
        # does not apply.
        warnings.filterwarnings("ignore", message=".*Inferred schema contains integer column")
        # Serving wants click probabilities, so pyfunc predict() maps to predict_proba().
        signature = infer_signature(example, model.predict_proba(example))

    tags = {"git_sha": sha} if (sha := git_sha()) else {}
    # MLflow prints "View run ..." links to stdout; keep stdout for the JSON result alone.
    with contextlib.redirect_stdout(sys.stderr):
        mlflow.set_experiment(experiment)
        with mlflow.start_run(run_name=run_name, tags=tags) as run:
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
            info = mlflow.sklearn.log_model(
                model,
                name=MODEL_NAME,
                signature=signature,
                input_example=example,
                pyfunc_predict_fn="predict_proba",
                serialization_format=serialization_format,
                pip_requirements=model_pip_requirements(serialization_format),
            )
            reference = pd.read_csv(example_path, nrows=N_REFERENCE_ROWS)[features]
            reference["prediction"] = model.predict_proba(reference)[:, 1]
            mlflow.log_text(reference.to_csv(index=False), REFERENCE_NAME)
    return {
        "run_id": run.info.run_id,
        "model_uri": f"runs:/{run.info.run_id}/{MODEL_NAME}",
        "experiment_id": run.info.experiment_id,
        "model_id": info.model_id,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ctr_model.log_mlflow",
        description="Log params, metrics, git sha and the trained model to MLflow "
        "(tracking server from MLFLOW_TRACKING_URI).",
    )
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT)
    parser.add_argument("--run-name", default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    parser.add_argument("--params", type=Path, default=PARAMS_PATH)
    parser.add_argument("--metrics", type=Path, default=METRICS_PATH)
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument(
        "--example",
        type=Path,
        default=TEST_PATH,
        help="CSV whose first rows become the input example",
    )
    parser.add_argument("--serialization-format", choices=SERIALIZATION_FORMATS, default="skops")
    args = parser.parse_args(argv)

    if not os.environ.get("MLFLOW_TRACKING_URI"):
        # Without it MLflow silently writes to a local store that CI throws away.
        print("error: MLFLOW_TRACKING_URI is not set", file=sys.stderr)
        return 2
    if args.serialization_format == "skops":
        try:
            import skops.io  # noqa: F401
        except ImportError:
            print(
                "error: the skops format needs the 'skops' package (see requirements.txt); "
                "install it or pass --serialization-format cloudpickle",
                file=sys.stderr,
            )
            return 2
    for path in (args.params, args.metrics, args.model, args.example):
        if not path.is_file():
            print(f"error: {path} not found (run `dvc repro` first)", file=sys.stderr)
            return 2

    result = log_run(
        params_path=args.params,
        metrics_path=args.metrics,
        model_path=args.model,
        example_path=args.example,
        experiment=args.experiment,
        run_name=args.run_name,
        serialization_format=args.serialization_format,
    )
    line = json.dumps(result)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(line + "\n", encoding="utf-8")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
