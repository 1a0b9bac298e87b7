"""Prometheus metrics of one router process (own registry, so tests stay isolated).

``modelrail_router_requests_total`` by ``variant`` and ``code`` shows the live split and
each arm's error rate; a sample-ratio mismatch or a failing arm is visible here before
the scheduled analysis reads the prediction logs.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

# `*_created` series double the exposition and no query here uses them (as in ctr_serving).
disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
    0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0,
)


class RouterMetrics:
    def __init__(self, experiment: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.experiment = experiment
        self.requests = Counter(
            "modelrail_router_requests",
            "Routed /predict requests by variant, HTTP status code and experiment membership",
            ["experiment", "variant", "code", "in_experiment"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelrail_router_request_duration_seconds",
            "Routed /predict latency including the upstream call, in seconds",
            ["experiment", "variant"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "modelrail_router_upstream_errors",
            "Forwarded calls that failed: connect, timeout, or a 5xx from the model server",
            ["experiment", "variant", "reason"],
            registry=self.registry,
        )

        self.shadow_requests = Counter(
            "modelrail_router_shadow_requests",
            "Mirrored copies sent to the shadow variant, by outcome (ok, error, timeout)",
            ["experiment", "variant", "outcome"],
            registry=self.registry,
        )
        self.shadow_drops = Counter(
            "modelrail_router_shadow_dropped",
            "Mirrored copies dropped because the shadow queue was full",
            ["experiment", "variant"],
            registry=self.registry,
        )
        self.shadow_latency = Histogram(
            "modelrail_router_shadow_duration_seconds",
            "Shadow call latency, in seconds (never part of a production answer)",
            ["experiment", "variant"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def shadow_observe(self, variant: str, outcome: str, seconds: float) -> None:
        self.shadow_requests.labels(self.experiment, variant, outcome).inc()
        self.shadow_latency.labels(self.experiment, variant).observe(seconds)

    def shadow_dropped(self, variant: str) -> None:
        self.shadow_drops.labels(self.experiment, variant).inc()

    def observe(self, variant: str, code: int, in_experiment: bool, seconds: float) -> None:
        self.requests.labels(
            self.experiment, variant, str(code), "true" if in_experiment else "false"
        ).inc()
        self.latency.labels(self.experiment, variant).observe(seconds)

    def upstream_error(self, variant: str, reason: str) -> None:
        self.upstream_errors.labels(self.experiment, variant, reason).inc()
