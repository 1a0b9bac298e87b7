"""The Debian `docker-registry` (distribution v2) on a free loopback port, and its tags."""

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from modelrail.local.processes import free_port, stop, wait_for_http


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host}"


@contextlib.contextmanager
def docker_registry(root: Path) -> Iterator[Registry]:
    """The Debian `docker-registry` (distribution v2) on a free loopback port."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    log = root / "registry.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=sink,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/v2/", timeout=30, process=process, log=log)
        yield Registry(host=f"127.0.0.1:{port}", root=root, process=process)
    finally:
        stop(process)


def registry_tags(registry: Registry, repository: str) -> list[str]:
    response = requests.get(f"{registry.url}/v2/{repository}/tags/list", timeout=10)
    response.raise_for_status()
    tags: list[str] = response.json()["tags"]
    return sorted(tags)
