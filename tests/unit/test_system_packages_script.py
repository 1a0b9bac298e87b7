"""scripts/install-system-packages.sh, which `make demo` and `make test` run first: with a
tool missing it installs the Debian packages when it can (root, or `sudo -n`), and
otherwise stops with one message naming the packages and the command, exit 1.

PATH holds only a directory of stubs (`id`, `sudo`, `apt-get`), so nothing real is
installed: the stub apt-get logs its arguments and, on `install`, drops stub tools into
that directory as the real one would put binaries on PATH.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "install-system-packages.sh"
DEMO_TOOLS = ("prometheus", "promtool", "git", "initdb", "java", "rsync", "npm")
TEST_TOOLS = (*DEMO_TOOLS, "prometheus-pushgateway", "buildah", "skopeo", "docker-registry",
              "debootstrap")
DEMO_PACKAGES = "prometheus git postgresql openjdk-17-jre-headless rsync npm"
APT_GET = """#!/bin/sh
echo "$*" >> "{log}"
if [ "$1" = install ]; then
  for tool in {tools}; do printf '#!/bin/sh\\n' > "{bin}/$tool"; /bin/chmod +x "{bin}/$tool"; done
fi
"""


def stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def run(tmp_path: Path, *args: str, uid: int = 1000, sudo_ok: bool = False,
        ostype: str = "linux-gnu",
        installs: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """The script with PATH = only the stubs, as user `uid`."""
    bin_dir, venv = tmp_path / "bin", tmp_path / "venv"
    for directory in (bin_dir, venv / "bin"):
        directory.mkdir(parents=True, exist_ok=True)
    stub(bin_dir, "id", f"echo {uid}")
    log = tmp_path / "apt-get.log"
    stub(bin_dir, "sudo", f'echo "sudo $*" >> "{log}"; shift; "$@"' if sudo_ok
         else "echo 'sudo: a password is required' >&2; exit 1")
    (bin_dir / "apt-get").write_text(APT_GET.format(
        log=log, tools=" ".join(installs), bin=bin_dir))
    (bin_dir / "apt-get").chmod(0o755)
    stub(venv / "bin", "python", "")  # the venv exists: python3-venv is not needed
    env = {"PATH": str(bin_dir), "PYTHON": sys.executable, "VENV": str(venv),
           "MODELRAIL_SYSTEM_ROOT": str(tmp_path / "root"), "OSTYPE": ostype}
    return subprocess.run(["/bin/bash", str(SCRIPT), *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def apt_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "apt-get.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("target", ["demo", "test"])
def test_without_root_or_sudo_one_message_names_packages_and_command(
        tmp_path: Path, target: str) -> None:
    result = run(tmp_path, target)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3  # one message: what is missing, the command, the alternative
    packages = DEMO_PACKAGES + (
        " prometheus-pushgateway buildah skopeo docker-registry debootstrap"
        " debian-archive-keyring" if target == "test" else "")
    assert lines[0].startswith(f"install-system-packages: `make {target}` cannot start: missing ")
    assert "neither root nor password-less sudo" in lines[0]
    assert lines[1].strip() == f"sudo apt-get install -y --no-install-recommends {packages}"
    assert lines[2] == f"or run: sudo bash scripts/install-system-packages.sh {target}"
    assert "Traceback" not in result.stderr
    assert apt_calls(tmp_path) == []


def test_check_mode_never_installs_even_as_root(tmp_path: Path) -> None:
    result = run(tmp_path, "--check", "demo", uid=0, installs=DEMO_TOOLS)
    assert result.returncode == 1
    assert f"sudo apt-get install -y --no-install-recommends {DEMO_PACKAGES}" in result.stderr
    assert apt_calls(tmp_path) == []


UPDATE, INSTALL = "update -qq", f"install -y -qq --no-install-recommends {DEMO_PACKAGES}"


@pytest.mark.parametrize(("uid", "sudo_ok", "calls"), [
    (0, False, [UPDATE, INSTALL]),
    (1000, True, ["sudo -n true", f"sudo -n apt-get {UPDATE}", UPDATE,
                  f"sudo -n apt-get {INSTALL}", INSTALL]),
])
def test_installs_with_root_or_passwordless_sudo(tmp_path: Path, uid: int, sudo_ok: bool,
                                                 calls: list[str]) -> None:
    result = run(tmp_path, "demo", uid=uid, sudo_ok=sudo_ok, installs=DEMO_TOOLS)
    assert result.returncode == 0, result.stderr
    assert apt_calls(tmp_path) == calls
    assert f"installing {DEMO_PACKAGES}" in result.stdout


def test_nothing_missing_is_quiet_and_installs_nothing(tmp_path: Path) -> None:
    run(tmp_path, "demo")  # creates the stub directory
    for tool in DEMO_TOOLS:
        stub(tmp_path / "bin", tool, "")
    result = run(tmp_path, "demo", uid=0)
    assert result.returncode == 0
    assert result.stdout == "install-system-packages: demo: all present\n"
    assert apt_calls(tmp_path) == []


def test_macos_names_homebrew_formulas_and_what_cannot_run(tmp_path: Path) -> None:
    result = run(tmp_path, "test", uid=0, ostype="darwin23")
    assert result.returncode == 1
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "brew install prometheus git postgresql@16 openjdk@17 rsync node pushgateway" \
        in message
    assert "On macOS the serving-image tests (buildah, skopeo, docker-registry, debootstrap) "\
           "cannot run: they need Linux" in message
    assert apt_calls(tmp_path) == []


def test_macos_with_only_linux_tools_missing_goes_on(tmp_path: Path) -> None:
    run(tmp_path, "test")
    for tool in ("prometheus", "promtool", "git", "pushgateway", "initdb", "java", "rsync",
                 "npm"):
        stub(tmp_path / "bin", tool, "")
    result = run(tmp_path, "test", ostype="darwin23")
    assert result.returncode == 0
    assert "cannot run: they need Linux" in result.stderr


def test_old_python_is_the_one_message(tmp_path: Path) -> None:
    run(tmp_path, "demo")
    old = tmp_path / "python3.9"
    stub(tmp_path, "python3.9", "exit 1")  # `sys.version_info < (3, 11)`: true
    env = {"PATH": str(tmp_path / "bin"), "PYTHON": str(old)}
    result = subprocess.run(["/bin/bash", str(SCRIPT), "demo"], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"install-system-packages: `make demo` cannot start: Python 3.11+ is required and "
        f"'{old}' is older (run make with PYTHON=python3.11 or newer)."]


def test_unknown_argument_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path, "tests")
    assert result.returncode == 2
    assert "unknown argument 'tests'" in result.stderr

