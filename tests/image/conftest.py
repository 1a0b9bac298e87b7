"""Fixtures for the image tests: real buildah/skopeo/docker-registry, no Docker engine.

The tools come from scripts/install-system-packages.sh. Without them the tests skip, unless CI is
set: then a missing tool is an error, so CI can never pass by skipping the image proof.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.labs.image import (
    INSTALL_SCRIPT,
    LOCAL_BASE,
    Buildah,
    CommandError,
    base_rootfs,
    import_base_image,
    missing_tools,
)
from tests.support.paths import REPO_ROOT
from tests.support.services.registry import Registry, docker_registry

METRICS_KEY = pytest.StashKey[dict[str, Any]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[METRICS_KEY] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.image)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    measured = config.stash.get(METRICS_KEY, {})
    if not measured:
        return
    terminalreporter.section("image build measurements")
    for key, value in measured.items():
        shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        terminalreporter.write_line(f"{key:<40} {shown}")
    target = os.environ.get("MODELRAIL_IMAGE_METRICS")
    if target:
        Path(target).write_text(json.dumps(measured, indent=2, sort_keys=True) + "\n")
        terminalreporter.write_line(f"written to {target}")


@pytest.fixture(scope="session")
def image_metrics(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Measured numbers (seconds, bytes) printed at the end of the run."""
    return pytestconfig.stash[METRICS_KEY]


@pytest.fixture(scope="session")
def image_tools() -> None:
    missing = missing_tools()
    if not missing:
        return
    message = (f"image tools missing: {', '.join(missing)} "
               f"(install with: sudo bash {INSTALL_SCRIPT.relative_to(REPO_ROOT)})")
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so the image tests must run")
    pytest.skip(message)


@contextlib.contextmanager
def buildah_store() -> Iterator[Buildah]:
    """A private vfs store under /var/tmp (MODELRAIL_IMAGE_STORE_DIR), deleted afterwards.

    vfs copies the whole rootfs for every layer and container, so one store uses about
    5 GB; it lives outside pytest's rotating tmp dirs and is kept only when
    MODELRAIL_KEEP_IMAGE_STORE is set.
    """
    if os.geteuid() != 0:
        pytest.fail("buildah with vfs storage and chroot isolation runs as root here")
    parent = Path(os.environ.get("MODELRAIL_IMAGE_STORE_DIR", "/var/tmp"))
    parent.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="modelrail-buildah-", dir=parent))
    store = Buildah(root=base / "root", runroot=base / "run", log=base / "buildah.log")
    try:
        yield store
    finally:
        if os.environ.get("MODELRAIL_KEEP_IMAGE_STORE"):
            sys.stderr.write(f"\nbuildah store kept at {base}\n")
        else:
            with contextlib.suppress(CommandError, subprocess.TimeoutExpired):
                store("rm", "--all", timeout=300)
            with contextlib.suppress(CommandError, subprocess.TimeoutExpired):
                store("rmi", "--all", "--force", timeout=600)
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def buildah(image_tools: None) -> Iterator[Buildah]:
    """This session's store (fresh: the first build is a cold build)."""
    with buildah_store() as store:
        yield store


@pytest.fixture(scope="session")
def registry(image_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with docker_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="session")
def base_image(buildah: Buildah, image_metrics: dict[str, Any]) -> str:
    rootfs = base_rootfs()
    image_metrics["base_debootstrap_seconds"] = rootfs.seconds
    image_metrics["base_debootstrap_cached"] = rootfs.cached
    started = time.monotonic()
    image_id = import_base_image(buildah, rootfs.archive)
    image_metrics["base_import_seconds"] = time.monotonic() - started
    image_metrics["base_image_bytes"] = buildah.image_size(LOCAL_BASE)
    return image_id
