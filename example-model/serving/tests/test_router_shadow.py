"""Shadow mode of the router: the copy reaches the shadow and is logged as such, and a
shadow that hangs or fails never changes a production answer or its latency (beyond a
bound), and full-queue drops are counted."""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ctr_router.app import create_app
from ctr_router.config import RouterSettings, RouterSettingsError, Variant

PRODUCTION_URL = "http://production.test"
SHADOW_URL = "http://shadow.test"
REQUESTS = 40
LATENCY_BOUND_SECONDS = 0.025  # median slowdown allowed with a broken shadow


def settings(**overrides: Any) -> RouterSettings:
    values: dict[str, Any] = {
        "experiment": "shadow-test",
        "variants": (Variant("control", PRODUCTION_URL), Variant("other", PRODUCTION_URL)),
        "weights": (1.0, 0.0),
        "timeout_seconds": 1.0,
        **overrides,
    }
    return RouterSettings(**values)


def hanging_app() -> FastAPI:
    app = FastAPI()

    @app.post("/predict")
    async def predict() -> None:
        await anyio.sleep(3600)

    return app


def failing_app() -> FastAPI:
    app = FastAPI()

    @app.post("/predict")
    async def predict() -> JSONResponse:
        return JSONResponse({"detail": "boom"}, status_code=500)

    return app


@pytest.fixture
def production(make_served) -> Any:
    """The production model server (version 1), with its captured prediction log."""
    return make_served(model_version="1")


@pytest.fixture
def router_with(production) -> Iterator[Any]:
    """`router_with(shadow_app, **settings)`: a started router in front of `production`,
    mirroring to `shadow_app` when one is given."""
    with contextlib.ExitStack() as stack:

        def make(shadow_app: FastAPI | None, **overrides: Any) -> TestClient:
            mounts: dict[str, Any] = {PRODUCTION_URL: httpx2.ASGITransport(app=production.app)}
            if shadow_app is not None:
                mounts[SHADOW_URL] = httpx2.ASGITransport(app=shadow_app)
                overrides["shadow"] = Variant("candidate", SHADOW_URL)
            app = create_app(settings(**overrides), mounts=mounts)
            return stack.enter_context(TestClient(app))

        yield make


def _serve(router: TestClient, row: dict[str, Any]) -> tuple[list[Any], list[float]]:
    answers, seconds = [], []
    for index in range(REQUESTS):
        started = time.perf_counter()
        response = router.post("/predict", json={"rows": [row], "user_id": f"u{index}"})
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200
        body = response.json()
        answers.append((body["predictions"], body["variant"], body["version"]))
    return answers, seconds


def _wait_for_lines(served: Any, count: int) -> None:
    """The shadow copies arrive after the answers: wait until `count` lines are logged."""
    deadline = time.monotonic() + 5
    while len(served.log.getvalue().splitlines()) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def _samples(router: TestClient, family: str) -> dict[tuple[str, ...], float]:
    families = {f.name: f for f in text_string_to_metric_families(router.get("/metrics").text)}
    if family not in families:
        return {}
    return {tuple(s.labels.get(k, "") for k in ("variant", "outcome")): s.value
            for s in families[family].samples if s.name.endswith("_total")}


def test_the_shadow_gets_a_copy_logged_with_shadow_true(make_served, router_with,
                                                       row) -> None:
    shadow = make_served(model_version="2")
    router = router_with(shadow.app)
    response = router.post("/predict", json={"rows": [row, row], "user_id": "u1"})
    assert response.status_code == 200
    assert response.json()["version"] == "1"  # production answers, never the shadow
    request_id = response.headers["x-request-id"]
    _wait_for_lines(shadow, 2)
    lines = [json.loads(line) for line in shadow.log_lines()]
    assert [(line["shadow"], line["shadow_of"], line["row"]) for line in lines] == [
        (True, request_id, 0), (True, request_id, 1)]
    assert lines[0]["version"] == "2"
    assert _samples(router, "modelrail_router_shadow_requests") == {("candidate", "ok"): 1.0}


@pytest.mark.parametrize("broken", [hanging_app, failing_app])
def test_a_broken_shadow_changes_no_answer_and_no_latency(router_with, row, broken) -> None:
    baseline_answers, baseline = _serve(router_with(None), row)
    router = router_with(broken(), shadow_queue_size=5, shadow_workers=2)
    answers, seconds = _serve(router, row)
    assert answers == baseline_answers
    assert statistics.median(seconds) <= statistics.median(baseline) + LATENCY_BOUND_SECONDS
    assert max(seconds) < 0.5  # far under the shadow's 1 s time limit
    outcomes = _samples(router, "modelrail_router_shadow_requests")
    dropped = _samples(router, "modelrail_router_shadow_dropped")
    if broken is hanging_app:  # 2 stuck workers, 5 queued: the rest is dropped
        assert dropped[("candidate", "")] >= REQUESTS - 2 - 5 - 2
    else:
        assert outcomes[("candidate", "error")] >= 1
        assert ("candidate", "ok") not in outcomes


def test_shadow_settings_are_checked() -> None:
    with pytest.raises(RouterSettingsError, match="also a variant"):
        settings(shadow=Variant("control", SHADOW_URL))
    with pytest.raises(RouterSettingsError, match="one shadow variant"):
        RouterSettings.from_env({"EXPERIMENT": "e", "VARIANTS": "a=http://a,b=http://b",
                                 "SHADOW": "c=http://c,d=http://d"})
    parsed = RouterSettings.from_mapping({"experiment": "e", "variants": {
        "a": "http://a", "b": "http://b"}, "shadow": {"c": "http://c/"}, "shadow_workers": 2})
    assert parsed.shadow == Variant("c", "http://c")
    assert parsed.shadow_workers == 2


def test_shadow_analyze_pairs_what_the_router_and_servers_logged(
        make_served, production, router_with, row, tmp_path) -> None:
    """The contract between the router, the serving log and `modelrail shadow analyze`:
    both servers' lines pair on (request id, row); the same model agrees with itself."""
    from modelrail.monitor.shadow import agreement

    shadow = make_served(model_version="2")
    router = router_with(shadow.app)
    rows = [dict(row, position=position) for position in range(1, 6)]
    for index in range(10):
        assert router.post("/predict", json={"rows": rows, "user_id": f"u{index}"}
                           ).status_code == 200
    _wait_for_lines(shadow, 50)
    log = tmp_path / "predictions.jsonl"
    log.write_text("\n".join([*production.log_lines(), *shadow.log_lines()]) + "\n")
    found = agreement(log, threshold=0.1)
    assert (found.pairs, found.shadow_rows) == (50, 50)
    assert found.agreement == 1.0
    assert found.ks == 0.0
