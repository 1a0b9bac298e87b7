"""A real MLflow tracking server (SQLite backend, local artifacts) on a free loopback port."""

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from modelrail.local.processes import free_port, stop, wait_for_http


@dataclass
class MlflowServer:
    url: str
    process: subprocess.Popen[bytes]
    root: Path


@contextlib.contextmanager
def mlflow_server(root: Path) -> Iterator[MlflowServer]:
    """A real `mlflow server` with a SQLite backend and local artifact storage."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = root / "server.log"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]
    # The job executor (huey consumers: six processes) serves features modelrail never
    # uses and costs a 2-core machine a core while idle.
    env = {**os.environ, "MLFLOW_TRACKING_URI": "", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=root,
                                   env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health", timeout=120, process=process, log=log)
        yield MlflowServer(url=url, process=process, root=root)
    finally:
        stop(process)
