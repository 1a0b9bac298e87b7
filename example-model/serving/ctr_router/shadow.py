"""Shadow mode: an asynchronous copy of each answered request goes to a shadow variant.

The production answer is sent first and never waits for the shadow: ``submit`` puts the
copy in a bounded in-memory queue without blocking (a full queue drops the copy and
counts it), and a few worker tasks post the copies with their own HTTP client (own
connection pool, so a hanging shadow cannot starve production of connections) and a hard
time limit per call. The copy carries ``shadow_of`` (the production answer's request id),
so the shadow server logs its lines with ``shadow=true`` and that id, and
``modelrail shadow analyze`` joins both logs on it. Nothing a shadow answers reaches a
user; its outcome is only counted (``modelrail_router_shadow_requests_total`` by outcome,
``modelrail_router_shadow_dropped_total``, ``modelrail_router_shadow_duration_seconds``).
"""

from __future__ import annotations

import math
import time
from typing import Any

import anyio
import httpx2
from anyio.abc import TaskGroup

from ctr_router.config import Variant
from ctr_router.metrics import RouterMetrics


class ShadowSender:
    def __init__(self, variant: Variant, metrics: RouterMetrics, *, queue_size: int,
                 workers: int, timeout_seconds: float) -> None:
        self.variant = variant
        self._metrics = metrics
        self._workers = workers
        self._timeout = timeout_seconds
        self._send, self._receive = anyio.create_memory_object_stream[dict[str, Any]](
            max_buffer_size=queue_size if queue_size > 0 else math.inf)

    def start(self, group: TaskGroup, client: httpx2.AsyncClient) -> None:
        for _ in range(self._workers):
            group.start_soon(self._work, client)

    def submit(self, payload: dict[str, Any]) -> bool:
        """Queue a copy; False (counted as dropped) when the queue is full."""
        try:
            self._send.send_nowait(payload)
        except anyio.WouldBlock:
            self._metrics.shadow_dropped(self.variant.name)
            return False
        return True

    async def _work(self, client: httpx2.AsyncClient) -> None:
        async for payload in self._receive:
            started = time.perf_counter()
            outcome = await self._post(client, payload)
            self._metrics.shadow_observe(self.variant.name, outcome,
                                         time.perf_counter() - started)

    async def _post(self, client: httpx2.AsyncClient, payload: dict[str, Any]) -> str:
        try:
            with anyio.fail_after(self._timeout):
                answer = await client.post(f"{self.variant.url}/predict", json=payload)
        except TimeoutError:
            return "timeout"
        except Exception:  # a broken shadow must never take a worker down
            return "error"
        return "ok" if answer.status_code < 400 else "error"
