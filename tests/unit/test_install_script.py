"""scripts/install-modelrail.sh never trusts a venv it finds on the runner: a `modelrail`
planted under $RUNNER_TEMP by code that ran earlier in the job is not the one put on PATH.

A stub interpreter stands in for python3 (venv, pip and uv): the test checks the script's
choices, not pip's, and runs offline.
"""

import os
import subprocess
from pathlib import Path

from tests.support.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "install-modelrail.sh"
# `python -m venv DIR` makes DIR/bin/python (this stub again); `-m uv pip install` writes a
# `modelrail` that prints "genuine"; anything else (pip installing uv) succeeds quietly.
STUB_PYTHON = """#!/usr/bin/env bash
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$1 $2" = "-m venv" ]; then
  mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; exit 0
fi
if [ "$1 $2 $3" = "-m uv pip" ]; then
  printf '#!/usr/bin/env bash\\necho genuine\\n' > "$here/modelrail"
  chmod +x "$here/modelrail"
fi
"""
PLANTED = "#!/usr/bin/env bash\necho forged\n"


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


def install(runner_temp: Path, stub: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    github_path = runner_temp / "github_path"
    github_path.touch()
    env = {**os.environ, "RUNNER_TEMP": str(runner_temp), "MODELRAIL_PYTHON": str(stub),
           "GITHUB_PATH": str(github_path), "GITHUB_OUTPUT": str(runner_temp / "output")}
    done = subprocess.run(["bash", str(SCRIPT), "mlflow"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    return done, github_path.read_text().splitlines()


def make_stub(tmp_path: Path) -> Path:
    stub = tmp_path / "stub" / "python3"
    stub.parent.mkdir()
    stub.write_text(STUB_PYTHON)
    stub.chmod(0o755)
    return stub


def test_a_planted_venv_is_not_reused(tmp_path: Path) -> None:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    plant(runner_temp)

    done, path_entries = install(runner_temp, make_stub(tmp_path))

    assert done.returncode == 0, done.stderr
    assert "modelrail genuine" in done.stdout
    (entry,) = path_entries
    on_path = Path(entry) / "modelrail"
    assert subprocess.run([str(on_path)], capture_output=True, text=True,
                          check=True).stdout == "genuine\n"
    assert "modelrail-venv." in entry
    assert (runner_temp / "output").read_text() == "version=genuine\n"


def test_every_call_installs_into_a_new_directory(tmp_path: Path) -> None:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    stub = make_stub(tmp_path)

    install(runner_temp, stub)
    done, path_entries = install(runner_temp, stub)

    assert done.returncode == 0, done.stderr
    first, second = path_entries
    assert first != second
    assert Path(first).parent.parent == runner_temp
