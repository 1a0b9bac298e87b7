"""Prediction log: one JSON line per scored row, written off the request path.

The request thread encodes its batch (a request's rows: tens of microseconds) and appends
the text to a bounded in-memory buffer under a lock; a background thread writes it. When
the buffer holds ``capacity`` lines, a new batch is dropped whole and counted (the
``modelrail_prediction_log_dropped_total`` metric), so a slow or stuck sink never delays a
prediction.

Encoding in the request thread is deliberate: the writer shares the process (and the
GIL) with the request path, and a writer that encoded a whole burst held the GIL for
milliseconds while requests waited (on an idle machine that cost 19-23 % of the maximum
throughput, against 10-18 % now; bench/serving_latency.py). Once a batch arrives the
writer waits ``linger`` seconds (50 ms) for more, then hands the sink everything buffered
in one string and one flush: one wake-up and one system call for many requests. Only the
first batch into an empty buffer wakes it. A batch encodes only what differs per row: the
per-request part of a line once, the rest with a reused C JSON encoder. Lines reach the
sink at most ``linger`` plus one write after their request.

Line format (keys in this order; ``user_id``/``experiment``/``variant`` only when the
request carried them; ``"shadow": true, "shadow_of": "<production request id>"`` after them
when a router mirrored the request to this server as a shadow)::

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


def _refuse(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _compact_encoder() -> Callable[[object], str]:
    """``json.dumps(value, separators=(",", ":"), allow_nan=False)``, byte for byte, without
    building an encoder per call (json.dumps does; that was most of the logging cost)."""
    make = json.encoder.c_make_encoder
    if make is None:  # no C accelerator on this interpreter: the stdlib's own path
        return json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
    # (markers, default, encoder, indent, key_sep, item_sep, sort_keys, skipkeys, allow_nan)
    iterencode = make(None, _refuse, json.encoder.encode_basestring_ascii, None, ":", ",",
                      False, False, False)
    return lambda value: "".join(iterencode(value, 0))


_encode = _compact_encoder()


class Sink(Protocol):
    def write(self, text: str, /) -> Any: ...

    def flush(self) -> Any: ...


@dataclass(frozen=True)
class PredictionBatch:
    """What one /predict call logs (`text()`: its lines)."""

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

    def text(self) -> str:
        """The batch's lines (one JSON object per row, ``\\n``-terminated) as one string.

        Byte for byte what ``json.dumps(record, separators=(",", ":"), allow_nan=False)``
        gives for each row's record; a NaN/Infinity anywhere raises ValueError.
        """
        context: dict[str, object] = {}
        if self.user_id is not None:
            context["user_id"] = self.user_id
        if self.experiment is not None:
            context["experiment"] = self.experiment
        if self.variant is not None:
            context["variant"] = self.variant
        if self.shadow_of is not None:
            context.update(shadow=True, shadow_of=self.shadow_of)
        context.update(model=self.model, version=self.version)
        head = (f'{{"timestamp":{_encode(self.timestamp)},'
                f'"request_id":{_encode(self.request_id)},"row":')
        middle = f",{_encode(context)[1:-1]},\"prediction\":"
        return "".join([
            f'{head}{index}{middle}{_encode(prediction)},"features":{_encode(dict(features))}}}\n'
            for index, (features, prediction) in enumerate(
                zip(self.rows, self.predictions, strict=True))
        ])


@dataclass(frozen=True)
class _Encoded:
    """A batch's lines, encoded, waiting for the writer."""

    text: str
    lines: int
    request_id: str


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
        linger: float = 0.05,
    ) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self._sink = sink
        self._capacity = capacity
        self._linger = linger
        self._on_written = on_written or (lambda _n: None)
        self._on_dropped = on_dropped or (lambda _n: None)
        self._on_error = on_error or (lambda _n: None)
        self._batches: collections.deque[_Encoded] = collections.deque()
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
        """Encode ``batch`` and buffer its lines; False when they do not fit (counted as
        dropped) or are not JSON (a NaN score: counted as failed)."""
        size = len(batch.rows)
        try:
            text = batch.text()
        except (TypeError, ValueError):  # NaN or a non-JSON value: not loggable as JSON
            self._fail(batch, size)
            return False
        with self._cond:
            if self._stopping or self._pending + size > self._capacity:
                accepted = False
            else:
                self._batches.append(_Encoded(text, size, batch.request_id))
                self._pending += size
                if len(self._batches) == 1:  # the writer may be asleep on an empty buffer
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
                if self._linger > 0 and not self._stopping:
                    self._cond.wait(self._linger)  # only close() wakes it early
                batches = list(self._batches)
                self._batches.clear()
            self._write(batches)

    def _write(self, batches: Sequence[_Encoded]) -> None:
        """Everything buffered so far: one write and one flush; failures counted by line."""
        lines = sum(batch.lines for batch in batches)
        try:
            self._sink.write("".join([batch.text for batch in batches]))
            self._sink.flush()
        except Exception:  # a broken sink must not kill the writer; count and go on
            self._fail(batches[0], lines)
        else:
            self._on_written(lines)
        finally:
            with self._cond:
                self._pending -= lines

    def _fail(self, batch: PredictionBatch | _Encoded, lines: int) -> None:
        self._on_error(lines)
        with contextlib.suppress(Exception):
            sys.stderr.write(f"prediction-log: write failed for {lines} lines "
                             f"(from request {batch.request_id})\n")

    def wait_idle(self, timeout: float) -> bool:
        """Block until every accepted line is written (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.01)
        return self.pending() == 0
