"""The traffic simulator: event schema, determinism, the configured effect, and a real run.

Most tests drive the simulator through a stand-in router that assigns with the real
``route`` but scores nothing (the simulator's clicks do not depend on the model's answer),
so thousands of users take well under a second. One test runs everything for real:
two model servers and the router under uvicorn on loopback ports, the CLI in front.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
import uvicorn

from ctr_router.app import create_app as create_router
from ctr_router.config import RouterSettings, Variant
from ctr_router.routing import route
from ctr_serving.app import create_app as create_model_server
from ctr_serving.config import Settings
from simulator.__main__ import is_loopback, main
from simulator.population import plan_sessions
from simulator.run import EVENT_KEYS, SimulationConfig, simulate

ROUTING = RouterSettings(
    experiment="ranker-v2",
    variants=(Variant("control", "http://c.test"), Variant("treatment", "http://t.test")),
    weights=(0.5, 0.5),
)


class _Answer:
    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        self.status_code = status_code
        self._body = body

    def json(self) -> dict[str, Any]:
        return self._body


class StandInRouter:
    """Answers like the router: the real assignment, a request id, no model."""

    def __init__(self, settings: RouterSettings = ROUTING, fail: str | None = None) -> None:
        self.settings = settings
        self.fail = fail
        self.calls = 0
        self._lock = threading.Lock()

    def post(self, url: str, *, json: Any) -> _Answer:
        with self._lock:
            self.calls += 1
        plan = route(self.settings, json["user_id"])
        if plan.primary.name == self.fail:
            return _Answer(502, {"detail": "down", "variant": plan.primary.name})
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, repr(json)))
        return _Answer(200, {"predictions": [0.1] * len(json["rows"]), "request_id": request_id,
                             "variant": plan.primary.name, "in_experiment": plan.in_experiment})


def without_timestamps(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in event.items() if k != "timestamp"} for event in events]


def test_plan_is_fixed_by_the_seed() -> None:
    assert plan_sessions(7, 50) == plan_sessions(7, 50)
    assert plan_sessions(7, 50) != plan_sessions(8, 50)
    assert plan_sessions(7, 50)[0].user_id == "user-000000"


def test_events_follow_the_schema() -> None:
    result = simulate(SimulationConfig(users=300, seed=7), StandInRouter())
    assert result.finished and not result.errors
    assert result.sent == result.planned
    for event in result.events:
        assert tuple(event) == EVENT_KEYS
        assert datetime.fromisoformat(event["timestamp"]).tzinfo is not None
        assert event["type"] in ("click", "session_end")
        assert event["user_id"].startswith("user-")
        uuid.UUID(event["request_id"])
        assert isinstance(event["value"], float)
        if event["type"] == "click":
            assert event["value"] == 1.0
        else:
            assert event["value"] > 0
    ends = [e for e in result.events if e["type"] == "session_end"]
    assert len(ends) == result.planned  # one per request
    assert len({e["request_id"] for e in ends}) == len(ends)


def test_same_seed_same_events() -> None:
    config = SimulationConfig(users=400, seed=11, effect=0.1, concurrency=8)
    first = simulate(config, StandInRouter())
    second = simulate(config, StandInRouter())
    assert without_timestamps(first.events) == without_timestamps(second.events)
    assert first.summary() == second.summary()


def test_clicks_show_the_configured_effect() -> None:
    effect = 0.3
    result = simulate(SimulationConfig(users=4000, seed=7, effect=effect), StandInRouter())
    control, treatment = result.variants["control"], result.variants["treatment"]
    for totals in (control, treatment):  # clicks follow the stated true probabilities
        assert abs(totals.clicks - totals.expected_clicks) < 4 * math.sqrt(totals.expected_clicks)
    # The true lift: the treatment's probabilities are the control's times 1 + effect, on
    # populations that differ only by chance.
    true_lift = (treatment.expected_clicks / treatment.impressions) / (
        control.expected_clicks / control.impressions) - 1
    assert true_lift == pytest.approx(effect, abs=0.05)
    observed = (treatment.clicks / treatment.impressions) / (
        control.clicks / control.impressions) - 1
    standard_error = (1 + observed) * math.sqrt(1 / treatment.clicks + 1 / control.clicks)
    assert abs(observed - effect) < 3 * standard_error


def test_the_effect_changes_clicks_only_and_only_in_the_treatment() -> None:
    aa = simulate(SimulationConfig(users=600, seed=5, effect=0.0), StandInRouter())
    ab = simulate(SimulationConfig(users=600, seed=5, effect=0.5), StandInRouter())

    def of(result: Any, kind: str, variant: str) -> list[dict[str, Any]]:
        users = {u for u in (e["user_id"] for e in result.events)
                 if route(ROUTING, u).primary.name == variant}
        return without_timestamps([e for e in result.events
                                   if e["type"] == kind and e["user_id"] in users])

    assert of(aa, "session_end", "control") == of(ab, "session_end", "control")
    assert of(aa, "session_end", "treatment") == of(ab, "session_end", "treatment")
    assert of(aa, "click", "control") == of(ab, "click", "control")
    assert len(of(ab, "click", "treatment")) > len(of(aa, "click", "treatment"))


def test_failed_requests_are_counted_not_turned_into_events() -> None:
    result = simulate(SimulationConfig(users=100, seed=3), StandInRouter(fail="treatment"))
    assert set(result.variants) == {"control"}
    assert sum(result.errors.values()) == result.sent - result.variants["control"].requests
    assert list(result.errors) == ["502 treatment"]


def test_request_count_and_time_are_bounded() -> None:
    with pytest.raises(ValueError, match="max_requests"):
        simulate(SimulationConfig(users=100, seed=3, max_requests=10), StandInRouter())
    stand_in = StandInRouter()
    result = simulate(SimulationConfig(users=100, seed=3, deadline_seconds=0.0), stand_in)
    assert not result.finished
    assert stand_in.calls == 0


@pytest.mark.parametrize(("url", "ok"), [
    ("http://127.0.0.1:8080", True), ("http://localhost:1", True), ("http://[::1]:9", True),
    ("http://10.0.0.1:8080", False), ("http://example.com", False),
])
def test_only_loopback_routers(url, ok) -> None:
    assert is_loopback(url) is ok


def test_cli_refuses_a_non_loopback_router(tmp_path) -> None:
    with pytest.raises(SystemExit):
        main(["--router", "http://192.0.2.1:80", "--users", "1",
              "--events", str(tmp_path / "e.jsonl")])
    assert not (tmp_path / "e.jsonl").exists()


# --- everything real: uvicorn on loopback ------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_simulator_through_a_real_router_and_model_servers(model_dir, tmp_path,
                                                          capsys) -> None:
    logs = {name: tmp_path / f"{name}.jsonl" for name in ("control", "treatment")}

    def model_server(name: str) -> Any:
        return create_model_server(Settings(model_path=str(model_dir), model_version=name,
                                            prediction_log=str(logs[name])))

    with serving(model_server("control")) as control, \
            serving(model_server("treatment")) as treatment:
        routing = RouterSettings(experiment="ranker-v2", weights=(0.5, 0.5), variants=(
            Variant("control", control), Variant("treatment", treatment)))
        with serving(create_router(routing)) as router:
            events = tmp_path / "events.jsonl"
            # The CLI waits for the router's /readyz, i.e. for both models to load.
            code = main(["--router", router, "--users", "60", "--seed", "7",
                         "--events", str(events), "--effect", "0.05"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary
    assert summary["finished"] and summary["errors"] == {}
    assert set(summary["variants"]) == {"control", "treatment"}

    predictions = {}
    logged_rows = 0
    for name, path in logs.items():
        for line in path.read_text().splitlines():
            record = json.loads(line)
            logged_rows += 1
            assert record["variant"] == name
            assert record["experiment"] == "ranker-v2"
            assert route(routing, record["user_id"]).primary.name == name
            predictions[record["request_id"]] = record
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert lines and all(tuple(event) == EVENT_KEYS for event in lines)
    for event in lines:  # every event joins to a logged prediction of the same user, after it
        prediction = predictions[event["request_id"]]
        assert prediction["user_id"] == event["user_id"]
        assert event["timestamp"] > prediction["timestamp"]
    totals = summary["variants"].values()
    assert sum(v["impressions"] for v in totals) == logged_rows  # 5 rows per request
    assert sum(v["requests"] for v in totals) == len(predictions) == summary["sent_requests"]

