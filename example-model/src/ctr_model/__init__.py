"""ctr_model: a small click-through-rate model trained on synthetic impressions.

Pipeline stages (see dvc.yaml): ``prepare`` -> ``train`` -> ``evaluate``; ``log_mlflow``
records a finished run in MLflow.
"""
