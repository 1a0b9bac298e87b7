"""A throwaway PostgreSQL cluster from Debian's `postgresql` package, on a free port."""

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelrail.local.processes import free_port


def postgres_bin() -> Path | None:
    """The directory with initdb and pg_ctl: on PATH, or Debian's versioned one."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _as_server_user(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as `nobody` there."""
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a trust-auth cluster in a new directory; yield its DSN; stop and delete it.

    The directory is made under the system temp dir, not pytest's: pytest's is private to
    root, where the server runs as `nobody`.
    """
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    directory = Path(tempfile.mkdtemp(prefix="modelrail-postgres-"))
    data, port = directory / "data", free_port()
    if os.geteuid() == 0:
        shutil.chown(directory, "nobody")
    subprocess.run(_as_server_user([str(binaries / "initdb"), "-D", str(data), "-A", "trust",
                                    "-U", "postgres", "--no-sync"]),
                   check=True, capture_output=True)
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [str(binaries / "pg_ctl"), "-D", str(data), "-w"]
    subprocess.run(_as_server_user([*pg_ctl, "-o", options, "-l", str(directory / "log"),
                                    "start"]), check=True, capture_output=True)
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(_as_server_user([*pg_ctl, "-m", "immediate", "stop"]),
                       check=False, capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
