"""A service as a child process on a free loopback port: pick the port, wait until it
answers HTTP, stop it and everything it started."""

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path

import requests

from modelrail.errors import ServiceError


def free_port() -> int:
    """A loopback port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None,
                  log: Path | None = None) -> None:
    """Poll `url` until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise ServiceError(f"server exited with {process.returncode} before {url} "
                               f"answered:\n{tail}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise ServiceError(f"{url} did not answer within {timeout:.0f}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server and everything it started (uvicorn/gunicorn workers)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 15)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        process.wait(timeout=5)
