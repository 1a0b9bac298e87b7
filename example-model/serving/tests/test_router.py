"""The router (ctr_router): pure-hash assignment, stamping, forwarding and its failures.

Model servers run in-process (the shared ``make_served`` fixture, a tiny real model) and
the router reaches them through httpx's ASGI transport, so no port is opened except where
a test needs a real refused connection.
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx2
import pytest
from fastapi.testclient import TestClient
from modelrail.ab import assign
from prometheus_client.parser import text_string_to_metric_families
from scipy.stats import chisquare

from ctr_router.app import create_app
from ctr_router.config import RouterSettings, RouterSettingsError, Variant, parse_variants
from ctr_router.routing import route

EXPERIMENT = "ranker-v2"
CONTROL_URL = "http://control.test"
TREATMENT_URL = "http://treatment.test"


def settings(**overrides: Any) -> RouterSettings:
    values: dict[str, Any] = {
        "experiment": EXPERIMENT,
        "variants": (Variant("control", CONTROL_URL), Variant("treatment", TREATMENT_URL)),
        "weights": (0.5, 0.5),
        "coverage": 1.0,
        "timeout_seconds": 2.0,
        **overrides,
    }
    return RouterSettings(**values)


MakeRouter = Callable[..., TestClient]


@pytest.fixture
def make_router() -> Iterator[MakeRouter]:
    clients: list[TestClient] = []

    def make(config: RouterSettings, mounts: dict[str, Any] | None = None) -> TestClient:
        client = TestClient(create_app(config, mounts=mounts))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def arms(make_served):
    """Two real model servers (control, treatment), each with its own captured log."""
    control = make_served(model_version="1")
    treatment = make_served(model_version="2")
    mounts = {
        CONTROL_URL: httpx2.ASGITransport(app=control.app),
        TREATMENT_URL: httpx2.ASGITransport(app=treatment.app),
    }
    return control, treatment, mounts


def users_in(variant: str, count: int, config: RouterSettings | None = None) -> list[str]:
    config = config or settings()
    found = []
    index = 0
    while len(found) < count:
        user = f"u-{index}"
        plan = route(config, user)
        if plan.in_experiment and plan.primary.name == variant:
            found.append(user)
        index += 1
    return found


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- assignment ------------------------------------------------------------------------


def test_route_is_modelrail_assign() -> None:
    config = settings(weights=(0.2, 0.8), coverage=0.9)
    for index in range(500):
        user = f"user-{index}"
        expected = assign(EXPERIMENT, user, [0.2, 0.8], 0.9)
        plan = route(config, user)
        assert plan.in_experiment is (expected is not None)
        assert plan.primary.name == ("control", "treatment")[expected or 0]


def test_split_over_5000_users_matches_the_weights() -> None:
    config = settings(weights=(0.3, 0.7))
    counts = Counter(route(config, f"user-{index:06d}").primary.name for index in range(5000))
    observed = [counts["control"], counts["treatment"]]
    assert sum(observed) == 5000
    assert chisquare(observed, f_exp=[1500, 3500]).pvalue > 0.001


def test_same_user_same_variant_across_router_restarts(arms, make_router, row) -> None:
    _, _, mounts = arms
    users = [f"user-{index}" for index in range(40)]
    seen = []
    for _ in range(2):  # two independent router processes' worth of state
        router = make_router(settings(), mounts)
        seen.append([
            router.post("/predict", json={"rows": [row], "user_id": user}).json()["variant"]
            for user in users
        ])
    assert seen[0] == seen[1]
    assert seen[0] == [route(settings(), user).primary.name for user in users]
    assert set(seen[0]) == {"control", "treatment"}


# --- forwarding ------------------------------------------------------------------------


def test_variant_and_experiment_are_stamped_into_the_prediction_log(arms, make_router,
                                                                    row) -> None:
    control, treatment, mounts = arms
    router = make_router(settings(), mounts)
    expected = {}
    for user in users_in("control", 3) + users_in("treatment", 3):
        response = router.post("/predict", json={"rows": [row, row], "user_id": user})
        assert response.status_code == 200
        body = response.json()
        assert body["variant"] == route(settings(), user).primary.name
        assert body["experiment"] == EXPERIMENT
        assert body["in_experiment"] is True
        assert body["version"] == {"control": "1", "treatment": "2"}[body["variant"]]
        assert len(body["predictions"]) == 2
        assert response.headers["x-variant"] == body["variant"]
        assert response.headers["x-request-id"] == body["request_id"]
        expected[body["request_id"]] = (user, body["variant"])
    for served, variant in ((control, "control"), (treatment, "treatment")):
        lines = [json.loads(line) for line in served.log_lines()]
        assert len(lines) == 6  # 3 users x 2 rows
        for line in lines:
            assert line["experiment"] == EXPERIMENT
            assert line["variant"] == variant
            assert expected[line["request_id"]] == (line["user_id"], variant)


def test_users_outside_coverage_get_the_control_unstamped(arms, make_router, row) -> None:
    control, _, mounts = arms
    config = settings(coverage=0.3)
    outside = [user for user in (f"u-{i}" for i in range(200))
               if not route(config, user).in_experiment][:5]
    router = make_router(config, mounts)
    for user in outside:
        body = router.post("/predict", json={"rows": [row], "user_id": user}).json()
        assert body["variant"] == "control"
        assert body["in_experiment"] is False
        assert body["experiment"] is None
    lines = [json.loads(line) for line in control.log_lines()]
    assert {line["user_id"] for line in lines} == set(outside)
    assert all("variant" not in line and "experiment" not in line for line in lines)


def test_upstream_down_is_502_naming_the_variant(arms, make_router, row) -> None:
    _, _, mounts = arms
    dead = f"http://127.0.0.1:{closed_port()}"
    config = settings(variants=(Variant("control", CONTROL_URL), Variant("treatment", dead)))
    router = make_router(config, {CONTROL_URL: mounts[CONTROL_URL]})
    user = users_in("treatment", 1, config)[0]
    response = router.post("/predict", json={"rows": [row], "user_id": user})
    assert response.status_code == 502
    assert response.json()["variant"] == "treatment"
    assert "treatment" in response.json()["detail"]
    ok = router.post("/predict", json={"rows": [row], "user_id": users_in("control", 1)[0]})
    assert ok.status_code == 200  # the other arm keeps serving

    families = {f.name: f for f in text_string_to_metric_families(router.get("/metrics").text)}
    requests = {(s.labels["variant"], s.labels["code"]): s.value
                for s in families["modelrail_router_requests"].samples
                if s.name.endswith("_total")}
    assert requests == {("treatment", "502"): 1.0, ("control", "200"): 1.0}
    errors = {s.labels["reason"]: s.value
              for s in families["modelrail_router_upstream_errors"].samples
              if s.name.endswith("_total")}
    assert errors == {"connect": 1.0}


async def _failing(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"boom"})


async def _hanging(scope: Any, receive: Any, send: Any) -> None:
    await anyio.sleep(30)


@pytest.mark.parametrize(("app", "status"), [(_failing, 502), (_hanging, 504)])
def test_upstream_failure_and_timeout_name_the_variant(make_router, row, app, status) -> None:
    config = settings(timeout_seconds=0.3)
    router = make_router(config, {CONTROL_URL: httpx2.ASGITransport(app=app),
                                  TREATMENT_URL: httpx2.ASGITransport(app=app)})
    user = users_in("treatment", 1)[0]
    response = router.post("/predict", json={"rows": [row], "user_id": user})
    assert response.status_code == status
    assert response.json()["variant"] == "treatment"
    assert "treatment" in response.json()["detail"]


def test_model_validation_errors_pass_through(arms, make_router, row) -> None:
    _, _, mounts = arms
    router = make_router(settings(), mounts)
    bad = {**row, "price": "cheap"}
    response = router.post("/predict", json={"rows": [bad], "user_id": "u-1"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "rows", 0, "price"]
    assert response.json()["variant"] == route(settings(), "u-1").primary.name


@pytest.mark.parametrize("body", [
    {"rows": [{"position": 1}]},  # no user_id
    {"rows": [{"position": 1}], "user_id": ""},
    {"rows": [], "user_id": "u-1"},
    {"rows": [{"position": 1}], "user_id": "u-1", "variant": "treatment"},  # router decides
    {"rows": [{"position": 1}], "user_id": "u-1", "experiment": "other"},
])
def test_router_rejects_bodies_it_cannot_route(make_router, body) -> None:
    router = make_router(settings(), {})
    assert router.post("/predict", json=body).status_code == 422


def test_readyz_reports_each_variant(arms, make_router) -> None:
    _, _, mounts = arms
    assert make_router(settings(), mounts).get("/readyz").json() == {
        "status": "ready", "variants": {"control": "ready", "treatment": "ready"}}
    dead = f"http://127.0.0.1:{closed_port()}"
    config = settings(variants=(Variant("control", CONTROL_URL), Variant("treatment", dead)))
    response = make_router(config, {CONTROL_URL: mounts[CONTROL_URL]}).get("/readyz")
    assert response.status_code == 503
    assert response.json()["variants"]["control"] == "ready"
    assert response.json()["variants"]["treatment"].startswith("unreachable")


def test_healthz(make_router) -> None:
    assert make_router(settings(), {}).get("/healthz").json() == {"status": "ok"}


# --- settings --------------------------------------------------------------------------


def test_settings_from_env() -> None:
    config = RouterSettings.from_env({
        "EXPERIMENT": "exp",
        "VARIANTS": "a=http://127.0.0.1:8081/, b=http://127.0.0.1:8082",
        "WEIGHTS": "0.25,0.75",
        "COVERAGE": "0.5",
        "UPSTREAM_TIMEOUT_SECONDS": "1.5",
    })
    assert config.variants == (Variant("a", "http://127.0.0.1:8081"),
                               Variant("b", "http://127.0.0.1:8082"))
    assert config.weights == (0.25, 0.75)
    assert config.coverage == 0.5
    assert config.timeout_seconds == 1.5
    assert config.control.name == "a"


def test_settings_from_json_file(tmp_path) -> None:
    path = tmp_path / "router.json"
    path.write_text(json.dumps({"experiment": "exp", "variants": {
        "control": "http://127.0.0.1:1", "treatment": "http://127.0.0.1:2", "t2": "http://x:3"}}))
    config = RouterSettings.from_env({"ROUTER_CONFIG": str(path), "EXPERIMENT": "ignored"})
    assert config.experiment == "exp"
    assert [v.name for v in config.variants] == ["control", "treatment", "t2"]
    assert sum(config.weights) == pytest.approx(1.0)


@pytest.mark.parametrize(("env", "names"), [
    ({"VARIANTS": "a=http://h:1,b=http://h:2"}, "EXPERIMENT"),
    ({"EXPERIMENT": "e", "VARIANTS": "a=http://h:1"}, "at least two"),
    ({"EXPERIMENT": "e", "VARIANTS": "a=http://h:1,a=http://h:2"}, "unique"),
    ({"EXPERIMENT": "e", "VARIANTS": "a=h:1,b=http://h:2"}, "a's URL"),
    ({"EXPERIMENT": "e", "VARIANTS": "a:http://h:1"}, "name=url"),
    ({"EXPERIMENT": "e", "VARIANTS": "a=http://h:1,b=http://h:2", "WEIGHTS": "0.5,0.6"},
     "sum to 1"),
    ({"EXPERIMENT": "e", "VARIANTS": "a=http://h:1,b=http://h:2", "WEIGHTS": "1"}, "WEIGHTS"),
    ({"EXPERIMENT": "e", "VARIANTS": "a=http://h:1,b=http://h:2", "COVERAGE": "1.5"},
     "coverage"),
    ({"EXPERIMENT": "e", "VARIANTS": "a=http://h:1,b=http://h:2", "COVERAGE": "x"},
     "COVERAGE"),
])
def test_bad_settings_name_the_problem(env, names) -> None:
    with pytest.raises(RouterSettingsError, match=names):
        RouterSettings.from_env(env)


def test_parse_variants_keeps_order() -> None:
    assert [v.name for v in parse_variants("z=http://h:1,a=http://h:2")] == ["z", "a"]
