"""Runtime settings, read from the environment once at start-up.

- ``MODEL_PATH`` (``/opt/model``): directory holding ``model.pkl`` (or ``model.joblib``),
  or the artifact file itself.
- ``MODEL_NAME`` (``ctr-ranker``), ``MODEL_VERSION`` (``unknown``): reported in responses,
  prediction logs and metrics (the registry version the image was built for).
- ``PREDICTION_LOG`` (``stdout``): ``stdout``, ``off``, or a file path (appended to).
- ``PREDICTION_LOG_QUEUE_LINES`` (``10000``): log lines buffered before new ones are dropped.
- ``MAX_BATCH_ROWS`` (``1000``): largest ``rows`` batch of one ``/predict`` call (else 422).
- ``MAX_BODY_BYTES`` (``4194304``): larger request bodies are refused with 413.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(ValueError):
    """An environment variable has an invalid value; the message names it."""


@dataclass(frozen=True)
class Settings:
    model_path: str = "/opt/model"
    model_name: str = "ctr-ranker"
    model_version: str = "unknown"
    prediction_log: str = "stdout"
    prediction_log_queue_lines: int = 10_000
    max_batch_rows: int = 1000
    max_body_bytes: int = 4 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            model_path=_text(env, "MODEL_PATH", defaults.model_path),
            model_name=_text(env, "MODEL_NAME", defaults.model_name),
            model_version=_text(env, "MODEL_VERSION", defaults.model_version),
            prediction_log=_text(env, "PREDICTION_LOG", defaults.prediction_log),
            prediction_log_queue_lines=_positive_int(
                env, "PREDICTION_LOG_QUEUE_LINES", defaults.prediction_log_queue_lines
            ),
            max_batch_rows=_positive_int(env, "MAX_BATCH_ROWS", defaults.max_batch_rows),
            max_body_bytes=_positive_int(env, "MAX_BODY_BYTES", defaults.max_body_bytes),
        )


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a positive integer, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be a positive integer, got {raw!r}")
    return value
