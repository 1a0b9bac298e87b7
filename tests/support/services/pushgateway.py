"""A real Prometheus Pushgateway (Debian `prometheus-pushgateway`) on a free loopback port,
in memory (no persistence file), stopped afterwards."""

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from modelrail.local.processes import free_port, stop, wait_for_http

# Debian's name, then Homebrew's (scripts/install-system-packages.sh installs either).
BINARIES = ("prometheus-pushgateway", "pushgateway")


def _binary() -> str | None:
    return next(filter(None, map(shutil.which, BINARIES)), None)


def pushgateway_available() -> bool:
    return _binary() is not None


@contextlib.contextmanager
def pushgateway(root: Path) -> Iterator[str]:
    """The gateway's base URL while it runs; its log is root/pushgateway.log."""
    binary = _binary()
    if binary is None:
        raise FileNotFoundError("prometheus-pushgateway is not installed "
                                "(bash scripts/install-system-packages.sh test)")
    root.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), root / "pushgateway.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}",
                                    "--persistence.file="],  # in memory (Debian: /var/lib)
                                   stdout=sink, stderr=subprocess.STDOUT, cwd=root,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/-/ready", timeout=30, process=process, log=log)
        yield url
    finally:
        stop(process)
