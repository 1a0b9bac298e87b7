from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import joblib
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sklearn.pipeline import Pipeline

from ctr_model.common import ALL_FEATURES
from ctr_model.prepare import PrepareConfig, generate
from ctr_model.train import train
from ctr_serving.app import create_app
from ctr_serving.config import Settings
from ctr_serving.export import main as export_main
from ctr_serving.predlog import Sink

ROW: dict[str, Any] = {
    "position": 1,
    "category": 4,
    "popularity": 0.42,
    "price": 19.9,
    "activity_level": 2,
    "age_bucket": 3,
    "device": 0,
    "region": 5,
    "hour_of_day": 21,
}


@pytest.fixture(scope="session")
def fitted() -> Pipeline:
    """A tiny model trained by the pipeline's own code (same Pipeline shape as production)."""
    cfg = PrepareConfig(seed=3, n_users=150, n_items=40, n_impressions=2500, test_fraction=0.2)
    train_df, _ = generate(cfg)
    return train(train_df, {"C": 1.0, "max_iter": 300, "features": list(ALL_FEATURES)})


@pytest.fixture(scope="session")
def model_dir(fitted: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`models/` after `dvc repro` (model.pkl via joblib.dump) plus the exported scorer.json,
    as the image's /opt/model holds it."""
    directory = tmp_path_factory.mktemp("models")
    joblib.dump(fitted, directory / "model.pkl")
    assert export_main([str(directory / "model.pkl"), "-o", str(directory / "scorer.json")]) == 0
    return directory


@pytest.fixture
def row() -> dict[str, Any]:
    return dict(ROW)


class Served:
    """A running app (lifespan entered) with its client, state and captured log."""

    def __init__(self, app: FastAPI, client: TestClient, log: io.StringIO | None) -> None:
        self.app = app
        self.client = client
        self.log = log
        self.state = app.state.serving

    def log_lines(self, timeout: float = 5.0) -> list[str]:
        assert self.state.logger is not None
        assert self.state.logger.wait_idle(timeout)
        assert self.log is not None
        return self.log.getvalue().splitlines()


MakeServed = Callable[..., Served]


@pytest.fixture
def make_served(model_dir: Path) -> Iterator[MakeServed]:
    stack: list[TestClient] = []

    def make(
        *, sink: Sink | None = None, wait: bool = True, capture_log: bool = True, **overrides: Any
    ) -> Served:
        settings = Settings(
            **{"model_path": str(model_dir), "model_name": "ctr-ranker", "model_version": "7",
               **overrides}
        )
        log = io.StringIO() if capture_log and sink is None else None
        app = create_app(settings, sink=sink if sink is not None else log)
        client = TestClient(app)
        client.__enter__()
        stack.append(client)
        if wait:
            assert app.state.serving.wait_loaded(30)
        return Served(app, client, log)

    yield make
    for client in reversed(stack):
        client.__exit__(None, None, None)


@pytest.fixture
def served(make_served: MakeServed) -> Served:
    return make_served()
