"""Prediction log: one JSON line per scored row, written off the request path.

The request thread only appends one batch (a request's rows) to a bounded in-memory buffer
under a lock and returns; a background thread serialises and writes the lines. When the
buffer holds ``capacity`` lines, a new batch is dropped whole and counted (the
``modelrail_prediction_log_dropped_total`` metric), so a slow or stuck sink never delays a
prediction. Line format (keys in this order; ``user_id``/``experiment``/``variant`` only
when the request carried them; ``"shadow": true, "shadow_of": "<production request id>"``
after them when a router mirrored the request to this server as a shadow)::

    {"timestamp": "2026-01-01T12:00:00.123456+00:00", "request_id": "<uuid4>", "row": 0,
     "user_id": "u1", "experiment": "ranker-v2", "variant": "treatment",
     "model": "ctr-ranker", "version": "3", "prediction": 0.0734,
     "features": {"position": 1, "category": 4, ...}}
"""

from __future__ import annotations

import collections
import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO


class Sink(Protocol):
    def write(self, text: str, /) -> Any: ...

    def flush(self) -> Any: ...


@dataclass(frozen=True)
class PredictionBatch:
    """What one /predict call logs; serialised into lines by the writer thread."""

    timestamp: str
    request_id: str
    model: str
    version: str
    rows: Sequence[Mapping[str, Any]]
    predictions: Sequence[float]
    user_id: str | None = None
    experiment: str | None = None
    variant: str | None = None
    shadow_of: str | None = None

    def lines(self) -> list[str]:
        context: dict[str, Any] = {"timestamp": self.timestamp, "request_id": self.request_id}
        out = []
        for index, (features, prediction) in enumerate(
            zip(self.rows, self.predictions, strict=True)
        ):
            record = {**context, "row": index}
            if self.user_id is not None:
                record["user_id"] = self.user_id
            if self.experiment is not None:
                record["experiment"] = self.experiment
            if self.variant is not None:
                record["variant"] = self.variant
            if self.shadow_of is not None:
                record.update(shadow=True, shadow_of=self.shadow_of)
            record.update(
                model=self.model,
                version=self.version,
                prediction=prediction,
                features=dict(features),
            )
            out.append(json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n")
        return out


def open_sink(target: str) -> tuple[Sink | None, Callable[[], None]]:
    """(sink, close) for ``PREDICTION_LOG``: ``stdout``, ``off`` or a file path."""
    if target.lower() == "off":
        return None, lambda: None
    if target.lower() == "stdout":
        return sys.stdout, lambda: None
    handle: TextIO = open(target, "a", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    return handle, handle.close


Counter = Callable[[float], None]


class PredictionLogger:
    """Bounded buffer + one daemon writer thread. ``submit`` never blocks on the sink."""

    def __init__(
        self,
        sink: Sink,
        capacity: int,
        on_written: Counter | None = None,
        on_dropped: Counter | None = None,
        on_error: Counter | None = None,
    ) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self._sink = sink
        self._capacity = capacity
        self._on_written = on_written or (lambda _n: None)
        self._on_dropped = on_dropped or (lambda _n: None)
        self._on_error = on_error or (lambda _n: None)
        self._batches: collections.deque[PredictionBatch] = collections.deque()
        self._pending = 0  # lines buffered or being written
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)

    @property
    def capacity(self) -> int:
        return self._capacity

    def pending(self) -> int:
        """Lines accepted but not written yet."""
        with self._cond:
            return self._pending

    def start(self) -> None:
        self._thread.start()

    def submit(self, batch: PredictionBatch) -> bool:
        """Buffer ``batch`` for writing; False (and counted as dropped) when it does not fit."""
        size = len(batch.rows)
        with self._cond:
            if self._stopping or self._pending + size > self._capacity:
                accepted = False
            else:
                self._batches.append(batch)
                self._pending += size
                self._cond.notify()
                accepted = True
        if not accepted:
            self._on_dropped(size)
        return accepted

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, write what is buffered for up to ``timeout`` s, then return."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._batches and not self._stopping:
                    self._cond.wait()
                if not self._batches:
                    return  # stopping and drained
                batch = self._batches.popleft()
            self._write(batch)

    def _write(self, batch: PredictionBatch) -> None:
        written = 0
        try:
            for line in batch.lines():
                self._sink.write(line)
                written += 1
            self._sink.flush()
        except Exception:  # a broken sink must not kill the writer; count and go on
            self._on_error(len(batch.rows) - written)
            with contextlib.suppress(Exception):
                sys.stderr.write(f"prediction-log: write failed for request {batch.request_id}\n")
        finally:
            if written:
                self._on_written(written)
            with self._cond:
                self._pending -= len(batch.rows)

    def wait_idle(self, timeout: float) -> bool:
        """Block until every accepted line is written (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.01)
        return self.pending() == 0
