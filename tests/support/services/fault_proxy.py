"""A threaded HTTP proxy in front of a real server that can fail, drop or stall requests.

Tests point a client at `proxy.url` instead of the server and script faults:

    with FaultProxy(mlflow.url) as proxy:
        proxy.fail_next(2)          # the next 2 requests get HTTP 500, then it forwards
        proxy.fail_next(10**6, 503) # "down" until restore()
        proxy.drop_next(1)          # close the connection without an answer
        proxy.lose_next(1, path="/model-versions/create")  # forward, then drop the answer
        proxy.hang_next(3, 2.0)     # hold 3 requests for 2 s each, then forward them
        proxy.restore()             # forward everything again

`path` limits a fault to requests whose path contains it. `proxy.log` records every
request as (method, path, outcome); `proxy.headers` the headers of the last request (to
check credentials were sent).
"""

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

import requests
from modelrail.local.loopback import LoopbackServer

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailers", "transfer-encoding", "upgrade", "host", "content-length",
               "content-encoding"}


@dataclass
class _Fault:
    kind: str  # "status" | "drop" | "lose" | "hang"
    remaining: int
    status: int = 500
    seconds: float = 0.0
    path: str | None = None


class FaultProxy(LoopbackServer):
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.log: list[tuple[str, str, str]] = []
        self.headers: dict[str, str] = {}
        self._fault: _Fault | None = None
        self._lock = threading.Lock()
        super().__init__(self._handler_class())

    @property
    def url(self) -> str:
        return self.address

    # -- scripting ---------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 500, path: str | None = None) -> None:
        self._set(_Fault("status", count, status=status, path=path))

    def drop_next(self, count: int, path: str | None = None) -> None:
        self._set(_Fault("drop", count, path=path))

    def lose_next(self, count: int, path: str | None = None) -> None:
        self._set(_Fault("lose", count, path=path))

    def hang_next(self, count: int, seconds: float, path: str | None = None) -> None:
        self._set(_Fault("hang", count, seconds=seconds, path=path))

    def restore(self) -> None:
        self._set(None)

    def outcomes(self, outcome: str) -> int:
        with self._lock:
            return sum(1 for _, _, seen in self.log if seen == outcome)

    def _set(self, fault: _Fault | None) -> None:
        with self._lock:
            self._fault = fault

    def _take(self, path: str) -> _Fault | None:
        """The fault for this request, counting it down."""
        with self._lock:
            fault = self._fault
            if fault is None or fault.remaining <= 0:
                return None
            if fault.path is not None and fault.path not in path:
                return None
            fault.remaining -= 1
            return _Fault(fault.kind, 1, fault.status, fault.seconds)

    # -- lifecycle ---------------------------------------------------------------------


    # -- the handler -------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test asserts on `proxy.log` instead."""

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._take(self.path)
                outcome = fault.kind if fault is not None else "forwarded"
                with proxy._lock:
                    proxy.log.append((self.command, self.path, outcome))
                    proxy.headers = dict(self.headers.items())
                if fault is not None and fault.kind == "status":
                    self._reply(fault.status, json.dumps(
                        {"error_code": "INTERNAL_ERROR",
                         "message": "fault injected by the test proxy"}).encode(),
                        {"Content-Type": "application/json"})
                    return
                if fault is not None and fault.kind == "hang":
                    time.sleep(fault.seconds)
                if fault is not None and fault.kind in ("drop", "lose"):
                    if fault.kind == "lose":
                        self._forward(body, reply=False)
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    return
                self._forward(body)

            def _forward(self, body: bytes, reply: bool = True) -> None:
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in _HOP_BY_HOP}
                try:
                    answer = requests.request(self.command, proxy.upstream + self.path,
                                              headers=headers, data=body, timeout=60,
                                              allow_redirects=False)
                except requests.RequestException as error:
                    self._reply(502, str(error).encode(), {"Content-Type": "text/plain"})
                    return
                passed = {k: v for k, v in answer.headers.items()
                          if k.lower() not in _HOP_BY_HOP}
                if reply:
                    self._reply(answer.status_code, answer.content, passed)

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                with contextlib.suppress(OSError):  # the client may have given up already
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle  # noqa: N815

        return Handler


@contextlib.contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    with FaultProxy(upstream) as proxy:
        yield proxy
