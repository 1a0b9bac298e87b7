"""Reading the files users hand to modelrail, with errors that name the file.

Every read is bounded: a file over its kind's size limit is refused before it is read,
saying how big it is and what the limit is, so a hostile or mistaken file (a pull
request's metrics, `/dev/zero`) cannot exhaust memory. YAML and JSON are parsed by the
strict loader (plumbing.strict_data): no repeated keys, bounded aliases and nesting.
"""

import os
from pathlib import Path

from modelrail.errors import UsageError
from modelrail.plumbing.strict_data import load_json_strict, load_yaml_strict

MB = 1_000_000
DEFAULT_LIMIT = 10 * MB
"""Metrics, statistics, reports, params, dvc.lock: far below this in practice."""
POLICY_LIMIT = 1 * MB
"""modelrail.yaml: a few kilobytes in practice."""


def is_file(path: Path) -> bool:
    """`path.is_file()`, but False for a name the system refuses (too long, say) where
    pathlib would raise OSError: such a file cannot exist."""
    try:
        return path.is_file()
    except OSError:
        return False


def is_dir(path: Path) -> bool:
    """`path.is_dir()`, False where pathlib would raise OSError (see `is_file`)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def read_text(path: Path, what: str, label: str | None = None, hint: str = "",
              limit: int = DEFAULT_LIMIT) -> str:
    """The UTF-8 text of `path`, at most `limit` bytes; a UsageError naming `label`
    (default: the path) if it is missing, unreadable, not UTF-8 or too big."""
    name = label or str(path)
    try:
        with path.open(encoding="utf-8") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise _too_big(name, limit, what, size)
            text = handle.read(limit + 1)  # a pipe or device reports no size
    except FileNotFoundError:
        suffix = f" ({hint})" if hint else ""
        raise UsageError(f"{name}: {what} not found{suffix}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{name}: {what} is not UTF-8 text") from None
    except OSError as error:
        raise UsageError(f"{name}: cannot read {what}: {error.strerror}") from None
    if len(text) > limit:
        raise _too_big(name, limit, what)
    return text


def _too_big(name: str, limit: int, what: str, size: int | None = None) -> UsageError:
    measured = f"{size / MB:.1f} MB is larger" if size is not None else "larger"
    return UsageError(f"{name}: {measured} than the {limit / MB:g} MB limit for a {what}")


def read_json(path: Path, what: str, label: str | None = None,
              limit: int = DEFAULT_LIMIT) -> object:
    """Parsed JSON of `path` (strictly); a UsageError naming `label` when it is missing,
    too big or invalid."""
    return load_json_strict(read_text(path, what, label, limit=limit), label or path)


def read_yaml(path: Path, what: str, label: str | None = None, hint: str = "",
              limit: int = DEFAULT_LIMIT) -> object:
    """Parsed YAML of `path` (strictly); a UsageError naming `label` when it is missing,
    too big or invalid."""
    return load_yaml_strict(read_text(path, what, label, hint, limit), label or path)
