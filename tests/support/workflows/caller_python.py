"""A caller's Python that cannot host modelrail, for the e2e proof that modelrail brings
its own: what a model on Python 3.10 is to modelrail (requires-python >= 3.11).

This machine has only CPython 3.11 (and GitHub, where other builds come from, is out of
reach), so a real 3.10 job cannot run here. Instead the job's python is the prepared venv
behind wrappers: the model's steps run as usual (pip install -r, pytest, dvc, the log
command), but a call that would make modelrail's venv from it or run modelrail in it
fails loudly. Every call is written to `calls.log` beside it, refusals marked.
"""

from pathlib import Path

REFUSED = "REFUSED"
# `-m venv`: the old install script made modelrail's venv from the job's python3.
WRAPPER = """#!/usr/bin/env bash
case " $* " in
  *" -m venv "*|*" -m modelrail "*|*" -m uv "*)
    echo "{refused} $0 $*" >> '{log}'
    echo "::error::the caller's python ($0) was asked to host modelrail: $*" >&2
    exit 97 ;;
esac
echo "$0 $*" >> '{log}'
exec '{real}' "$@"
"""


def caller_python(destination: Path, python_env: Path) -> Path:
    """A venv-like folder for the setup-python stand-in (MODELRAIL_LOCAL_PYTHON_ENV): its
    python* are the wrappers around `python_env`'s, every other command links to its."""
    bin_dir = destination / "bin"
    bin_dir.mkdir(parents=True)
    log = destination / "calls.log"
    log.touch()
    for entry in sorted((python_env / "bin").iterdir()):
        target = bin_dir / entry.name
        if entry.name.startswith("python"):
            target.write_text(WRAPPER.format(refused=REFUSED, log=log, real=entry))
            target.chmod(0o755)
        else:
            target.symlink_to(entry)
    return destination


def calls(destination: Path) -> list[str]:
    """The calls the wrappers saw, in order."""
    return (destination / "calls.log").read_text().splitlines()
