"""A Spark Connect server from pyspark's own jars, local[2], on a free loopback port: the
class `sbin/start-connect-server.sh` runs (SparkConnectServer), through `bin/spark-submit`."""

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pyspark
from modelrail.local.processes import free_port, stop

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


@contextlib.contextmanager
def spark_connect_server(root: Path, timeout: float = 240) -> Iterator[str]:
    """Start the server (its log in `root`); yield its `sc://` URL; stop it."""
    home, port, log = Path(pyspark.__file__).parent, free_port(), root / "spark-connect.log"
    command = [str(home / "bin" / "spark-submit"), "--master", "local[2]",
               "--class", SERVER_CLASS, "--conf", "spark.ui.enabled=false",
               "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
               "--conf", f"spark.connect.grpc.binding.port={port}", "spark-internal"]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   env={**os.environ, "SPARK_HOME": str(home)},
                                   start_new_session=True)
    try:
        _wait_for_port(port, process, log, timeout)
        yield f"sc://127.0.0.1:{port}"
    finally:
        stop(process)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path,
                   timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"Spark Connect exited with {process.returncode}:\n{tail}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.5)
    raise RuntimeError(f"Spark Connect did not listen on {port} within {timeout:.0f}s")
