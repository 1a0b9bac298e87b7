"""Reading the files users hand to modelrail, with errors that name the file."""

import json
from pathlib import Path

from modelrail.errors import UsageError


def read_text(path: Path, what: str, label: str | None = None, hint: str = "") -> str:
    """The UTF-8 text of `path`; a UsageError naming `label` (default: the path) if not."""
    name = label or str(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        suffix = f" ({hint})" if hint else ""
        raise UsageError(f"{name}: {what} not found{suffix}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{name}: {what} is not UTF-8 text") from None
    except OSError as error:
        raise UsageError(f"{name}: cannot read {what}: {error.strerror}") from None


def read_json(path: Path, what: str, label: str | None = None) -> object:
    """Parsed JSON of `path`; a UsageError naming `label` when it is missing or invalid."""
    text = read_text(path, what, label)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{label or path}: {what} is not readable JSON: {error}") from None
