"""A hostile HTTP server on loopback that echoes every request back in its error bodies.

Every answer has the status the test chose and a body that quotes the request line, every
header (and an `Authorization: Basic` header decoded to `user:password`, and the header
percent-encoded in a link), shaped so that each client modelrail has shows it: Prometheus
reads `error`, GitHub and MLflow `message`, Kubernetes a `Status` `message`. A 404 answers
plain text instead, for the clients' non-JSON path. Requests that `ok` accepts get
`ok_body` with 200 (e.g. Prometheus' preflight `vector(1)`).
"""

import base64
import binascii
import contextlib
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import quote

from modelrail.local.loopback import LoopbackServer

Accept = Callable[[str, str], bool]  # (method, path) -> answer 200?


def echo_text(method: str, path: str, headers: dict[str, str]) -> str:
    """What the server says back: the request as it saw it, in several encodings."""
    lines = [f"{method} {path}", *(f"{name}: {value}" for name, value in headers.items())]
    for name, value in headers.items():
        if name.lower() != "authorization":
            continue
        scheme, _, credential = value.partition(" ")
        lines.append(f"see /login?next={quote(path, safe='')}&auth={quote(value, safe='')}")
        if scheme.lower() == "basic":
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                lines.append(f"user {base64.b64decode(credential).decode()} is not allowed")
    return "\n".join(lines)


class EchoServer(LoopbackServer):
    """Answers `status` (settable) with the echo; `ok` requests with 200 `ok_body`."""

    def __init__(self, status: int, ok: Accept | None = None,
                 ok_body: dict[str, Any] | None = None) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if server.ok is not None and server.ok(self.command, self.path):
                    self._send(200, json.dumps(server.ok_body or {}), "application/json")
                    return
                text = echo_text(self.command, self.path, dict(self.headers.items()))
                if server.status == 404:
                    self._send(404, text, "text/plain")
                    return
                body = {"status": "error", "errorType": "bad_data", "error": text,
                        "message": text, "error_code": "INVALID_PARAMETER_VALUE",
                        "kind": "Status", "apiVersion": "v1", "code": server.status,
                        "reason": "BadRequest", "headers": dict(self.headers.items())}
                self._send(server.status, json.dumps(body), "application/json")

            def _send(self, status: int, text: str, content_type: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(Handler)
        self.status = status
        self.ok = ok
        self.ok_body = ok_body
