"""The router app: ``POST /predict``, ``GET /healthz``, ``GET /readyz``, ``GET /metrics``.

``/readyz`` is 200 once every variant's model server is ready.
Run it with ``uvicorn --factory ctr_router.app:create_app`` (settings from the environment,
see ``ctr_router.config``). ``/predict`` takes the model server's body plus a required
``user_id``, picks the user's variant (``ctr_router.routing``), stamps ``experiment`` and
``variant`` into the body so the model server's prediction log records them, forwards it,
and returns the model's answer with ``variant``, ``experiment`` and ``in_experiment``.

Errors name the variant, because "the treatment is down" and "the router is down" need
different people: a model server that cannot be reached or answers 5xx gives 502, one
that does not answer within ``UPSTREAM_TIMEOUT_SECONDS`` gives 504. A 4xx from the model
(an invalid row) is passed through unchanged: it is the caller's error, not the variant's.
The router does not validate feature rows itself: the model server owns its schema.

With a shadow variant configured (``SHADOW``), every answered request is also copied to
it after the answer is ready, off the request path (``ctr_router.shadow``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import httpx2
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from ctr_router import __version__
from ctr_router.config import RouterSettings
from ctr_router.metrics import RouterMetrics
from ctr_router.routing import Route, route
from ctr_router.shadow import ShadowSender

_PASSED_HEADERS = ("x-request-id",)


class RoutedRequest(BaseModel):
    """The model server's body with ``user_id`` required; the router sets the rest.

    ``experiment`` and ``variant`` are refused (422): they are the router's to decide, and
    a caller that sets them would corrupt the analysis.
    """

    model_config = ConfigDict(extra="forbid")

    rows: list[dict[str, Any]] = Field(min_length=1)
    user_id: str = Field(min_length=1, max_length=256)


def create_app(
    settings: RouterSettings | None = None,
    *,
    registry: CollectorRegistry | None = None,
    mounts: Mapping[str, httpx2.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """Build the app. ``mounts`` replaces the network for some URLs (tests)."""
    settings = settings or RouterSettings.from_env()
    metrics = RouterMetrics(settings.experiment, registry)
    clients: list[httpx2.AsyncClient] = []
    shadow = ShadowSender(settings.shadow, metrics, queue_size=settings.shadow_queue_size,
                          workers=settings.shadow_workers,
                          timeout_seconds=settings.timeout_seconds) if settings.shadow else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        client = httpx2.AsyncClient(
            timeout=httpx2.Timeout(settings.timeout_seconds),
            mounts=dict(mounts) if mounts else None,
            trust_env=False,  # model servers are internal: never through a proxy
        )
        clients.append(client)
        try:
            if shadow is None:
                yield
            else:
                async with _shadow_running(shadow, settings, mounts):
                    yield
        finally:
            await client.aclose()

    app = FastAPI(
        title="ctr-ranker router",
        version=__version__,
        summary="Assigns users to model variants and forwards their requests",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
    )
    app.state.router_settings = settings
    app.state.router_metrics = metrics

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The router process is up; it does not probe the model servers."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "a variant is not ready"}})
    async def readyz() -> JSONResponse:
        """200 when every variant's model server is ready (its own ``/readyz``).

        A router in front of a model that is still loading would answer 502 for that
        arm only, skewing the split the analysis sees; readiness keeps traffic away until
        every arm can answer.
        """
        states: dict[str, str] = {}

        async def probe(name: str, url: str) -> None:
            try:
                with anyio.fail_after(settings.timeout_seconds):
                    answer = await clients[0].get(f"{url}/readyz")
            except (TimeoutError, httpx2.HTTPError) as exc:
                states[name] = f"unreachable ({type(exc).__name__})"
            else:
                states[name] = "ready" if answer.status_code == 200 else (
                    f"not ready ({answer.status_code})")

        async with anyio.create_task_group() as group:
            for variant in settings.variants:
                group.start_soon(probe, variant.name, variant.url)
        ready = all(state == "ready" for state in states.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready",
             "variants": {v.name: states[v.name] for v in settings.variants}},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/predict")
    async def predict(body: RoutedRequest, request: Request) -> Response:
        """Assign, stamp, forward; answer with the model's response and the variant."""
        started = time.perf_counter()
        plan = route(settings, body.user_id)
        response = await _forward(clients[0], settings, metrics, plan, body)
        metrics.observe(plan.primary.name, response.status_code, plan.in_experiment,
                        time.perf_counter() - started)
        request_id = response.headers.get("x-request-id")
        if shadow is not None and response.status_code == 200 and request_id:
            shadow.submit({"rows": body.rows, "user_id": body.user_id, **plan.stamp,
                           "shadow_of": request_id})
        return response

    return app


@contextlib.asynccontextmanager
async def _shadow_running(
    shadow: ShadowSender,
    settings: RouterSettings,
    mounts: Mapping[str, httpx2.AsyncBaseTransport] | None,
) -> AsyncIterator[None]:
    """The shadow's workers and client (its own pool) for the app's lifetime."""
    async with httpx2.AsyncClient(
        timeout=httpx2.Timeout(settings.timeout_seconds),
        mounts=dict(mounts) if mounts else None,
        trust_env=False,
    ) as client, anyio.create_task_group() as group:
        shadow.start(group, client)
        yield
        group.cancel_scope.cancel()


async def _forward(
    client: httpx2.AsyncClient,
    settings: RouterSettings,
    metrics: RouterMetrics,
    plan: Route,
    body: RoutedRequest,
) -> Response:
    variant = plan.primary.name
    payload = {"rows": body.rows, "user_id": body.user_id, **plan.stamp}
    try:
        # httpx's timeout bounds each phase; fail_after bounds the whole call (a model
        # server that trickles bytes would otherwise hold the request forever).
        with anyio.fail_after(settings.timeout_seconds):
            upstream = await client.post(f"{plan.primary.url}/predict", json=payload)
    except (TimeoutError, httpx2.TimeoutException):
        metrics.upstream_error(variant, "timeout")
        return _error(504, plan, f"variant {variant!r} did not answer within "
                                 f"{settings.timeout_seconds:g}s")
    except httpx2.HTTPError as exc:
        metrics.upstream_error(variant, "connect")
        return _error(502, plan, f"variant {variant!r} is unreachable: "
                                 f"{type(exc).__name__}: {exc}")
    headers = {"X-Variant": variant}
    headers.update({name: upstream.headers[name] for name in _PASSED_HEADERS
                    if name in upstream.headers})
    if upstream.status_code >= 500:
        metrics.upstream_error(variant, "status")
        return _error(502, plan, f"variant {variant!r} answered {upstream.status_code}",
                      upstream_status=upstream.status_code)
    try:
        answer = upstream.json()
    except json.JSONDecodeError:
        metrics.upstream_error(variant, "body")
        return _error(502, plan, f"variant {variant!r} answered a body that is not JSON",
                      upstream_status=upstream.status_code)
    if not isinstance(answer, dict):
        answer = {"detail": answer}
    answer.update(variant=variant, experiment=plan.experiment if plan.in_experiment else None,
                  in_experiment=plan.in_experiment)
    return JSONResponse(answer, status_code=upstream.status_code, headers=headers)


def _error(status: int, plan: Route, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "variant": plan.primary.name, **extra},
        status_code=status,
        headers={"X-Variant": plan.primary.name},
    )
