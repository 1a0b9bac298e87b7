"""Model loading and the input schema carried by the exported scorer; settings."""

from __future__ import annotations

import pytest

from ctr_model.common import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from ctr_serving.config import Settings, SettingsError
from ctr_serving.model import ModelLoadError, load_model, resolve_artifact


def test_kinds_come_from_the_fitted_pipeline(fitted, model_dir) -> None:
    loaded = load_model(model_dir)
    assert loaded.features == tuple(fitted.feature_names_in_)
    for name in CATEGORICAL_FEATURES:
        assert loaded.kinds[name] == "int"
    for name in NUMERIC_FEATURES:
        assert loaded.kinds[name] == "float"


def test_load_from_directory_or_file(model_dir) -> None:
    assert resolve_artifact(model_dir) == model_dir / "scorer.json"
    assert resolve_artifact(model_dir / "scorer.json") == model_dir / "scorer.json"
    assert load_model(model_dir).source == str(model_dir / "scorer.json")


def test_missing_artifact_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "model.pkl").write_bytes(b"a pickle is not served any more")
    with pytest.raises(ModelLoadError,
                       match=r"no scorer\.json in MODEL_PATH=.*ctr_serving\.export"):
        load_model(tmp_path)
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "absent")


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
