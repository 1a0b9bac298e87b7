"""Model loading and the input schema derived from the fitted pipeline; settings."""

from __future__ import annotations

import joblib
import pytest
from sklearn.linear_model import LogisticRegression

from ctr_model.common import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from ctr_serving.config import Settings, SettingsError
from ctr_serving.model import ModelLoadError, describe, load_model, resolve_artifact


def test_kinds_come_from_the_fitted_pipeline(fitted) -> None:
    loaded = describe(fitted)
    assert loaded.features == tuple(fitted.feature_names_in_)
    for name in CATEGORICAL_FEATURES:
        assert loaded.kinds[name] == "int"
    for name in NUMERIC_FEATURES:
        assert loaded.kinds[name] == "float"


def test_load_from_directory_or_file(model_dir) -> None:
    assert resolve_artifact(model_dir) == model_dir / "model.pkl"
    assert resolve_artifact(model_dir / "model.pkl") == model_dir / "model.pkl"
    assert load_model(model_dir).features


def test_missing_artifact_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ModelLoadError, match=r"no model\.pkl or model\.joblib"):
        load_model(tmp_path)
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "absent")


def test_garbage_artifact_is_a_load_error(tmp_path) -> None:
    (tmp_path / "model.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model(tmp_path)


def test_model_without_feature_names_is_refused(tmp_path) -> None:
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    joblib.dump(model, tmp_path / "model.pkl")
    with pytest.raises(ModelLoadError, match="feature_names_in_"):
        load_model(tmp_path)


def test_settings_from_env() -> None:
    settings = Settings.from_env({
        "MODEL_PATH": "/m", "MODEL_NAME": "ranker", "MODEL_VERSION": "12",
        "PREDICTION_LOG": "off", "MAX_BATCH_ROWS": "50", "PREDICTION_LOG_QUEUE_LINES": "9",
    })
    assert settings == Settings(model_path="/m", model_name="ranker", model_version="12",
                                prediction_log="off", max_batch_rows=50,
                                prediction_log_queue_lines=9)
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize("value", ["zero", "0", "-3", "1.5"])
def test_bad_settings_name_the_variable(value) -> None:
    with pytest.raises(SettingsError, match="MAX_BATCH_ROWS"):
        Settings.from_env({"MAX_BATCH_ROWS": value})
