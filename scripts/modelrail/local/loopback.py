"""The threaded loopback HTTP server every stand-in and proxy of the tests is built on, and
the request handler of the stand-ins that answer in JSON."""

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

# A JSON API stand-in's answer to (method, path, lower-cased headers, body):
# status, extra headers, payload.
JsonAnswer = tuple[int, Mapping[str, str], Any]
JsonApi = Callable[[str, str, dict[str, str], bytes], JsonAnswer]


@dataclass(frozen=True)
class ApiCall:
    """One routed request: method, API path (without the API's prefix), query, JSON body."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass(frozen=True)
class RecordedRequest:
    """A request as a stand-in received it, for the tests to assert on."""

    method: str
    path: str  # as requested, the API's prefix included
    query: dict[str, str]
    headers: dict[str, str]  # header names lower-cased
    json: Any  # the parsed body (or the raw text of one that was not JSON); None when empty


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 at a free port; start/stop or use as a context manager."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.01}, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: Any,
              headers: Mapping[str, str] | None = None,
              content_type: str = "application/json") -> None:
    """Answer a stand-in's request with `payload` as JSON, as the real APIs do."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def json_api_handler(api: JsonApi, methods: Iterable[str],
                     content_type: str = "application/json") -> type[BaseHTTPRequestHandler]:
    """The handler class of a JSON API stand-in: each request with one of `methods` is read
    whole and answered with what `api` returns; HTTP/1.1 keep-alive, no request log."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are separate writes

        def serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, extra, payload = api(self.command, self.path, headers, body)
            send_json(self, status, payload, extra, content_type)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    for method in methods:
        setattr(Handler, f"do_{method}", Handler.serve)
    return Handler
