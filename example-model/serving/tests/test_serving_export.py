"""The build-time export of the fitted pipeline to scorer.json, and loading it at start-up.

The served image has numpy but no scikit-learn: these tests prove the exported scorer is the
same model (predictions within 1e-9 of the pipeline's predict_proba), that unsupported
pipelines and wrong exports fail the build, and that a foreign-version or corrupt artifact
is a clear start-up error with /readyz false.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from ctr_model.common import ALL_FEATURES, CATEGORICAL_FEATURES, NUMERIC_FEATURES
from ctr_model.prepare import PrepareConfig, generate
from ctr_serving import export as exporter
from ctr_serving.model import ModelLoadError, load_model
from ctr_serving.scorer import FORMAT_VERSION, OneHotBlock, loads


@pytest.fixture(scope="module")
def test_rows() -> pd.DataFrame:
    cfg = PrepareConfig(seed=11, n_users=120, n_items=30, n_impressions=1500, test_fraction=0.5)
    _, test_df = generate(cfg)
    return test_df


def _sklearn(fitted: Pipeline, rows: list[dict]) -> np.ndarray:
    return fitted.predict_proba(pd.DataFrame(rows)[list(fitted.feature_names_in_)])[:, 1]


def test_exported_scorer_reproduces_the_pipeline(fitted, model_dir, test_rows) -> None:
    scorer = load_model(model_dir).scorer
    rows = [{name: record[name] for name in ALL_FEATURES}
            for record in test_rows.to_dict("records")]
    rows += exporter.sample_rows(scorer, 500, seed=1)  # every category, unseen ones, extremes
    got = scorer.predict_proba(rows)
    assert np.max(np.abs(got - _sklearn(fitted, rows))) <= 1e-9
    # Unseen category codes are ignored exactly as OneHotEncoder(handle_unknown="ignore") does.
    unseen = [{**rows[0], "category": 10_000, "region": -1}]
    assert scorer.predict_proba(unseen) == pytest.approx(_sklearn(fitted, unseen), abs=1e-12)


def test_parameters_round_trip_bit_for_bit(fitted, model_dir) -> None:
    scorer = load_model(model_dir).scorer
    classifier = fitted.named_steps["clf"]
    assert np.array_equal(scorer.coef, classifier.coef_.reshape(-1))
    assert scorer.intercept == float(classifier.intercept_[0])
    assert loads(scorer.dumps()).dumps() == scorer.dumps()


def test_the_artifact_names_the_pickle_it_came_from(model_dir) -> None:
    source = load_model(model_dir).scorer.source
    assert source["artifact"] == "model.pkl"
    assert source["sha256"] == hashlib.sha256((model_dir / "model.pkl").read_bytes()).hexdigest()
    assert source["sklearn"]
    assert source["verified_rows"] >= exporter.SAMPLE_ROWS
    assert source["max_abs_diff"] <= exporter.TOLERANCE


def test_the_sample_covers_every_category(model_dir) -> None:
    scorer = load_model(model_dir).scorer
    rows = exporter.sample_rows(scorer, 300)
    onehot = [block for block in scorer.blocks if isinstance(block, OneHotBlock)]
    assert onehot
    for block in onehot:
        for column, values in zip(block.columns, block.categories, strict=True):
            seen = {row[column] for row in rows}
            assert set(values) < seen  # all of them, plus an unseen one


def _fit(preprocess: ColumnTransformer, classifier: object, frame: pd.DataFrame) -> Pipeline:
    model = Pipeline([("preprocess", preprocess), ("clf", classifier)])
    return model.fit(frame[list(ALL_FEATURES)], frame["click"])


def _columns(onehot: object, scaler: object, **kwargs: object) -> ColumnTransformer:
    return ColumnTransformer([("onehot", onehot, list(CATEGORICAL_FEATURES)),
                              ("scale", scaler, list(NUMERIC_FEATURES))], **kwargs)


@pytest.mark.parametrize(("preprocess", "classifier", "named"), [
    (_columns(OneHotEncoder(handle_unknown="ignore", drop="first"), StandardScaler()),
     LogisticRegression(max_iter=200), "drops categories"),
    (_columns(OneHotEncoder(handle_unknown="error"), StandardScaler()),
     LogisticRegression(max_iter=200), "handle_unknown='error'"),
    (_columns(OneHotEncoder(handle_unknown="ignore"), MinMaxScaler()),
     LogisticRegression(max_iter=200), "MinMaxScaler"),
    (ColumnTransformer([("onehot", OneHotEncoder(handle_unknown="ignore"),
                         list(CATEGORICAL_FEATURES))], remainder="passthrough"),
     LogisticRegression(max_iter=200), "remainder='passthrough'"),
    (_columns(OneHotEncoder(handle_unknown="ignore"), StandardScaler()),
     RandomForestClassifier(n_estimators=2), "RandomForestClassifier"),
])
def test_an_unsupported_pipeline_fails_the_export_by_name(
        preprocess, classifier, named, test_rows, tmp_path, capsys) -> None:
    joblib.dump(_fit(preprocess, classifier, test_rows), tmp_path / "model.pkl")
    code = exporter.main([str(tmp_path / "model.pkl"), "-o", str(tmp_path / "scorer.json")])
    assert code == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "scorer.json").exists()


def test_an_export_that_changes_predictions_fails_the_build(
        model_dir, tmp_path, monkeypatch, capsys) -> None:
    real_export = exporter.export

    def off_by_a_little(estimator: object, source: object = None) -> object:
        scorer = real_export(estimator, source)
        return replace(scorer, intercept=scorer.intercept + 1e-6)

    monkeypatch.setattr(exporter, "export", off_by_a_little)
    code = exporter.main([str(model_dir / "model.pkl"), "-o", str(tmp_path / "scorer.json")])
    assert code == 1
    assert "differs from model.pkl by" in capsys.readouterr().err
    assert not (tmp_path / "scorer.json").exists()


def test_an_unreadable_pickle_is_a_usage_error(tmp_path, capsys) -> None:
    (tmp_path / "model.pkl").write_bytes(b"not a pickle")
    code = exporter.main([str(tmp_path / "model.pkl"), "-o", str(tmp_path / "scorer.json")])
    assert code == 2
    assert "cannot load" in capsys.readouterr().err


def _write_edited(model_dir, tmp_path, edit) -> None:
    document = json.loads((model_dir / "scorer.json").read_text())
    edit(document)
    (tmp_path / "scorer.json").write_text(json.dumps(document))


def _resign(document: dict) -> None:
    canonical = json.dumps(document["model"], sort_keys=True, separators=(",", ":"))
    document["sha256"] = hashlib.sha256(canonical.encode()).hexdigest()


def _bump_version(document: dict) -> None:
    document["format_version"] = FORMAT_VERSION + 1


def _edit_coefficient(document: dict) -> None:
    document["model"]["coef"][0] += 0.5


def _drop_coefficient_resigned(document: dict) -> None:
    document["model"]["coef"].pop()
    _resign(document)


@pytest.mark.parametrize(("edit", "message"), [
    (_bump_version, f"format_version {FORMAT_VERSION + 1} is not supported by this server"),
    (_edit_coefficient, "checksum mismatch"),
    (_drop_coefficient_resigned, r"`model\.coef` must hold \d+ finite numbers"),
])
def test_a_foreign_or_corrupt_artifact_is_a_clear_load_error(
        edit, message, model_dir, tmp_path) -> None:
    _write_edited(model_dir, tmp_path, edit)
    with pytest.raises(ModelLoadError, match=message):
        load_model(tmp_path)


def test_a_truncated_artifact_is_a_clear_load_error(model_dir, tmp_path) -> None:
    text = (model_dir / "scorer.json").read_text()
    (tmp_path / "scorer.json").write_text(text[: len(text) // 2])
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(tmp_path)


def test_readyz_stays_false_when_the_artifact_is_from_another_version(
        make_served, model_dir, tmp_path) -> None:
    _write_edited(model_dir, tmp_path, _bump_version)
    served = make_served(model_path=str(tmp_path))
    response = served.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "failed"
    assert "format_version" in response.json()["error"]
    metrics = served.client.get("/metrics").text
    assert 'modelrail_model_ready{model="ctr-ranker",version="7"} 0.0' in metrics
