"""Step outputs on GitLab: KEY=value lines of a dotenv report artifact.

The file is the one the job names in `MODELRAIL_DOTENV` and declares under
`artifacts: reports: dotenv:`; later jobs (`needs:`) then see each line as a variable.
GitLab's parser (app/services/ci/parse_dotenv_artifact_service.rb, and "Pass an environment
variable to another job" in its docs) is stricter than the dotenv format it is named after:

- a key is ASCII letters, digits and `_` only; an output `exit-code` is written as
  `MODELRAIL_OUT_EXIT_CODE` (the prefix keeps outputs apart from modelrail's own settings);
- a value is one line: no multi-line values, no quoting or escapes (quotes are kept as
  written), leading and trailing blanks are stripped, no empty lines or comments;
- the whole file is at most 5 KB and holds at most 20 variables (the instance limits
  `dotenv_size` and `dotenv_variables` at their defaults); past either, GitLab rejects the
  whole report and the job's outputs are lost.

A value GitLab could not carry unchanged is therefore left out (the `--json` document has
it) and the caller hears why; the file is never made unreadable for the others.
"""

import os
import re
from pathlib import Path

DOTENV_ENV = "MODELRAIL_DOTENV"
KEY_PREFIX = "MODELRAIL_OUT_"
MAX_BYTES = 5 * 1024
MAX_VARIABLES = 20
_ENCODING_ERRORS = "backslashreplace"  # as runner.py: a lone surrogate is escaped


def dotenv_key(name: str) -> str:
    """`exit-code` -> `MODELRAIL_OUT_EXIT_CODE`; anything but ASCII alphanumerics is `_`."""
    return KEY_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def dotenv_line(name: str, value: str) -> str:
    return f"{dotenv_key(name)}={value}\n"


def why_not_carried(existing: str, name: str, value: str) -> str | None:
    """Why GitLab could not hand `value` on unchanged after `existing`; None when it can."""
    if "\n" in value or "\r" in value:
        return "a multi-line value (GitLab's dotenv has no multi-line values)"
    if value != value.strip():
        return "leading or trailing blanks (GitLab's dotenv strips them)"
    line = dotenv_line(name, value)
    size = len((existing + line).encode("utf-8", _ENCODING_ERRORS))
    if size > MAX_BYTES:
        return f"the report would reach {size} bytes (GitLab's dotenv limit is {MAX_BYTES})"
    keys = {entry.partition("=")[0] for entry in existing.splitlines()}
    if dotenv_key(name) not in keys and len(keys) >= MAX_VARIABLES:
        return f"the report holds {MAX_VARIABLES} variables already (GitLab's limit)"
    return None


def write_output(name: str, value: str) -> str | None:
    """Append `name=value` to $MODELRAIL_DOTENV; returns why it was left out, or None.

    Without MODELRAIL_DOTENV (a job that hands nothing on) nothing is written.
    """
    path = os.environ.get(DOTENV_ENV)
    if not path:
        return None
    target = Path(path)
    existing = target.read_text(encoding="utf-8") if target.exists() else ""
    reason = why_not_carried(existing, name, value)
    if reason is None:
        with target.open("a", encoding="utf-8", errors=_ENCODING_ERRORS) as handle:
            handle.write(dotenv_line(name, value))
    return reason
