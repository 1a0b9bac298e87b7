"""Prometheus metrics of one serving process (its own registry, so tests stay isolated).

Canary analysis reads ``modelrail_requests_total`` and
``modelrail_request_duration_seconds`` by ``version``. Only prediction traffic is counted
there: probes and scrapes (``/healthz``, ``/readyz``, ``/metrics``) would dilute error rates.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

# `*_created` series double the exposition and no query here uses them.
disable_created_metrics()

# Milliseconds matter: a CTR model answers in a few ms; the tail up to seconds still shows.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
    0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0,
)
# Click probabilities are small; resolve the low end finely.
SCORE_BUCKETS = (
    0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class ServingMetrics:
    def __init__(self, model: str, version: str, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.model = model
        self.version = version
        r = self.registry
        self.requests = Counter(
            "modelrail_requests",
            "Prediction requests by HTTP status code and model version",
            ["code", "version", "model", "handler", "method"],
            registry=r,
        )
        self.latency = Histogram(
            "modelrail_request_duration_seconds",
            "Prediction request latency, from request to response, in seconds",
            ["version", "model", "handler", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.scores = Histogram(
            "modelrail_prediction_score",
            "Predicted click probability of each scored row",
            ["version", "model"],
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.batch_rows = Histogram(
            "modelrail_prediction_batch_rows",
            "Rows per /predict request",
            ["version", "model"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.info = Gauge(
            "modelrail_model_info",
            "The model this process serves (always 1)",
            ["model", "version"],
            registry=r,
        )
        self.ready = Gauge(
            "modelrail_model_ready",
            "1 once the model artifact is loaded, else 0",
            ["model", "version"],
            registry=r,
        )
        self.log_written = Counter(
            "modelrail_prediction_log_lines_written",
            "Prediction log lines written to the sink",
            registry=r,
        )
        self.log_dropped = Counter(
            "modelrail_prediction_log_lines_dropped",
            "Prediction log lines dropped because the log buffer was full",
            registry=r,
        )
        self.log_errors = Counter(
            "modelrail_prediction_log_lines_failed",
            "Prediction log lines lost because the sink raised an error",
            registry=r,
        )
        self.log_pending = Gauge(
            "modelrail_prediction_log_lines_pending",
            "Prediction log lines buffered and not yet written",
            registry=r,
        )
        self.info.labels(model, version).set(1)
        self.ready.labels(model, version).set(0)
        # Touch the dropped counter so a scrape shows it at 0 before the first drop.
        self.log_dropped.inc(0)

    def set_pending_source(self, pending: Callable[[], int]) -> None:
        self.log_pending.set_function(lambda: float(pending()))

    def observe_request(self, handler: str, method: str, code: int, seconds: float) -> None:
        self.requests.labels(str(code), self.version, self.model, handler, method).inc()
        self.latency.labels(self.version, self.model, handler, method).observe(seconds)

    def observe_predictions(self, scores: list[float]) -> None:
        histogram = self.scores.labels(self.version, self.model)
        for score in scores:
            histogram.observe(score)
        self.batch_rows.labels(self.version, self.model).observe(len(scores))
