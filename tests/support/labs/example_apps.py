"""The example model's own web apps (`ctr_serving`, `ctr_router`) as real processes, for
the canary, A/B and monitor labs, the demo and the benches: one way to start them."""

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from modelrail.local.processes import free_port, stop, wait_for_http

from tests.support.paths import EXAMPLE_MODEL

SERVING = EXAMPLE_MODEL / "serving"
EXAMPLE_PYTHONPATH = os.pathsep.join([str(EXAMPLE_MODEL / "src"), str(SERVING)])
READY_TIMEOUT_S = 90.0


@contextlib.contextmanager
def example_app(module: str, env: Mapping[str, str], log: Path) -> Iterator[str]:
    """`python -m MODULE` under uvicorn on a free loopback port, its output in `log` (and
    its working directory beside it); yields the URL once /readyz answers, stops it after."""
    port = free_port()
    full_env = {**os.environ, "PYTHONPATH": EXAMPLE_PYTHONPATH, "UVICORN_HOST": "127.0.0.1",
                "UVICORN_PORT": str(port), "UVICORN_ACCESS_LOG": "false", **env}
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", module], env=full_env, stdout=sink,
                                   stderr=subprocess.STDOUT, cwd=log.parent,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/readyz", timeout=READY_TIMEOUT_S, process=process, log=log)
        yield url
    finally:
        stop(process)
