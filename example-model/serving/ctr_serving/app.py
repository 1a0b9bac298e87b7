"""The FastAPI app: ``POST /predict``, ``GET /healthz``, ``GET /readyz``, ``GET /metrics``.

Run it with ``uvicorn --factory ctr_serving.app:create_app`` (settings come from the
environment, see ``ctr_serving.config``). The model loads in a background thread at
start-up: ``/healthz`` answers at once, ``/readyz`` turns 200 when the model is loaded.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ctr_serving import __version__
from ctr_serving.config import Settings
from ctr_serving.metrics import ServingMetrics
from ctr_serving.model import LoadedModel, load_model
from ctr_serving.predlog import PredictionBatch, PredictionLogger, Sink, open_sink

log = logging.getLogger("ctr_serving")

# Probes and scrapes are not traffic: counting them would dilute canary error rates.
OPERATIONAL_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
TRAFFIC_PATHS = frozenset({"/predict"})


class PredictRequest(BaseModel):
    """A batch of feature rows to score, with optional experiment context for the log."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "rows": [
                    {"position": 1, "category": 4, "popularity": 0.42, "price": 19.9,
                     "activity_level": 2, "age_bucket": 3, "device": 0, "region": 5,
                     "hour_of_day": 21}
                ],
                "user_id": "u-123",
                "experiment": "ranker-v2",
                "variant": "treatment",
            }
        },
    )

    rows: list[dict[str, Any]] = Field(
        min_length=1, description="Feature rows; keys are the model's feature names"
    )
    user_id: str | None = Field(default=None, min_length=1, max_length=256)
    experiment: str | None = Field(default=None, min_length=1, max_length=256)
    variant: str | None = Field(default=None, min_length=1, max_length=256)
    shadow_of: str | None = Field(
        default=None, min_length=1, max_length=256,
        description="Set by a router mirroring a request: the production request id; "
                    "the log lines get shadow=true and this id")


class PredictResponse(BaseModel):
    predictions: list[float] = Field(description="Click probability per row, in row order")
    model: str
    version: str
    request_id: str


@dataclass
class ServingState:
    """What the handlers share: settings, metrics, the model once loaded, the log."""

    settings: Settings
    metrics: ServingMetrics
    model: LoadedModel | None = None
    load_error: str | None = None
    logger: PredictionLogger | None = None
    loaded: threading.Event = field(default_factory=threading.Event)

    def wait_loaded(self, timeout: float) -> bool:
        """True once the load attempt finished (successfully or not)."""
        return self.loaded.wait(timeout)


Loader = Callable[[str], LoadedModel]


def create_app(
    settings: Settings | None = None,
    *,
    sink: Sink | None = None,
    registry: CollectorRegistry | None = None,
    loader: Loader = load_model,
) -> FastAPI:
    """Build the app. ``sink`` replaces the ``PREDICTION_LOG`` target (tests)."""
    settings = settings or Settings.from_env()
    metrics = ServingMetrics(settings.model_name, settings.model_version, registry)
    state = ServingState(settings=settings, metrics=metrics)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _configure_logging()
        close_sink: Callable[[], None] = lambda: None  # noqa: E731
        target: Sink | None = sink
        if target is None:
            target, close_sink = open_sink(settings.prediction_log)
        if target is not None:
            state.logger = PredictionLogger(
                target,
                capacity=settings.prediction_log_queue_lines,
                on_written=metrics.log_written.inc,
                on_dropped=metrics.log_dropped.inc,
                on_error=metrics.log_errors.inc,
            )
            metrics.set_pending_source(state.logger.pending)
            state.logger.start()
        threading.Thread(
            target=_load, args=(state, loader), name="model-load", daemon=True
        ).start()
        try:
            yield
        finally:
            if state.logger is not None:
                state.logger.close(timeout=5.0)
            close_sink()

    app = FastAPI(
        title="ctr-ranker serving",
        version=__version__,
        summary="Click-through-rate predictions for batches of impressions",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,  # larger bodies get 413 before parsing
    )
    app.state.serving = state
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.add_exception_handler(RequestValidationError, validation_error_handler)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up (liveness)."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "model not loaded (yet)"}})
    def readyz() -> JSONResponse:
        """200 once the model is loaded (readiness), 503 while loading or after a failure."""
        body: dict[str, Any] = {"model": settings.model_name, "version": settings.model_version}
        if state.model is not None:
            return JSONResponse({"status": "ready", **body})
        if state.load_error is not None:
            return JSONResponse({"status": "failed", "error": state.load_error, **body}, 503)
        return JSONResponse({"status": "loading", **body}, 503)

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        """Prometheus text exposition of this process's metrics."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/predict",
        response_model=PredictResponse,
        responses={503: {"description": "model not loaded (yet)"}},
    )
    def predict(request: PredictRequest, response: Response) -> PredictResponse:
        """Score every row; 422 names the offending field of an invalid request."""
        model = state.model
        if model is None:
            raise HTTPException(503, detail="model not loaded")
        limit = settings.max_batch_rows
        if len(request.rows) > limit:
            raise RequestValidationError([{
                "type": "too_long",
                "loc": ("body", "rows"),
                "msg": f"List should have at most {limit} items after validation, "
                       f"not {len(request.rows)}",
                "ctx": {"field_type": "List", "max_length": limit,
                        "actual_length": len(request.rows)},
            }])
        try:
            rows = model.rows_adapter.validate_python(request.rows)
        except ValidationError as exc:
            raise RequestValidationError([
                {**error, "loc": ("body", "rows", *error["loc"])}
                for error in exc.errors(include_url=False)
            ]) from None
        request_id = str(uuid.uuid4())
        timestamp = datetime.now(UTC).isoformat(timespec="microseconds")
        scores = model.predict(rows)
        metrics.observe_predictions(scores)
        if state.logger is not None:
            state.logger.submit(PredictionBatch(
                timestamp=timestamp,
                request_id=request_id,
                model=settings.model_name,
                version=settings.model_version,
                rows=rows,
                predictions=scores,
                user_id=request.user_id,
                experiment=request.experiment,
                variant=request.variant,
                shadow_of=request.shadow_of,
            ))
        response.headers["X-Request-ID"] = request_id
        return PredictResponse(
            predictions=scores,
            model=settings.model_name,
            version=settings.model_version,
            request_id=request_id,
        )

    return app


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body, safe for any input: NaN/Infinity echoed back would make it a 500."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = []
    for error in errors:
        item = {key: value for key, value in error.items() if key not in ("input", "ctx")}
        if "input" in error:
            item["input"] = _json_safe(error["input"])
        if "ctx" in error:
            item["ctx"] = {key: _json_safe(value) for key, value in error["ctx"].items()}
        detail.append(item)
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


def _json_safe(value: Any, depth: int = 0) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if depth > 20:
        return repr(value)
    if isinstance(value, dict):
        return {str(key): _json_safe(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item, depth + 1) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _load(state: ServingState, loader: Loader) -> None:
    path = state.settings.model_path
    started = time.perf_counter()
    try:
        model = loader(path)
    except Exception as exc:  # reported by /readyz; the process stays up to say why
        state.load_error = f"{type(exc).__name__}: {exc}"
        log.error("model load failed: %s", state.load_error)
    else:
        state.model = model
        state.metrics.ready.labels(state.settings.model_name, state.settings.model_version).set(1)
        log.info(
            "model %s version %s loaded from %s in %.2fs (%d features)",
            state.settings.model_name, state.settings.model_version, model.source,
            time.perf_counter() - started, len(model.features),
        )
    finally:
        state.loaded.set()


def _configure_logging() -> None:
    if not log.handlers:
        handler = logging.StreamHandler()  # stderr: stdout carries the prediction log
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


class RequestMetricsMiddleware:
    """Counts requests by status code and times them (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPERATIONAL_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        except Exception:
            status = 500
            raise
        finally:
            handler = path if path in TRAFFIC_PATHS else "other"
            self.metrics.observe_request(
                handler, scope.get("method", ""), status, time.perf_counter() - started
            )
