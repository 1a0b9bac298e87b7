"""Collapsible sections of a GitLab job log ("Custom collapsible sections" in GitLab's docs).

A section opens with `ESC[0Ksection_start:<unix time>:<name>[collapsed=true]\rESC[0K<header>`
and closes with `ESC[0Ksection_end:<unix time>:<name>\rESC[0K`; the name is letters,
digits, `_`, `.` and `-` (anything else is replaced here), and the log shows the header and
the time between the two lines. Off GitLab nothing is added to the output.
"""

import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from modelrail.plumbing.ci_platform import current_platform

_ERASE = "\x1b[0K"


def section_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text) or "modelrail"


def section_start(name: str, header: str, collapsed: bool = False, now: int | None = None) -> str:
    options = "[collapsed=true]" if collapsed else ""
    stamp = int(time.time()) if now is None else now
    # The header is one log line: a line break in data would end the marker early.
    header_line = " ".join(header.splitlines())
    return f"{_ERASE}section_start:{stamp}:{section_name(name)}{options}\r{_ERASE}{header_line}"


def section_end(name: str, now: int | None = None) -> str:
    stamp = int(time.time()) if now is None else now
    return f"{_ERASE}section_end:{stamp}:{section_name(name)}\r{_ERASE}"


@contextmanager
def log_section(name: str, header: str, collapsed: bool = False) -> Iterator[None]:
    """Everything printed inside is one section of the GitLab job log."""
    on_gitlab = current_platform() == "gitlab"
    if on_gitlab:
        print(section_start(name, header, collapsed), flush=True)
    try:
        yield
    finally:
        sys.stderr.flush()
        if on_gitlab:
            print(section_end(name), flush=True)
