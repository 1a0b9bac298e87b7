"""Send planned sessions through the router and turn its answers into business events.

Event lines (JSONL), one per click and one per session end::

    {"timestamp": "2026-01-01T12:00:07.250000+00:00", "user_id": "user-000042",
     "type": "click", "request_id": "<the model server's request id>", "value": 1.0}
    {"timestamp": "...", "user_id": "...", "type": "session_end", "request_id": "...",
     "value": 143.2}

``value`` is 1 for a click and the session's duration in seconds for a session end.
Timestamps are the wall-clock time the router answered plus the planned delay, so they
fall after the prediction log's timestamp of the same request and an attribution window
joins them; everything else in the file is fixed by the seed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx2

from simulator.population import Session, plan_sessions

EVENT_KEYS = ("timestamp", "user_id", "type", "request_id", "value")


class Poster(Protocol):
    """What sends one request: an ``httpx2.Client`` (or Starlette's TestClient)."""

    def post(self, url: str, *, json: Any) -> Any: ...


@dataclass(frozen=True)
class SimulationConfig:
    users: int
    seed: int
    effect: float = 0.05  # relative CTR lift of the treatment variant
    treatment: str = "treatment"
    rows_per_request: int = 5
    concurrency: int = 4
    max_requests: int = 50_000
    deadline_seconds: float = 600.0
    shift: Mapping[str, float] = field(default_factory=dict)  # feature -> factor (drift)
    population_seed: int | None = None  # users and items (default: seed)

    def __post_init__(self) -> None:
        if self.effect <= -1.0:
            raise ValueError("effect must be greater than -1 (a CTR cannot turn negative)")
        if self.concurrency < 1:
            raise ValueError("concurrency must be positive")


@dataclass
class VariantTotals:
    users: set[str] = field(default_factory=set)
    requests: int = 0
    impressions: int = 0
    clicks: int = 0
    expected_clicks: float = 0.0  # sum of the true click probabilities, effect included
    sessions: int = 0
    duration_sum: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "users": len(self.users),
            "requests": self.requests,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "expected_clicks": round(self.expected_clicks, 6),
            "ctr": self.clicks / self.impressions if self.impressions else None,
            "true_ctr": self.expected_clicks / self.impressions if self.impressions else None,
            "mean_session_seconds": self.duration_sum / self.sessions if self.sessions else None,
        }


@dataclass
class SimulationResult:
    events: list[dict[str, Any]]
    variants: dict[str, VariantTotals]
    errors: dict[str, int]  # "<status> <variant>" -> count
    sent: int
    planned: int
    finished: bool  # False when the deadline stopped the run

    def summary(self) -> dict[str, Any]:
        return {
            "planned_requests": self.planned,
            "sent_requests": self.sent,
            "finished": self.finished,
            "events": len(self.events),
            "errors": dict(sorted(self.errors.items())),
            "variants": {name: totals.as_dict() for name, totals in sorted(self.variants.items())},
        }


@dataclass(frozen=True)
class _Answer:
    session: Session
    status: int
    body: dict[str, Any]
    received: datetime


def simulate(config: SimulationConfig, client: Poster) -> SimulationResult:
    """Play every planned session through ``client`` (base URL: the router)."""
    sessions = plan_sessions(config.seed, config.users, config.rows_per_request, config.shift,
                             config.population_seed)
    if len(sessions) > config.max_requests:
        raise ValueError(
            f"{len(sessions)} requests planned, more than max_requests={config.max_requests}"
        )
    deadline = time.monotonic() + config.deadline_seconds

    def send(session: Session) -> _Answer | None:
        if time.monotonic() > deadline:
            return None
        try:
            response = client.post("/predict", json={"rows": session.rows,
                                                     "user_id": session.user_id})
        except httpx2.HTTPError:  # the router itself is unreachable: counted as status 0
            return _Answer(session, 0, {}, datetime.now(UTC))
        try:
            body = response.json()
        except ValueError:
            body = {}
        return _Answer(session, response.status_code, body if isinstance(body, dict) else {},
                       datetime.now(UTC))

    with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
        answers = list(pool.map(send, sessions))
    return _collect(config, answers, planned=len(sessions))


def _collect(
    config: SimulationConfig, answers: Iterable[_Answer | None], planned: int
) -> SimulationResult:
    events: list[dict[str, Any]] = []
    variants: dict[str, VariantTotals] = {}
    errors: dict[str, int] = {}
    sent = 0
    finished = True
    for answer in answers:  # in plan order: the event file's order is fixed by the seed
        if answer is None:
            finished = False
            continue
        sent += 1
        variant = str(answer.body.get("variant", "unknown"))
        if answer.status != 200:
            key = f"{answer.status} {variant}"
            errors[key] = errors.get(key, 0) + 1
            continue
        events.extend(_events(config, answer, variant, variants.setdefault(variant,
                                                                           VariantTotals())))
    return SimulationResult(events, variants, errors, sent, planned, finished)


def _events(
    config: SimulationConfig, answer: _Answer, variant: str, totals: VariantTotals
) -> list[dict[str, Any]]:
    session = answer.session
    request_id = str(answer.body.get("request_id", ""))
    lift = 1.0 + config.effect if variant == config.treatment else 1.0
    totals.users.add(session.user_id)
    totals.requests += 1
    totals.sessions += 1
    totals.duration_sum += session.duration
    out = []
    for ctr, draw, delay in zip(session.true_ctr, session.click_draws, session.click_delays,
                                strict=True):
        probability = min(1.0, ctr * lift)
        totals.impressions += 1
        totals.expected_clicks += probability
        if draw < probability:
            totals.clicks += 1
            out.append(_event(answer, "click", request_id, delay, 1.0))
    out.append(_event(answer, "session_end", request_id, session.duration, session.duration))
    return out


def _event(answer: _Answer, kind: str, request_id: str, delay: float,
           value: float) -> dict[str, Any]:
    at = answer.received + timedelta(seconds=delay)
    return {
        "timestamp": at.isoformat(timespec="microseconds"),
        "user_id": answer.session.user_id,
        "type": kind,
        "request_id": request_id,
        "value": value,
    }


def write_events(events: Iterable[dict[str, Any]], path: str) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n")
            count += 1
    return count
