"""scripts/install-modelrail.sh never trusts a venv it finds on the runner: a `modelrail`
planted under $RUNNER_TEMP by code that ran earlier in the job is not the one it reports;
it leaves the job's PATH alone unless asked, and refuses a Python older than 3.11.

A stub interpreter stands in for python3 (venv, pip and uv) where the tests check the
script's choices, not pip's. The locked-install tests run the real pip and uv (from their
caches, else PyPI): every install is hash-checked, and a tampered hash stops it.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "install-modelrail.sh"
# `python -c CODE` (the version and pip checks) passes, as a 3.11 with pip would;
# `python -m venv [--without-pip] DIR` makes DIR/bin/python (this stub again);
# `-m uv pip install` writes a `modelrail` that prints "genuine"; anything else (pip
# installing uv) succeeds quietly.
STUB_PYTHON = """#!/usr/bin/env bash
set -eu
if [ "$1" = -c ]; then exit 0; fi
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$1 $2" = "-m venv" ]; then
  venv="${!#}"; mkdir -p "$venv/bin"; cp "$0" "$venv/bin/python"; exit 0
fi
if [ "$1 $2 $3" = "-m uv pip" ]; then
  printf '#!/usr/bin/env bash\\necho genuine\\n' > "$here/modelrail"
  chmod +x "$here/modelrail"
fi
"""
PLANTED = "#!/usr/bin/env bash\necho forged\n"
FALLBACK_VERSION = "0.0.0+unknown"  # pyproject's [tool.hatch.version] fallback-version


def plant(runner_temp: Path) -> None:
    """What a pull request's code could leave behind: the old fixed-path venv, complete
    with the markers the old script checked before skipping the install."""
    venv = runner_temp / "modelrail-venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "modelrail"
    fake.write_text(PLANTED)
    fake.chmod(0o755)
    (venv / ".modelrail-source").write_text(f"{REPO_ROOT}\n")
    (venv / ".modelrail-extras").write_text("mlflow\n")
    (runner_temp / "modelrail-venv-bin").mkdir()
    (runner_temp / "modelrail-venv-bin" / "modelrail").symlink_to(fake)


def install(runner_temp: Path, stub: Path, **extra: str,
            ) -> tuple[subprocess.CompletedProcess[str], list[str], dict[str, str]]:
    """The script run with `stub` as MODELRAIL_PYTHON: its result, the GITHUB_PATH entries
    it added and its step outputs (the last value of each)."""
    github_path, output = runner_temp / "github_path", runner_temp / "output"
    github_path.touch()
    env = {**os.environ, "RUNNER_TEMP": str(runner_temp), "MODELRAIL_PYTHON": str(stub),
           "GITHUB_PATH": str(github_path), "GITHUB_OUTPUT": str(output)}
    env.pop("MODELRAIL_ADD_TO_PATH", None)
    env.update(extra)
    done = subprocess.run(["bash", str(SCRIPT), "mlflow"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    outputs = dict(line.split("=", 1) for line in
                   (output.read_text().splitlines() if output.exists() else []))
    return done, github_path.read_text().splitlines(), outputs


def make_stub(tmp_path: Path, body: str = STUB_PYTHON) -> Path:
    stub = tmp_path / "stub" / "python3"
    stub.parent.mkdir()
    stub.write_text(body)
    stub.chmod(0o755)
    return stub


def run_cli(path: str) -> str:
    return subprocess.run([path], capture_output=True, text=True, check=True).stdout


def test_a_planted_venv_is_not_reused(tmp_path: Path) -> None:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    plant(runner_temp)

    done, path_entries, outputs = install(runner_temp, make_stub(tmp_path))

    assert done.returncode == 0, done.stderr
    assert "modelrail genuine" in done.stdout
    assert outputs["version"] == "genuine"
    assert run_cli(outputs["modelrail"]) == "genuine\n"
    assert Path(outputs["modelrail"]).parent.parent.name.startswith("modelrail-venv.")
    assert path_entries == []  # the job's PATH is left alone


def test_on_request_only_modelrail_goes_on_path(tmp_path: Path) -> None:
    """The top-level action puts the one command on PATH: no python of the venv's."""
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()

    done, path_entries, outputs = install(runner_temp, make_stub(tmp_path),
                                          MODELRAIL_ADD_TO_PATH="true")

    assert done.returncode == 0, done.stderr
    (entry,) = path_entries
    assert [item.name for item in Path(entry).iterdir()] == ["modelrail"]
    assert (Path(entry) / "modelrail").resolve() == Path(outputs["modelrail"]).resolve()


def test_every_call_installs_into_a_new_directory(tmp_path: Path) -> None:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    stub = make_stub(tmp_path)

    first = install(runner_temp, stub)[2]["modelrail"]
    done, _, outputs = install(runner_temp, stub)

    assert done.returncode == 0, done.stderr
    assert outputs["modelrail"] != first
    assert Path(first).parents[2] == runner_temp


def test_a_python_older_than_3_11_stops_before_installing(tmp_path: Path) -> None:
    """What a job whose python is the caller's 3.10 would hand over by mistake."""
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    too_old = make_stub(tmp_path, "#!/usr/bin/env bash\n[ \"$1\" != -c ]\n")

    done, _, outputs = install(runner_temp, too_old)

    assert done.returncode == 2
    assert f"MODELRAIL_PYTHON ({too_old}) is not Python 3.11 or newer" in done.stderr
    assert list(runner_temp.iterdir()) == [runner_temp / "github_path"]
    assert outputs == {}


def copy_checkout(tmp_path: Path) -> Path:
    """What the script installs from: itself, the locks and the package's source."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, checkout / "scripts")
    shutil.copytree(REPO_ROOT / "scripts" / "modelrail", checkout / "scripts" / "modelrail",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "requirements", checkout / "requirements")
    for name in ("pyproject.toml", "README.md", ".git_archival.txt", ".gitattributes"):
        shutil.copy(REPO_ROOT / name, checkout)
    return checkout


def tamper(lock: Path) -> str:
    """Replaces every hash of the lock's first package by one no file has; returns its name."""
    lines = lock.read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line[0] not in "# ")
    package = lines[first].split("==")[0]
    for i in range(first + 1, len(lines)):
        if not lines[i].startswith(" "):
            break
        lines[i] = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, lines[i])
    lock.write_text("".join(lines))
    return package


def run_real_install(checkout: Path, runner_temp: Path, python: Path | None = None,
                     ) -> subprocess.CompletedProcess[str]:
    """The script with the real pip and uv, from `python` (default: python3 on PATH)."""
    runner_temp.mkdir()
    env = {**os.environ, "RUNNER_TEMP": str(runner_temp)}
    for name in ("GITHUB_PATH", "GITHUB_OUTPUT", "MODELRAIL_PYTHON"):
        env.pop(name, None)
    if python is not None:
        env["MODELRAIL_PYTHON"] = str(python)
    return subprocess.run(["bash", str(checkout / "scripts" / "install-modelrail.sh")],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_locked_install_works(tmp_path: Path) -> None:
    """Real pip and uv (from their caches or PyPI): the control for the tampered runs below.
    The copy has no git history, as an unpacked tarball: the documented fallback version."""
    done = run_real_install(copy_checkout(tmp_path), tmp_path / "runner-temp")

    assert done.returncode == 0, done.stderr
    assert f"modelrail {FALLBACK_VERSION}\n" in done.stdout
    (venv,) = (tmp_path / "runner-temp").glob("modelrail-venv.*")
    assert not (venv / "bin" / "pip").exists()  # the quick path: no seeded pip


def test_an_interpreter_without_pip_gets_a_seeded_venv(tmp_path: Path) -> None:
    """The quick path borrows the interpreter's own pip; one without pip (as a bare
    `--without-pip` venv is) still installs, through the venv's ensurepip."""
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)

    done = run_real_install(copy_checkout(tmp_path), tmp_path / "runner-temp",
                            bare / "bin" / "python")

    assert done.returncode == 0, done.stderr
    (venv,) = (tmp_path / "runner-temp").glob("modelrail-venv.*")
    assert (venv / "bin" / "pip").exists()  # seeded: the fallback ran
    assert f"modelrail {FALLBACK_VERSION}\n" in done.stdout


def built_wheel(source: Path, out: Path) -> str:
    """The name of the wheel the hash-locked backend builds from `source`."""
    subprocess.run([sys.executable, "-m", "uv", "build", "--quiet", "--wheel",
                    "--build-constraints", "requirements/build.txt", "--require-hashes",
                    "--out-dir", str(out), "."], cwd=source, check=True, timeout=120)
    (wheel,) = out.glob("*.whl")
    return wheel.name


@pytest.mark.parametrize("source", ["git checkout", "git archive"])
def test_the_version_is_the_release_tag_not_the_major_tag(tmp_path: Path, source: str) -> None:
    """hatch-vcs (hash-locked in build.txt) reads `v1.2.3`, not the moving `v1` on the same
    commit: from a checkout, and from a tarball as GitHub packs the action for a runner
    (no .git; `export-subst` fills in .git_archival.txt)."""
    checkout = copy_checkout(tmp_path)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "release"],
                 ["tag", "v1.2.3"], ["tag", "v1"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                        "-c", "commit.gpgsign=false", *args], cwd=checkout, check=True,
                       capture_output=True)
    if source == "git archive":
        tarball = subprocess.run(["git", "archive", "HEAD"], cwd=checkout, check=True,
                                 capture_output=True).stdout
        checkout = tmp_path / "unpacked"
        checkout.mkdir()
        subprocess.run(["tar", "-x"], input=tarball, cwd=checkout, check=True)
        assert not (checkout / ".git").exists()

    assert built_wheel(checkout, tmp_path / "dist") == "modelrail-1.2.3-py3-none-any.whl"


@pytest.mark.parametrize("lock", ["core.txt", "uv.txt", "build.txt"])
def test_a_tampered_hash_stops_the_install(tmp_path: Path, lock: str) -> None:
    """A lock whose hashes no longer match its package's files stops the script, naming the
    package, before modelrail is on PATH."""
    checkout = copy_checkout(tmp_path)
    package = tamper(checkout / "requirements" / lock)

    done = run_real_install(checkout, tmp_path / "runner-temp")

    assert done.returncode != 0
    assert "hash" in done.stderr.lower(), done.stderr
    assert package in done.stderr.lower(), done.stderr
    assert f"modelrail {FALLBACK_VERSION}" not in done.stdout


def test_extras_without_a_lock_stop_before_installing(tmp_path: Path) -> None:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    env = {**os.environ, "RUNNER_TEMP": str(runner_temp),
           "MODELRAIL_PYTHON": str(make_stub(tmp_path))}

    done = subprocess.run(["bash", str(SCRIPT), "mlflow,ab"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)

    assert done.returncode == 2
    assert "extras 'mlflow,ab' have no lock (requirements/ab+mlflow.txt)" in done.stderr
    assert " mlflow,monitor " in done.stderr
    assert list(runner_temp.iterdir()) == []
