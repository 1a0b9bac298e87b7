"""Endpoints of the serving app, through FastAPI's TestClient, on a tiny real model."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import replace

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ctr_serving.app import create_app
from ctr_serving.config import Settings
from ctr_serving.model import LoadedModel, load_model


def test_healthz_answers(served) -> None:
    response = served.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_once_the_model_is_loaded(served) -> None:
    response = served.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "model": "ctr-ranker", "version": "7"}


def test_readyz_is_503_while_loading_and_healthz_already_answers(model_dir) -> None:
    release = threading.Event()

    def slow_loader(path: str) -> LoadedModel:
        assert release.wait(10)
        return load_model(path)

    app = create_app(Settings(model_path=str(model_dir), prediction_log="off"), loader=slow_loader)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        loading = client.get("/readyz")
        assert loading.status_code == 503
        assert loading.json()["status"] == "loading"
        assert client.post("/predict", json={"rows": [{"a": 1}]}).status_code == 503
        release.set()
        assert app.state.serving.wait_loaded(10)
        assert client.get("/readyz").status_code == 200


def test_readyz_is_503_with_the_reason_when_the_model_cannot_load(make_served, tmp_path) -> None:
    served = make_served(model_path=str(tmp_path / "nowhere"))
    response = served.client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failed"
    assert "nowhere" in body["error"]
    assert served.client.get("/healthz").status_code == 200
    predict = served.client.post("/predict", json={"rows": [{"position": 1}]})
    assert predict.status_code == 503


def test_predict_scores_each_row_like_the_model(served, fitted, row) -> None:
    rows = [row, {**row, "position": 9, "category": 2, "price": 5}]
    response = served.client.post("/predict", json={"rows": rows})
    assert response.status_code == 200
    body = response.json()
    expected = fitted.predict_proba(pd.DataFrame(rows)[list(fitted.feature_names_in_)])[:, 1]
    assert body["predictions"] == pytest.approx(list(expected), rel=1e-12)
    assert all(0.0 < p < 1.0 for p in body["predictions"])
    assert body["model"] == "ctr-ranker"
    assert body["version"] == "7"
    assert uuid.UUID(body["request_id"]).version == 4
    assert response.headers["x-request-id"] == body["request_id"]


def test_every_request_gets_its_own_request_id(served, row) -> None:
    ids = {served.client.post("/predict", json={"rows": [row]}).json()["request_id"]
           for _ in range(5)}
    assert len(ids) == 5


def test_predict_accepts_a_full_batch(make_served, row) -> None:
    served = make_served(max_batch_rows=50)
    response = served.client.post("/predict", json={"rows": [row] * 50})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 50


def test_unseen_category_code_is_scored_not_rejected(served, row) -> None:
    # handle_unknown="ignore" in the encoder: a new category code is valid input.
    response = served.client.post("/predict", json={"rows": [{**row, "category": 999}]})
    assert response.status_code == 200


def _without(row: dict, key: str) -> dict:
    return {k: v for k, v in row.items() if k != key}


BAD_PAYLOADS = {
    "missing feature": (lambda r: {"rows": [r, _without(r, "device")]},
                        ["body", "rows", 1, "device"], "missing"),
    "string for a number": (lambda r: {"rows": [{**r, "price": "cheap"}]},
                            ["body", "rows", 0, "price"], "float_type"),
    "numeric string": (lambda r: {"rows": [{**r, "price": "19.9"}]},
                       ["body", "rows", 0, "price"], "float_type"),
    "float for a category": (lambda r: {"rows": [{**r, "category": 1.5}]},
                             ["body", "rows", 0, "category"], "int_type"),
    "bool for a category": (lambda r: {"rows": [{**r, "region": True}]},
                            ["body", "rows", 0, "region"], "int_type"),
    "null feature": (lambda r: {"rows": [{**r, "popularity": None}]},
                     ["body", "rows", 0, "popularity"], "float_type"),
    "unknown feature": (lambda r: {"rows": [{**r, "colour": 3}]},
                        ["body", "rows", 0, "colour"], "extra_forbidden"),
    "row not an object": (lambda r: {"rows": [r, [1, 2, 3]]},
                          ["body", "rows", 1], "dict_type"),
    "empty batch": (lambda r: {"rows": []}, ["body", "rows"], "too_short"),
    "too large batch": (lambda r: {"rows": [r] * 11}, ["body", "rows"], "too_long"),
    "rows missing": (lambda r: {"user_id": "u1"}, ["body", "rows"], "missing"),
    "rows not a list": (lambda r: {"rows": r}, ["body", "rows"], "list_type"),
    "user_id not a string": (lambda r: {"rows": [r], "user_id": 42},
                             ["body", "user_id"], "string_type"),
    "empty variant": (lambda r: {"rows": [r], "variant": ""},
                      ["body", "variant"], "string_too_short"),
    "unknown top-level key": (lambda r: {"rows": [r], "experment": "typo"},
                              ["body", "experment"], "extra_forbidden"),
}


@pytest.mark.parametrize("case", list(BAD_PAYLOADS), ids=list(BAD_PAYLOADS))
def test_invalid_payload_is_422_naming_the_field(make_served, row, case) -> None:
    build, loc, error_type = BAD_PAYLOADS[case]
    served = make_served(max_batch_rows=10)
    response = served.client.post("/predict", json=build(row))
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert {"loc": loc, "type": error_type} in [
        {"loc": e["loc"], "type": e["type"]} for e in errors
    ], errors


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_422_not_500(served, row, literal) -> None:
    # Python's JSON parser accepts these literals; echoing them back must not break the 422.
    body = json.dumps({"rows": [row]}).replace('"price": 19.9', f'"price": {literal}')
    response = served.client.post(
        "/predict", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "rows", 0, "price"]
    assert error["type"] == "finite_number"


def test_malformed_json_is_422(served) -> None:
    response = served.client.post(
        "/predict", content=b'{"rows": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_every_error_of_a_batch_is_reported(served, row) -> None:
    rows = [{**row, "price": "x"}, _without(row, "device"), row, {**row, "category": 0.5}]
    errors = served.client.post("/predict", json={"rows": rows}).json()["detail"]
    assert [e["loc"] for e in errors] == [
        ["body", "rows", 0, "price"],
        ["body", "rows", 1, "device"],
        ["body", "rows", 3, "category"],
    ]


def test_oversized_body_is_refused_before_parsing(make_served, row) -> None:
    served = make_served(max_body_bytes=2000)
    response = served.client.post("/predict", json={"rows": [row] * 50})
    assert response.status_code == 413


def _families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _value(families: dict, family: str, sample: str, **labels: str) -> float:
    for s in families[family].samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    raise AssertionError(f"no sample {sample}{labels}")


def test_metrics_exposition(served, row) -> None:
    client = served.client
    for _ in range(3):
        assert client.post("/predict", json={"rows": [row, row]}).status_code == 200
    assert client.post("/predict", json={"rows": []}).status_code == 422
    client.get("/healthz")
    client.get("/readyz")

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = _families(response.text)

    assert families["modelrail_requests"].type == "counter"
    ok = _value(families, "modelrail_requests", "modelrail_requests_total",
                code="200", version="7", model="ctr-ranker", handler="/predict")
    bad = _value(families, "modelrail_requests", "modelrail_requests_total",
                 code="422", version="7", handler="/predict")
    assert (ok, bad) == (3.0, 1.0)
    # Probes and scrapes are not traffic.
    handlers = {s.labels["handler"] for s in families["modelrail_requests"].samples}
    assert handlers == {"/predict"}

    latency = families["modelrail_request_duration_seconds"]
    assert latency.type == "histogram"
    bounds = sorted({float(s.labels["le"]) for s in latency.samples
                     if s.name.endswith("_bucket")})
    assert bounds[0] <= 0.001  # ms-scale resolution
    assert 0.005 in bounds and 0.01 in bounds and 0.05 in bounds
    assert _value(families, "modelrail_request_duration_seconds",
                  "modelrail_request_duration_seconds_count",
                  version="7", handler="/predict") == 4.0

    scores = families["modelrail_prediction_score"]
    assert scores.type == "histogram"
    assert _value(families, "modelrail_prediction_score", "modelrail_prediction_score_count",
                  version="7") == 6.0

    assert _value(families, "modelrail_model_info", "modelrail_model_info",
                  model="ctr-ranker", version="7") == 1.0
    assert _value(families, "modelrail_model_ready", "modelrail_model_ready", version="7") == 1.0
    assert _value(families, "modelrail_prediction_log_lines_dropped",
                  "modelrail_prediction_log_lines_dropped_total") == 0.0
    # No *_created series: they double the output and nothing reads them.
    assert not [s for f in families.values() for s in f.samples if s.name.endswith("_created")]


def test_server_errors_are_counted_as_500(make_served, row, monkeypatch) -> None:
    served = make_served()

    class Broken:
        def predict_proba(self, _rows: object) -> None:
            raise RuntimeError("boom")

    monkeypatch.setattr(served.state, "model", replace(served.state.model, scorer=Broken()))
    # A second client on the same running app (no lifespan) that returns the 500.
    client = TestClient(served.app, raise_server_exceptions=False)
    assert client.post("/predict", json={"rows": [row]}).status_code == 500
    families = _families(served.client.get("/metrics").text)
    assert _value(families, "modelrail_requests", "modelrail_requests_total",
                  code="500", version="7") == 1.0
