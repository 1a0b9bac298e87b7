"""Build, push, inspect and run the example model's serving image without a Docker engine.

The real tools, as CI on this machine has them (installed by scripts/install-system-packages.sh):

- buildah with vfs storage under a private --root/--runroot and chroot isolation: no
  daemon, no overlay mounts, no user namespaces needed (root in a VM or a privileged job);
- a Debian bookworm base image made with debootstrap (python3 + python3-venv), because
  python:3.11-slim-bookworm cannot be pulled here. It is tagged under the Dockerfile's
  default FROM name too, so the unchanged Dockerfile builds with `--pull=never`;
- the Debian docker-registry on a free loopback port (tests/support/services/registry.py),
  and skopeo to inspect what was pushed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelrail.errors import ServiceError
from modelrail.local.processes import free_port, wait_for_http
from modelrail.registry.lineage import dvc_lock_lineage

from tests.support.paths import EXAMPLE_MODEL, REPO_ROOT

REQUIRED_TOOLS = ("buildah", "skopeo", "docker-registry", "debootstrap")
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-system-packages.sh"

# The Dockerfile's default `ARG BASE_IMAGE=python:3.11-slim-bookworm`, fully qualified the
# way buildah resolves the short name (containers-common's short-name aliases).
DOCKERFILE_BASE = "docker.io/library/python:3.11-slim-bookworm"
LOCAL_BASE = "localhost/modelrail-base:bookworm"

# debootstrap is slow (about 1.5 min here); its result is cached across runs as a tarball.
BASE_CACHE = Path(os.environ.get("MODELRAIL_IMAGE_CACHE", "/var/tmp/modelrail-base"))
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("MODELRAIL_DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# Bump when the recipe below changes, so stale cached rootfs tarballs are not reused.
BASE_RECIPE = 1
# Removed from the base after debootstrap: not needed to run Python (as in the slim images).
BASE_PRUNE = (
    "var/cache/apt/archives", "var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin",
    "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info",
    "usr/share/locale", "usr/share/lintian", "var/log",
)


def missing_tools() -> list[str]:
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


class CommandError(RuntimeError):
    """A tool exited non-zero; the message carries the command and the end of its output."""


def run(command: Sequence[str], *, timeout: float, cwd: Path | None = None,
        env: Mapping[str, str] | None = None, log: Path | None = None) -> str:
    """Run a command, return its stdout; on failure raise with the tail of its output."""
    result = subprocess.run(list(command), cwd=cwd, env=dict(env) if env else None,
                            capture_output=True, text=True, timeout=timeout, check=False)
    if log is not None:
        with log.open("a", encoding="utf-8") as sink:
            sink.write(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-4000:]
        raise CommandError(f"{' '.join(command)} exited {result.returncode}:\n{tail}")
    return result.stdout


@dataclass(frozen=True)
class Buildah:
    """buildah on a private vfs store (no daemon, nothing shared with other users)."""

    root: Path
    runroot: Path
    log: Path | None = None

    def argv(self, *args: str) -> list[str]:
        return ["buildah", "--root", str(self.root), "--runroot", str(self.runroot),
                "--storage-driver", "vfs", *args]

    def __call__(self, *args: str, timeout: float = 300, cwd: Path | None = None) -> str:
        return run(self.argv(*args), timeout=timeout, cwd=cwd, log=self.log)

    def inspect_image(self, image: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self("inspect", "--type", "image", image))
        return data

    def image_size(self, image: str) -> int:
        """Uncompressed size in bytes: the sum of the image's layer diffs, as stored.

        (`buildah images` only prints a rounded "400 MB"; the store's layer index has bytes.)
        """
        diff_ids = self.inspect_image(image)["Docker"]["rootfs"]["diff_ids"]
        layers = json.loads((self.root / "vfs-layers" / "layers.json").read_text())
        sizes = {layer["diff-digest"]: int(layer["diff-size"]) for layer in layers
                 if "diff-digest" in layer}
        return sum(sizes[diff_id] for diff_id in diff_ids)

    def exists(self, image: str) -> bool:
        try:
            self("inspect", "--type", "image", "--format", "{{.FromImageID}}", image)
        except CommandError:
            return False
        return True




# ---- base image ---------------------------------------------------------------------------


def base_recipe_key() -> str:
    recipe = json.dumps([BASE_RECIPE, DEBIAN_SUITE, DEBIAN_MIRROR, BASE_PACKAGES, BASE_PRUNE])
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


@dataclass
class BaseRootfs:
    archive: Path
    seconds: float  # time spent creating it now; 0.0 when it came from the cache
    cached: bool


def base_rootfs(cache: Path = BASE_CACHE, timeout: float = 1200) -> BaseRootfs:
    """A tarball of a debootstrapped bookworm minbase with Python 3.11, cached in ``cache``.

    Concurrent callers are serialised with a lock file; a half-written tarball never
    appears under the final name.
    """
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / f"rootfs-{DEBIAN_SUITE}-{base_recipe_key()}.tar"
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if archive.is_file():
            return BaseRootfs(archive=archive, seconds=0.0, cached=True)
        started = time.monotonic()
        work = cache / f"work-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        rootfs = work / "rootfs"
        try:
            run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                 DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR], timeout=timeout,
                log=cache / "debootstrap.log")
            for relative in BASE_PRUNE:
                target = rootfs / relative
                if target.is_dir():
                    shutil.rmtree(target)
                    target.mkdir()
                elif target.exists():
                    target.unlink()
            # Same convenience names as the python images: `python` runs Python 3.
            python = rootfs / "usr" / "bin" / "python"
            if not python.exists():
                python.symlink_to("python3")
            partial = archive.with_suffix(".tar.partial")
            run(["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf",
                 str(partial), "."], timeout=600)
            partial.rename(archive)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return BaseRootfs(archive=archive, seconds=time.monotonic() - started, cached=False)


def import_base_image(buildah: Buildah, archive: Path,
                      tags: Sequence[str] = (LOCAL_BASE, DOCKERFILE_BASE)) -> str:
    """Commit ``archive`` as a one-layer image and tag it; returns the image id."""
    container = buildah("from", "--pull-never", "scratch").strip()
    try:
        buildah("add", container, str(archive), "/", timeout=600)
        buildah("config",
                "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--env", "LANG=C.UTF-8",
                "--cmd", "python3",
                "--label", "io.modelrail.base=debootstrap",
                "--label", f"io.modelrail.base.recipe={base_recipe_key()}",
                container)
        image_id = buildah("commit", "--rm", "--quiet", container, tags[0],
                           timeout=600).strip()
    except BaseException:
        with contextlib.suppress(CommandError):
            buildah("rm", container)
        raise
    for tag in tags[1:]:
        buildah("tag", tags[0], tag)
    return image_id


# ---- model artifact -----------------------------------------------------------------------


def copy_model_repo(destination: Path) -> Path:
    """example-model without pipeline outputs or caches, ready for `dvc repro`."""
    shutil.copytree(EXAMPLE_MODEL, destination, ignore=shutil.ignore_patterns(
        "data", "models", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache",
        "mlruns", "mlartifacts"))
    return destination


def dvc_repro(repo: Path, dvc: Path, timeout: float = 600) -> None:
    """Run the real pipeline; DVC wants an SCM, so the copy becomes a throwaway git repo.

    dvc.yaml's stages run `python`: the one of dvc's own environment (the project's venv)
    comes first on PATH, never whatever Python the machine has.
    """
    path = f"{dvc.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path, "HOME": str(repo), "GIT_CONFIG_NOSYSTEM": "1"}
    run(["git", "-c", "init.defaultBranch=main", "init", "-q"], cwd=repo, env=env, timeout=60)
    run([str(dvc), "repro", "--quiet"], cwd=repo, env=env, timeout=timeout)


def dvc_data_hash(repo: Path) -> str:
    """The `io.modelrail.model.dvc-data-hash` label of a build from ``repo``.

    One meaning everywhere: the model version's `dvc_data_hash` tag that `modelrail register`
    records and `modelrail image-meta` turns into the DVC_DATA_HASH build arg, i.e. sha256
    over every dep and out recorded in dvc.lock (modelrail.registry.lineage.dvc_lock_lineage).
    """
    return dvc_lock_lineage(repo / "dvc.lock").digest


# ---- build --------------------------------------------------------------------------------

HOST_CA_IN_BUILD = "/etc/ssl/certs/modelrail-host-ca.pem"


def host_ca_volumes(workdir: Path) -> list[str]:
    """`--volume` flags that make pip in RUN steps trust the host's CA bundle.

    Machines behind a TLS-inspecting proxy (like this one) trust the proxy's CA through their
    system bundle (and PIP_CERT / SSL_CERT_FILE / REQUESTS_CA_BUNDLE); pip inside the build
    uses its own certifi bundle and would fail. Mounting the host's bundle for the RUN steps
    keeps the Dockerfile free of site-specific settings: bind mounts never reach the
    committed layers or the layer-cache keys, and where no proxy intercepts (GitHub
    runners) the host bundle is simply an ordinary one.
    """
    candidates = [os.environ.get(name, "") for name in
                  ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")]
    candidates.append("/etc/ssl/certs/ca-certificates.crt")
    bundle = next((Path(c) for c in candidates if c and Path(c).is_file()), None)
    if bundle is None:
        return []
    pip_conf = workdir / "pip.conf"
    pip_conf.write_text(f"[global]\ncert = {HOST_CA_IN_BUILD}\n")
    return ["--volume", f"{bundle.resolve()}:{HOST_CA_IN_BUILD}:ro",
            "--volume", f"{pip_conf}:/etc/pip.conf:ro"]


@dataclass
class BuildResult:
    image: str
    image_id: str
    seconds: float
    output: str
    cached_steps: int = field(default=0)


def build_image(buildah: Buildah, context: Path, tag: str, build_args: Mapping[str, str],
                *, timestamp: int | None = None, extra: Sequence[str] = (),
                timeout: float = 1800) -> BuildResult:
    """`buildah build` of context/Dockerfile with layer caching, docker format, chroot."""
    args = ["build", "--layers", "--format", "docker", "--isolation", "chroot",
            "--pull=never", "-f", str(context / "Dockerfile"), "-t", tag]
    for key, value in build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    if timestamp is not None:
        args += ["--timestamp", str(timestamp)]
    iid = context / ".iidfile"
    args += ["--iidfile", str(iid), *extra, str(context)]
    started = time.monotonic()
    output = buildah(*args, timeout=timeout, cwd=context)
    seconds = time.monotonic() - started
    image_id = iid.read_text().strip().removeprefix("sha256:")
    iid.unlink()
    return BuildResult(image=tag, image_id=image_id, seconds=seconds, output=output,
                       cached_steps=output.count("Using cache"))


# ---- pushed images ------------------------------------------------------------------------


def skopeo_inspect(reference: str, *, raw: bool = False, config: bool = False) -> Any:
    """`skopeo inspect` of an image in a plain-HTTP registry (JSON decoded)."""
    args = ["skopeo", "inspect", "--tls-verify=false"]
    if raw:
        args.append("--raw")
    if config:
        args.append("--config")
    return json.loads(run([*args, reference], timeout=120))


def compressed_size(manifest: Mapping[str, Any]) -> int:
    """Bytes a pull transfers: config blob plus the compressed layers of a manifest."""
    layers = sum(int(layer["size"]) for layer in manifest["layers"])
    return layers + int(manifest["config"]["size"])


# ---- run ----------------------------------------------------------------------------------


@dataclass
class RunningContainer:
    container: str
    process: subprocess.Popen[bytes]
    url: str
    stdout: Path
    stderr: Path

    def logs(self) -> str:
        return (self.stdout.read_text(errors="replace") + "\n--- stderr ---\n"
                + self.stderr.read_text(errors="replace"))


@contextlib.contextmanager
def serve_image(buildah: Buildah, image: str, workdir: Path, env: Mapping[str, str],
                timeout: float = 120) -> Iterator[RunningContainer]:
    """Start the image's own CMD with `buildah run` on the host network; yield when ready."""
    config = buildah.inspect_image(image)
    docker = config.get("Docker", {}).get("config", {})
    command: list[str] = list(docker.get("Entrypoint") or []) + list(docker.get("Cmd") or [])
    if not command:
        raise AssertionError(f"{image} has no CMD")
    port = free_port()
    container = buildah("from", "--pull-never", image).strip()
    args = ["run", "--isolation", "chroot", "--network", "host",
            "--env", "UVICORN_HOST=127.0.0.1", "--env", f"UVICORN_PORT={port}"]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    workdir.mkdir(parents=True, exist_ok=True)
    stdout, stderr = workdir / "stdout.log", workdir / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(buildah.argv(*args, container, "--", *command),
                                   stdout=out, stderr=err, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    running = RunningContainer(container, process, url, stdout, stderr)
    try:
        try:
            wait_for_http(f"{url}/readyz", timeout=timeout, process=process, log=stderr)
        except ServiceError as exc:
            raise AssertionError(f"{exc}\n{running.logs()[-4000:]}") from exc
        yield running
    finally:
        _stop_group(process)
        with contextlib.suppress(CommandError):
            buildah("rm", container)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def run_in_image(buildah: Buildah, image: str, command: Sequence[str],
                 env: Mapping[str, str] | None = None, timeout: float = 120) -> str:
    """A one-off command in a fresh container of ``image`` (host network, chroot)."""
    container = buildah("from", "--pull-never", image).strip()
    try:
        args = ["run", "--isolation", "chroot", "--network", "host"]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        return buildah(*args, container, "--", *command, timeout=timeout)
    finally:
        with contextlib.suppress(CommandError):
            buildah("rm", container)


def healthcheck_command(config: Mapping[str, Any]) -> list[str]:
    """The HEALTHCHECK test of a docker-format image config, as an argv."""
    test: list[str] = list(config["Docker"]["config"]["Healthcheck"]["Test"])
    if test[0] == "CMD":
        return test[1:]
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]]
    raise AssertionError(f"unexpected healthcheck {test}")
