"""Writes the hash-locked requirement files under requirements/ from pyproject.toml.

Every action installs modelrail with scripts/install-modelrail.sh, which installs one of
these locks with `--require-hashes` and then modelrail itself with `--no-deps`: no package
is resolved afresh in a job and none is installed unless its hash matches. One lock per
set of extras an action asks for (LOCKS), plus uv itself (pinned in the dev extra, the one
place that names its version) and the build backend, hatchling with hatch-vcs (the version
from the release tag), checked while modelrail builds.

    make locks        # or: python scripts/lock_requirements.py   (needs PyPI)
    python scripts/lock_requirements.py --check   # offline: exit 1 naming each stale lock

Each lock's header records a fingerprint of the pyproject lists it was compiled from;
tests/unit/test_locks.py fails when pyproject changes and the locks were not rewritten.
"""

import hashlib
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCK_DIR = REPO_ROOT / "requirements"
# The extras the actions pass to install-modelrail.sh (actions/*/action.yml), and each
# feature extra alone for the root action, and with the engine extras it can run on
# (`postgres`, its old name `ab-postgres`, `spark`); other sets have no lock and stop
# the install (exit 2).
LOCKS: tuple[tuple[str, ...], ...] = (
    (), ("mlflow",), ("kubernetes",), ("kubernetes", "mlflow"), ("monitor",),
    ("mlflow", "monitor"), ("ab",), ("ab", "ab-postgres"), ("ab", "postgres"),
    ("ab", "spark"), ("monitor", "postgres"), ("monitor", "spark"),
    ("mlflow", "monitor", "postgres"), ("mlflow", "monitor", "spark"),
)
PYTHON_VERSION = "3.11"  # pyproject's requires-python floor; --universal covers the rest
FINGERPRINT_PREFIX = "# pyproject-fingerprint: "
REGENERATE = "make locks"


def lock_name(extras: Sequence[str]) -> str:
    """`mlflow,kubernetes` -> `kubernetes+mlflow`; no extras -> `core` (install-modelrail.sh
    derives the same name)."""
    return "+".join(sorted(extras)) or "core"


def lock_path(name: str) -> Path:
    return LOCK_DIR / f"{name}.txt"


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def inputs(project_file: dict[str, Any], name: str) -> list[str]:
    """The requirement lines the lock called `name` is compiled from."""
    project = project_file["project"]
    if name == "uv":
        return [pin for pin in project["optional-dependencies"]["dev"] if pin.startswith("uv==")]
    if name == "build":
        return list(project_file["build-system"]["requires"])
    extras = [] if name == "core" else name.split("+")
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    return wanted


def fingerprint(requirements: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(sorted(requirements)).encode()).hexdigest()


def all_lock_names() -> list[str]:
    return [lock_name(extras) for extras in LOCKS] + ["uv", "build"]


def compile_lock(name: str, requirements: Sequence[str]) -> None:
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / f"{name}.in"
        source.write_text("\n".join(requirements) + "\n")
        compiled = subprocess.run(
            [sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--generate-hashes",
             "--universal", "--python-version", PYTHON_VERSION, "--no-header",
             "--no-annotate", str(source)],
            check=True, capture_output=True, text=True).stdout
    header = (f"# Hash-locked install of modelrail's `{name}` requirements, written by\n"
              "# scripts/lock_requirements.py from pyproject.toml: regenerate with\n"
              f"# `{REGENERATE}`.\n"
              f"{FINGERPRINT_PREFIX}{fingerprint(requirements)}\n")
    lock_path(name).write_text(header + compiled)


def pins(requirements: Sequence[str]) -> set[str]:
    """`psycopg[binary]==3.3.9` -> `psycopg==3.3.9`, names normalised as the locks write them."""
    normalised = set()
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        bare = re.sub(r"[-_.]+", "-", name.split("[")[0].strip()).lower()
        normalised.add(f"{bare}=={version.strip()}")
    return normalised


def stale(project_file: dict[str, Any], lock_dir: Path = LOCK_DIR) -> list[str]:
    """Why each lock no longer matches pyproject: missing, compiled from other lists, or a
    direct pin that the lock does not hold."""
    problems = []
    for name in all_lock_names():
        path = lock_dir / f"{name}.txt"
        if not path.is_file():
            problems.append(f"{name}: {path.name} is missing")
            continue
        requirements = inputs(project_file, name)
        text = path.read_text()
        if f"{FINGERPRINT_PREFIX}{fingerprint(requirements)}\n" not in text:
            problems.append(f"{name}: compiled from other pyproject lists than today's")
        locked = {line.split()[0].lower() for line in text.splitlines()
                  if line and not line.startswith(("#", " "))}
        problems += [f"{name}: {pin} is not in {path.name}"
                     for pin in sorted(pins(requirements) - locked)]
    return problems


def check() -> int:
    problems = stale(pyproject())
    for problem in problems:
        print(f"stale lock {problem}; regenerate with `{REGENERATE}`", file=sys.stderr)
    return 1 if problems else 0


def main() -> None:
    if sys.argv[1:] == ["--check"]:
        sys.exit(check())
    LOCK_DIR.mkdir(exist_ok=True)
    project_file = pyproject()
    for name in all_lock_names():
        compile_lock(name, inputs(project_file, name))
        print(f"wrote {lock_path(name).relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
