"""Local stand-ins for the remote APIs modelrail talks to (GitHub, Argo Rollouts, KServe)
that cannot run here."""

import json
from http.server import BaseHTTPRequestHandler
from typing import Any


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    """Answer a stand-in's request with `payload` as JSON, as the real APIs do."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
